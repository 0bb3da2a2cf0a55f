"""The FAISS vector index: a derived, rebuildable copy of the embeddings in SQLite.

Vector ids encode the passage and the window: ``passage_id * WINDOWS + window``, so a
long paragraph can contribute several windows while every hit still maps back to one
citable passage. Files are written whole (temp file, fsync, rename) and named by
generation, so a reader sees the old index or the new one, never half of each.
"""

from __future__ import annotations

import errno
import logging
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import IndexDamagedError

log = logging.getLogger(__name__)

WINDOWS = 16  # max embedded windows per passage; ids reserve this many slots
NORM_TOLERANCE = 1e-3  # stored vectors are unit length; anything else is damage


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


def write_atomic(index: Any, path: Path, *, before_rename: Callable[[], None] | None = None) -> int:
    """Serialise to a temp file in the same folder, fsync, then rename over ``path``.

    Returns the file's size in bytes (the manifest records it, so a truncated file is
    noticed without reading it). ``before_rename`` runs once the temp file is durable.
    """
    import faiss

    data = faiss.serialize_index(index)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        if before_rename is not None:
            before_rename()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return int(data.size)


_REPAIR = "run `qa index` to rebuild it from the embedding cache, or `qa index --rebuild`"


def read(path: Path, dim: int) -> Any:
    """Load a vector file, checking it is whole, ours, and of the expected dimension.

    Raises FileNotFoundError when it is missing and IndexDamagedError (naming the file,
    what is wrong and the fix) when it cannot be trusted.
    """
    import faiss

    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "no such vector file", str(path))
    try:
        index = faiss.read_index(str(path))  # straight from the file: no second copy
    except Exception as exc:
        log.debug("reading %s: %s", path, exc)
        raise IndexDamagedError(
            f"{path}: vector file is damaged (truncated or not a FAISS file); {_REPAIR}"
        ) from exc
    if not _is_ours(index):
        raise IndexDamagedError(
            f"{path}: not a Pilcrow vector file ({type(index).__name__}); {_REPAIR}"
        )
    if index.d != dim:
        raise IndexDamagedError(
            f"{path}: vectors have dimension {index.d}, the manifest says {dim}; "
            "rebuild with `qa index --rebuild`"
        )
    bad = _not_unit_length(index)
    if bad:
        raise IndexDamagedError(
            f"{path}: vector file is damaged ({bad} of {index.ntotal} vectors are not unit "
            f"length); {_REPAIR}"
        )
    return index


def _is_ours(index: Any) -> bool:
    """An ``IndexIDMap2`` over an inner-product flat index, as ``new_index`` makes."""
    import faiss

    if not isinstance(index, faiss.IndexIDMap2):
        return False
    inner = faiss.downcast_index(index.index)
    return isinstance(inner, faiss.IndexFlat) and inner.metric_type == faiss.METRIC_INNER_PRODUCT


def raw_vectors(index: Any) -> np.ndarray:
    """The stored vectors as an ``(ntotal, d)`` float32 view (no copy; do not keep it)."""
    import faiss

    inner: Any = faiss.downcast_index(index.index)
    flat = faiss.rev_swig_ptr(inner.get_xb(), index.ntotal * index.d)
    return np.asarray(flat).reshape(index.ntotal, index.d)


def _not_unit_length(index: Any, chunk: int = 65536) -> int:
    """How many stored vectors are not unit length (garbage bytes in the file show here).

    Every vector we store is normalised, so this catches in-place corruption of the float
    data that still deserialises; it reads the data once, in chunks, without copying it.
    """
    if index.ntotal == 0:
        return 0
    data = raw_vectors(index)
    bad = 0
    for start in range(0, len(data), chunk):
        block = data[start : start + chunk]
        with np.errstate(all="ignore"):
            norms = np.einsum("ij,ij->i", block, block, dtype=np.float64)
        bad += int(np.count_nonzero(~(np.abs(norms - 1.0) <= NORM_TOLERANCE)))
    return bad


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
    if allowed is not None and len(allowed) == 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    # One query gains nothing from OpenMP threads (FAISS parallelises over queries), and
    # their barriers cost 10-30x on a busy machine (docs/benchmarks.md). Per-thread setting.
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        if allowed is None:
            params = _ivf_params(index, None)
            scores, ids = index.search(q, k, params=params) if params else index.search(q, k)
        else:
            selector = faiss.IDSelectorBatch(allowed.astype(np.int64))
            params = _ivf_params(index, selector) or faiss.SearchParameters(sel=selector)
            scores, ids = index.search(q, k, params=params)
    finally:
        faiss.omp_set_num_threads(threads)
    keep = ids[0] >= 0
    return scores[0][keep], ids[0][keep]


def concentration(index: Any, chunk: int = 65536) -> float:
    """Squared norm of the mean stored vector: the mean cosine between two random vectors.

    Near 0 when the model spreads the corpus over many directions (web pages, encyclopedia
    entries: the model is at home and its ranking can be trusted on its own); high when
    every passage sits in one narrow cone (0.2 for the cables: one register, one topic),
    where the embeddings tell paragraphs apart poorly and exact words matter more. Fusion
    uses it as a per-index prior (``qa.retrieve.dense_prior``).
    """
    if index.ntotal == 0:
        return 0.0
    _, data = _flat_parts(index)
    total = np.zeros(index.d, dtype=np.float64)
    for start in range(0, index.ntotal, chunk):
        total += data[start : start + chunk].sum(axis=0, dtype=np.float64)
    mean = total / index.ntotal
    return float(mean @ mean)


def all_window_ids(passage_ids: np.ndarray) -> np.ndarray:
    """Every vector id a set of passages may own (for filtered search)."""
    base = passage_ids.astype(np.int64)[:, None] * WINDOWS
    return (base + np.arange(WINDOWS, dtype=np.int64)[None, :]).ravel()


def stored_ids(index: Any) -> np.ndarray:
    """All vector ids in an ``IndexIDMap2``."""
    import faiss

    return faiss.vector_to_array(index.id_map).astype(np.int64)


# -- approximate search at scale ----------------------------------------------------------
#
# Exact search reads every vector per query: fine up to a few hundred thousand, 100+ ms at
# a million on a laptop core. Above ANN_MIN_VECTORS the indexer also writes a *sidecar*
# next to the flat file, ``vectors-NNNNNN.faiss.ivf``: an inverted-file index (IVF,
# float16 codes, the same vector ids) that searches ANN_NPROBE of its lists. The flat file
# stays the source of truth (checked, repaired, rebuilt as before); the sidecar is derived
# from it, updated incrementally from the previous generation's, and a reader that finds it
# missing, damaged or of another count falls back to the flat file. Sizes, recall and the
# choice of IVF over HNSW (which cannot delete) are measured in docs/benchmarks.md.

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


def _flat_parts(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, vectors)`` of an ``IndexIDMap2`` over a flat index, without copying."""
    import faiss

    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    inner: Any = faiss.downcast_index(index.index)
    data = faiss.rev_swig_ptr(inner.get_xb(), index.ntotal * index.d)
    return ids, np.asarray(data).reshape(index.ntotal, index.d)


def ann_ids(ann: Any) -> np.ndarray:
    """Every vector id held by an IVF index."""
    import faiss

    lists = ann.invlists
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
        for i in range(ann.nlist)
        if lists.list_size(i)
    ]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def build_ann(flat: Any, previous: Any | None = None, *, chunk: int = 65536) -> Any:
    """An IVF (float16) index over the vectors of ``flat``.

    With ``previous`` (the last generation's sidecar, trained for a similar size) only the
    difference is applied: ids it holds that ``flat`` lacks are removed, new ones added.
    Otherwise the coarse quantiser is trained on a sample of up to 64 vectors per list.
    """
    import faiss

    ids, data = _flat_parts(flat)
    nlist = ann_lists(len(ids))
    reuse = (
        previous is not None
        and previous.d == flat.d
        and previous.nlist * 2 >= nlist >= previous.nlist // 2
    )
    ann: Any
    if reuse:
        ann = previous
        held = ann_ids(ann)
        gone = np.setdiff1d(held, ids, assume_unique=True)
        if len(gone):
            ann.remove_ids(faiss.IDSelectorBatch(gone))
        todo = np.flatnonzero(~np.isin(ids, held, assume_unique=True))
    else:
        ann = faiss.index_factory(flat.d, f"IVF{nlist},SQfp16", faiss.METRIC_INNER_PRODUCT)
        faiss.extract_index_ivf(ann).cp.niter = 10  # k-means converges enough for routing
        rng = np.random.default_rng(0)
        sample = np.sort(rng.choice(len(ids), min(len(ids), nlist * 64), replace=False))
        ann.train(np.ascontiguousarray(data[sample]))
        todo = np.arange(len(ids))
    for start in range(0, len(todo), chunk):
        rows = todo[start : start + chunk]
        ann.add_with_ids(np.ascontiguousarray(data[rows]), ids[rows])
    return ann


def write_ann(flat: Any, path: Path, previous: Path | None = None) -> Path | None:
    """Write (or, below ANN_MIN_VECTORS, skip) the approximate sidecar of vector file ``path``.

    Returns the sidecar's path, or None when none is needed. Written whole, like the flat
    file (temp name, fsync, rename); a failure only costs speed, never correctness.
    """
    import faiss

    if flat.ntotal < ANN_MIN_VECTORS:
        ann_path(path).unlink(missing_ok=True)  # a leftover of a killed run is not ours
        return None
    old = None
    if previous is not None and ann_path(previous).exists():
        try:
            old = faiss.read_index(str(ann_path(previous)))
        except Exception as exc:
            log.warning("%s unreadable (%s); retraining", ann_path(previous), exc)
    target = ann_path(path)
    fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        ann = build_ann(flat, old)
        faiss.write_index(ann, tmp)  # streamed to the file: no in-memory copy
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except Exception as exc:
        log.warning("approximate index not written (%s); searches stay exact", exc)
        target.unlink(missing_ok=True)
        return None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def read_for_search(
    path: Path,
    dim: int,
    count: int | None = None,
    *,
    ann_bytes: int | None = None,
    samples: list[tuple[int, np.ndarray]] | None = None,
) -> Any:
    """What a searcher should load: the sidecar when it can be trusted, else the flat file.

    The sidecar is derived data, so any doubt means exact search, never wrong answers. It
    is used only when it is an inner-product IVF index of the manifest's dimension and
    vector count (a crash between the two files leaves another count), of the size the
    manifest recorded (``ann_bytes``), and when every ``(vector id, cached embedding)`` in
    ``samples`` finds itself among its nearest neighbours: a whole, well-formed file
    copied from another index or model fails that.
    """
    ann = _trusted_ann(ann_path(path), dim, count, ann_bytes, samples or [])
    return ann if ann is not None else read(path, dim)


def _trusted_ann(
    side: Path,
    dim: int,
    count: int | None,
    ann_bytes: int | None,
    samples: list[tuple[int, np.ndarray]],
) -> Any | None:
    import faiss

    try:
        size = side.stat().st_size
    except OSError:
        return None
    if ann_bytes is not None and size != ann_bytes:
        log.warning("%s has %d bytes, not %d; searching exactly", side, size, ann_bytes)
        return None
    try:
        ann = faiss.read_index(str(side))
    except Exception as exc:
        log.warning("%s unreadable (%s); searching exactly", side, exc)
        return None
    ivf = faiss.try_extract_index_ivf(ann)
    if ivf is None or ann.metric_type != faiss.METRIC_INNER_PRODUCT or ann.d != dim:
        log.warning("%s is not an approximate index of this one; searching exactly", side)
        return None
    if count is not None and ann.ntotal != count:
        log.warning("%s holds %d vectors, not %d; searching exactly", side, ann.ntotal, count)
        return None
    if samples and not _finds_itself(ann, samples):
        log.warning("%s holds other vectors than the index; searching exactly", side)
        return None
    return ann


def _finds_itself(ann: Any, samples: list[tuple[int, np.ndarray]], k: int = 64) -> bool:
    """Each sample vector's own id is among its k nearest, at cosine ~1 (float16 codes).

    k is generous so that a passage with many exact duplicates still finds itself."""
    for vid, vec in samples:
        scores, ids = search(ann, vec, k)
        if not len(ids) or scores[0] < 0.99 or vid not in ids.tolist():
            return False
    return True


def _ivf_params(index: Any, selector: Any | None) -> Any | None:
    """Search parameters for an IVF index: ANN_NPROBE lists, or all of them when filtered
    (a filter can leave few candidates in the probed lists; scanning every list with the
    id selector is exact over the allowed vectors and still cheap)."""
    import faiss

    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None:
        return None
    params: Any = faiss.SearchParametersIVF()
    params.nprobe = ivf.nlist if selector is not None else min(ANN_NPROBE, ivf.nlist)
    if selector is not None:
        params.sel = selector
    return params
