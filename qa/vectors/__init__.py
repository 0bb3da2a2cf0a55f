"""The vector files: derived, rebuildable copies of the embeddings in SQLite.

``base`` holds the id rules and the small ``VectorIndex`` interface (add, remove, search,
save, open); ``flat`` the exact index every generation writes, ``vectors-NNNNNN.faiss``;
``basefile`` reads and writes the base file a block at a time; ``ivf`` its approximate
sidecar at scale, written streamed by ``sidecar``; ``segments`` the base file plus the small
delta files commits add beside it; ``generation`` the one rule that decides whether the
committed files can be trusted. Files are written whole (``qa.fsutil``) and
named by generation, so a reader sees the old index or the new one, never half of each.
FAISS is imported only where it is used.
"""

from __future__ import annotations

from qa.vectors.base import WINDOWS, VectorIndex, all_window_ids, passage_of, vector_id
from qa.vectors.flat import FlatIndex
from qa.vectors.generation import (
    VectorFileDamaged,
    as_committed,
    check_against_cache,
    committed_path,
    open_checked,
    open_committed,
    open_for_search,
    open_segments,
    open_verified,
    referenced,
)
from qa.vectors.ivf import IVFIndex
from qa.vectors.segments import SegmentedIndex, Segments, should_compact
from qa.vectors.sidecar import write_ann

__all__ = [
    "WINDOWS",
    "FlatIndex",
    "IVFIndex",
    "SegmentedIndex",
    "Segments",
    "VectorFileDamaged",
    "VectorIndex",
    "all_window_ids",
    "as_committed",
    "check_against_cache",
    "committed_path",
    "open_checked",
    "open_committed",
    "open_for_search",
    "open_segments",
    "open_verified",
    "passage_of",
    "referenced",
    "should_compact",
    "vector_id",
    "write_ann",
]
