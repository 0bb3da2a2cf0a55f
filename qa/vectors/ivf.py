"""Approximate search at scale: the IVF *sidecar* of a vector file.

Exact search reads every vector per query: fine up to a few hundred thousand, 100+ ms at
a million on a laptop core. Above ANN_MIN_VECTORS the indexer also writes a sidecar next
to the flat file, ``vectors-NNNNNN.faiss.ivf``: an inverted-file index (IVF, float16
codes, the same vector ids) that searches ANN_NPROBE of its lists. The flat file stays the
source of truth (checked, repaired, rebuilt as before); the sidecar is derived from it
(written streamed by ``qa.vectors.sidecar``, reusing the previous generation's routing),
read with its lists mapped, and a reader that finds it missing,
damaged or of another count falls back to the flat file. Sizes, recall and the choice of
IVF over HNSW (which cannot delete) are measured in docs/benchmarks.md.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from qa.vectors.base import VectorIndex

log = logging.getLogger(__name__)

ANN_MIN_VECTORS = 100_000
ANN_NPROBE = 32
ANN_SUFFIX = ".ivf"


def ann_path(path: Path) -> Path:
    """The approximate sidecar of a vector file."""
    return path.with_name(path.name + ANN_SUFFIX)


def ann_lists(count: int) -> int:
    """IVF list count for ``count`` vectors: about 2·sqrt(n), a power of two, >= 256.

    (Training cost grows with the square of the list count; 2·sqrt(n) keeps it near a
    minute at a million vectors on two cores, and 32 probes still find the top 10.)"""
    return int(2 ** round(math.log2(max(256.0, 2 * math.sqrt(max(count, 1))))))


class IVFIndex(VectorIndex):
    """An IVF (float16) index over the vectors of a base file, searching ANN_NPROBE lists."""

    approximate = True

    @classmethod
    def open(cls, path: Path) -> IVFIndex:
        """Read the index with its lists mapped, not loaded: a search reads the lists it
        probes (the page cache's memory, not the process's), so ``qa ask`` over the
        release's 3 GB of codes stays small."""
        import faiss

        return cls(faiss.read_index(str(path), faiss.IO_FLAG_MMAP))

    def ids(self) -> np.ndarray:
        import faiss

        lists = self.native.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
            for i in range(self.native.nlist)
            if lists.list_size(i)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def _search_params(self, selector: Any | None, *, restricts: bool = True) -> Any | None:
        """ANN_NPROBE lists, or all of them when filtered (a filter can leave few candidates
        in the probed lists; scanning every list with the id selector is exact over the
        allowed vectors and still cheap). A selector that only skips removed passages
        (``restricts`` False) leaves nearly every candidate: the usual lists."""
        import faiss

        nlist = faiss.extract_index_ivf(self.native).nlist
        params: Any = faiss.SearchParametersIVF()
        full = selector is not None and restricts
        params.nprobe = nlist if full else min(ANN_NPROBE, nlist)
        if selector is not None:
            params.sel = selector
        return params


def trusted_sidecar(
    side: Path,
    dim: int,
    count: int | None,
    ann_bytes: int | None,
    samples: list[tuple[int, np.ndarray]],
) -> IVFIndex | None:
    """The sidecar at ``side`` if it can be trusted for search, else None (search exactly).

    The sidecar is derived data, so any doubt means exact search, never wrong answers. It
    is used only when it is an inner-product IVF index of the manifest's dimension and
    vector count (a crash between the two files leaves another count), of the size the
    manifest recorded (``ann_bytes``), and when every ``(vector id, cached embedding)`` in
    ``samples`` finds itself among its nearest neighbours: a whole, well-formed file
    copied from another index or model fails that.
    """
    import faiss

    try:
        size = side.stat().st_size
    except OSError:
        return None
    if ann_bytes is not None and size != ann_bytes:
        log.warning("%s has %d bytes, not %d; searching exactly", side, size, ann_bytes)
        return None
    try:
        ann = IVFIndex.open(side)
    except Exception as exc:
        log.warning("%s unreadable (%s); searching exactly", side, exc)
        return None
    ivf = faiss.try_extract_index_ivf(ann.native)
    if ivf is None or ann.native.metric_type != faiss.METRIC_INNER_PRODUCT or ann.dim != dim:
        log.warning("%s is not an approximate index of this one; searching exactly", side)
        return None
    if count is not None and ann.count != count:
        log.warning("%s holds %d vectors, not %d; searching exactly", side, ann.count, count)
        return None
    if samples and not _finds_itself(ann, samples):
        log.warning("%s holds other vectors than the index; searching exactly", side)
        return None
    return ann


def _finds_itself(ann: IVFIndex, samples: list[tuple[int, np.ndarray]], k: int = 64) -> bool:
    """Each sample vector's own id is among its k nearest, at cosine ~1 (float16 codes).

    k is generous so that a passage with many exact duplicates still finds itself."""
    for vid, vec in samples:
        scores, ids = ann.search(vec, k)
        if not len(ids) or scores[0] < 0.99 or vid not in ids.tolist():
            return False
    return True
