"""A generation's vectors as segments: the base file, the deltas since, the removed passages.

Rewriting the whole vector file at every commit makes a commit cost the index's size, not
its own: at the release's ~3.9M windows each part of a first build and each one-cable
change would write 3 GB. So a commit usually writes a *delta*, ``vectors-NNNNNN.delta.faiss``,
holding only its new vectors, and lists the passages it drops in SQLite
(``store.removals``), both in the commit's transaction; readers search the base (or its
approximate sidecar) and every delta, skipping the removed passages' vectors, and merge
by score. ``should_compact`` decides when a commit rewrites the base instead, folding the
deltas in and emptying the removed list: the amortised cost of a build stays
proportional to what it adds (each vector is rewritten O(log n) times), and searches
never scan many deltas or many dead vectors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from qa.vectors.base import VectorIndex, all_window_ids, passage_of
from qa.vectors.basefile import BaseFile
from qa.vectors.flat import FlatIndex

COMPACT_DELTAS = 8  # at most this many delta files; the next commit rewrites the base
# The base is rewritten once the passages removed since reach this share of its vectors
# (the dead vectors every search skips over).
COMPACT_REMOVED_SHARE = 0.10
# A run's last commit folds the deltas in once they hold more vectors than this: they are
# searched exactly, ~8 ms per 50k float16 vectors on one core, and have no sidecar.
DELTA_SEARCH_MAX = 50_000


def should_compact(
    *,
    base: int,
    deltas: Sequence[int],
    adding: int,
    removed: int,
    final: bool,
    sidecar_due: bool = False,
) -> bool:
    """Whether a commit rewrites the base file rather than writing a delta.

    ``base``: vectors in the base file; ``deltas``: vectors in each delta file; ``adding``:
    the commit's new vectors; ``removed``: passages removed since the base after this
    commit; ``final``: the run's last commit; ``sidecar_due``: the base is big enough for
    an approximate sidecar and has none (parts never write one).

    Geometric: the base is rewritten when the deltas would hold as many vectors as it
    does, so a first build rewrites each vector about log2(parts) times, not once per
    part; small changes to a big index never rewrite it.
    """
    pending = sum(deltas) + adding
    if base == 0 or len(deltas) + 1 > COMPACT_DELTAS or pending >= base:
        return True
    if removed >= COMPACT_REMOVED_SHARE * base:
        return True
    return final and (pending > DELTA_SEARCH_MAX or sidecar_due)


class SegmentedIndex(VectorIndex):
    """The base index (exact or approximate) plus the exact delta indexes, searched as one,
    without the vectors of ``removed`` passages.

    ``count`` is approximate when passages were removed (each removed passage counts as
    one vector; it may have had several windows): it only feeds the fusion prior.
    """

    def __init__(self, base: VectorIndex, deltas: Sequence[FlatIndex], removed: np.ndarray) -> None:
        super().__init__(base.native)
        self.base = base
        self.deltas = list(deltas)
        self.removed = np.asarray(removed, dtype=np.int64)  # passage ids, ascending
        self._excluded = np.sort(all_window_ids(self.removed))

    @property
    def approximate(self) -> bool:  # type: ignore[override]
        return self.base.approximate

    @property
    def count(self) -> int:
        held = self.base.count + sum(delta.count for delta in self.deltas)
        return max(0, held - len(self.removed))

    @classmethod
    def open(cls, path: Any) -> SegmentedIndex:
        raise TypeError("segments are opened by qa.vectors.generation, not from one file")

    def ids(self) -> np.ndarray:
        """Every live vector id: the base's and the deltas', less the removed passages'."""
        held = np.concatenate([self.base.ids(), *(delta.ids() for delta in self.deltas)])
        return held[~np.isin(held, self._excluded)]

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        *,
        excluded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k over every segment: each searched for k (filtered, or skipping the removed
        vectors inside FAISS), the union cut to the k best scores."""
        skipped = self._excluded if excluded is None else np.union1d(self._excluded, excluded)
        if allowed is not None:
            allowed = np.setdiff1d(allowed, skipped)
        excluded = skipped if allowed is None and len(skipped) else None
        scores, ids = [], []
        for segment in [self.base, *self.deltas]:
            if segment.count == 0:
                continue
            found_scores, found_ids = segment.search(query, k, allowed, excluded=excluded)
            scores.append(found_scores)
            ids.append(found_ids)
        if not scores:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        all_scores, all_ids = np.concatenate(scores), np.concatenate(ids)
        best = np.argsort(-all_scores, kind="stable")[:k]
        return all_scores[best], all_ids[best]

    def _search_params(self, selector: Any | None, *, restricts: bool = True) -> Any | None:
        return None


class Segments:
    """The committed vectors as a build and ``qa index --check`` read them: the base file
    (a ``BaseFile``, read a block at a time, or a ``FlatIndex`` of the previous layout),
    the deltas, and the passages removed since the base. Never loaded whole: a compaction
    streams ``live_blocks`` into the new base."""

    def __init__(
        self, base: BaseFile | FlatIndex, deltas: Sequence[FlatIndex], removed: np.ndarray
    ) -> None:
        self.base = base
        self.deltas = list(deltas)
        self.removed = np.asarray(removed, dtype=np.int64)  # passage ids, ascending

    @property
    def dim(self) -> int:
        return self.base.dim

    @property
    def layout(self) -> str:
        """The base file's layout (``FlatIndex.layout``)."""
        return self.base.layout

    def ids(self) -> np.ndarray:
        """Every live vector id: the base's and the deltas', less the removed passages'."""
        held = np.concatenate([self.base.ids(), *(delta.ids() for delta in self.deltas)])
        return held[~np.isin(passage_of(held), self.removed)]

    def vector(self, vector_id: int) -> np.ndarray | None:
        """The stored vector of one live id (decoded), or None: removed, or not held."""
        if np.isin(passage_of(np.array([vector_id])), self.removed)[0]:
            return None
        for delta in reversed(self.deltas):
            found = delta.vector(vector_id)
            if found is not None:
                return found
        return self.base.vector(vector_id)

    def live_blocks(self, dropped: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(vector ids, stored values)`` blocks of every vector that is neither of a
        removed passage nor of a ``dropped`` one: the base's in storage order, then each
        delta's. Values are float16 codes (float32 for a base of the previous layout)."""
        gone = np.union1d(self.removed, np.asarray(dropped, dtype=np.int64))
        for segment in [self.base, *self.deltas]:
            ids, start = segment.ids(), 0
            for block in segment.code_blocks():
                block_ids = ids[start : start + len(block)]
                keep = ~np.isin(passage_of(block_ids), gone)
                start += len(block)
                if np.any(keep):
                    yield block_ids[keep], block[keep]
