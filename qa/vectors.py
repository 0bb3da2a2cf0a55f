"""The FAISS vector index: a derived, rebuildable copy of the embeddings in SQLite.

Vector ids encode the passage and the window: ``passage_id * WINDOWS + window``, so a
long paragraph can contribute several windows while every hit still maps back to one
citable passage. Files are written whole (temp file, fsync, rename) and named by
generation, so a reader sees the old index or the new one, never half of each.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import IndexDamagedError

log = logging.getLogger(__name__)

WINDOWS = 16  # max embedded windows per passage; ids reserve this many slots


def vector_id(passage_id: int, window: int) -> int:
    return passage_id * WINDOWS + min(window, WINDOWS - 1)


def passage_of(vector_ids: np.ndarray) -> np.ndarray:
    return vector_ids // WINDOWS


def new_index(dim: int) -> Any:
    import faiss

    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def add(index: Any, ids: np.ndarray, vectors: np.ndarray) -> None:
    if len(ids):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))


def remove(index: Any, ids: np.ndarray) -> None:
    import faiss

    if len(ids):
        index.remove_ids(faiss.IDSelectorBatch(ids.astype(np.int64)))


def write_atomic(index: Any, path: Path) -> None:
    """Serialise to a temp file in the same folder, fsync, then rename over ``path``."""
    import faiss

    data = faiss.serialize_index(index)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read(path: Path, dim: int) -> Any:
    """Load a vector file, checking it is whole and of the expected dimension."""
    import faiss

    try:
        data = np.fromfile(path, dtype=np.uint8)
        index = faiss.deserialize_index(data)
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise IndexDamagedError(
            f"{path}: vector file is damaged ({str(exc).splitlines()[0][:120]}); "
            "rebuild with `qa index --rebuild`"
        ) from exc
    if index.d != dim:
        raise IndexDamagedError(
            f"{path}: vectors have dimension {index.d}, the manifest says {dim}; "
            "rebuild with `qa index --rebuild`"
        )
    return index


def search(
    index: Any, query: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k ``(scores, vector ids)`` for one query, restricted to ``allowed`` ids if given.

    The restriction happens inside FAISS (an id selector), so a filtered search still
    returns k results when k matching vectors exist.
    """
    import faiss

    k = max(1, min(k, index.ntotal))
    q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
    if allowed is None:
        scores, ids = index.search(q, k)
    else:
        if len(allowed) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        selector = faiss.IDSelectorBatch(allowed.astype(np.int64))
        scores, ids = index.search(q, k, params=faiss.SearchParameters(sel=selector))
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]


def all_window_ids(passage_ids: np.ndarray) -> np.ndarray:
    """Every vector id a set of passages may own (for filtered search)."""
    base = passage_ids.astype(np.int64)[:, None] * WINDOWS
    return (base + np.arange(WINDOWS, dtype=np.int64)[None, :]).ravel()


def stored_ids(index: Any) -> np.ndarray:
    """All vector ids in an ``IndexIDMap2``."""
    import faiss

    return faiss.vector_to_array(index.id_map).astype(np.int64)
