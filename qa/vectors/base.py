"""What search and indexing need of a vector index, whatever kind of FAISS index it is.

Vector ids encode the passage and the window: ``passage_id * WINDOWS + window``, so a
long paragraph can contribute several windows while every hit still maps back to one
citable passage (FAISS ids are SQLite passage keys, as in an ``IndexIDMap2``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from qa.fsutil import write_atomic

WINDOWS = 16  # max embedded windows per passage; ids reserve this many slots


def vector_id(passage_id: int, window: int) -> int:
    """The vector id of a passage's ``window``-th embedded view."""
    return passage_id * WINDOWS + min(window, WINDOWS - 1)


def passage_of(vector_ids: np.ndarray) -> np.ndarray:
    """The passage ids the given vector ids belong to."""
    return vector_ids // WINDOWS


def all_window_ids(passage_ids: np.ndarray) -> np.ndarray:
    """Every vector id a set of passages may own (for filtered search)."""
    base = passage_ids.astype(np.int64)[:, None] * WINDOWS
    return (base + np.arange(WINDOWS, dtype=np.int64)[None, :]).ravel()


class VectorIndex(ABC):
    """A FAISS index of unit vectors under vector ids, searched by inner product.

    ``native`` is the FAISS object; FAISS itself is imported only by the methods that
    need it, so importing this package stays cheap (``qa --help``, the UI's first paint).
    """

    approximate: ClassVar[bool] = False  # True when search may miss a near neighbour

    def __init__(self, native: Any) -> None:
        self.native = native

    @property
    def count(self) -> int:
        return int(self.native.ntotal)

    @property
    def dim(self) -> int:
        return int(self.native.d)

    @classmethod
    @abstractmethod
    def open(cls, path: Path) -> VectorIndex:
        """Read a vector file as it is (``qa.vectors.generation`` decides whether to trust it)."""

    @abstractmethod
    def ids(self) -> np.ndarray:
        """Every vector id held, as int64."""

    @abstractmethod
    def _search_params(self, selector: Any | None, *, restricts: bool = True) -> Any | None:
        """FAISS search parameters for this kind of index (None: the defaults).
        ``restricts``: the selector keeps a few ids (a filter), rather than skipping a
        few (removed passages)."""

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            self.native.add_with_ids(vectors, ids.astype(np.int64))

    def remove(self, ids: np.ndarray) -> None:
        import faiss

        if len(ids):
            self.native.remove_ids(faiss.IDSelectorBatch(ids.astype(np.int64)))

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        *,
        excluded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k ``(scores, vector ids)`` for one query, restricted to ``allowed`` ids if
        given, else without the ``excluded`` ids (vectors of removed passages).

        The restriction happens inside FAISS (an id selector), so a filtered search still
        returns k results when k matching vectors exist.
        """
        import faiss

        k = max(1, min(k, self.count))
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if allowed is not None and len(allowed) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        # One query gains nothing from OpenMP threads (FAISS parallelises over queries), and
        # their barriers cost 10-30x on a busy machine (docs/benchmarks.md). Per-thread setting.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            selector: Any = None
            skipped: Any = None
            if allowed is not None:
                selector = faiss.IDSelectorBatch(allowed.astype(np.int64))
            elif excluded is not None and len(excluded):
                skipped = faiss.IDSelectorBatch(excluded.astype(np.int64))
                selector = faiss.IDSelectorNot(skipped)  # ``skipped`` must outlive it
            params = self._search_params(selector, restricts=allowed is not None)
            if params is None:
                scores, ids = self.native.search(q, k)
            else:
                scores, ids = self.native.search(q, k, params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def save(self, path: Path, *, before_replace: Callable[[], None] | None = None) -> int:
        """Write the index whole to ``path`` (``qa.fsutil.write_atomic``); returns its size.

        The manifest records the size, so a truncated file is noticed without reading it.
        """
        import faiss

        return write_atomic(
            path,
            lambda tmp: faiss.write_index(self.native, str(tmp)),
            before_replace=before_replace,
        )
