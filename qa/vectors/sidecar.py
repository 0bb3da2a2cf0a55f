"""Writing the approximate sidecar of a base file, streamed: never the whole index in memory.

FAISS builds an IVF index in memory (3.0 GB of float16 codes at the release's ~3.9M
windows) before it writes it, which alone would break a build's 2 GB. So the sidecar is
written here the way FAISS would write it, from the base file read a block at a time:

1. Routing: each vector's list. The previous generation's sidecar, when it was trained
   for a similar size, gives its centroids and the list of every vector it holds (read
   through a mapping: its codes are never loaded); the rest (or, without one, every
   vector) is assigned by the coarse quantiser a block at a time. Otherwise the quantiser
   is trained on a sample of TRAIN_PER_LIST vectors a list.
2. The file: FAISS's serialisation of the trained, empty index, then the inverted lists
   in FAISS's layout (sizes, then each list's codes and ids), written group by group of
   lists, each group gathered in one pass over the base (GROUP_BYTES at a time).

The sidecar stores the vectors themselves (``by_residual`` off: its float16 codes are
the base file's codes, so its scores are the exact scores of the vectors it finds).
What this writes is, byte for byte, what FAISS writes for the same index (a test).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

from qa.fsutil import write_atomic
from qa.vectors import ivf
from qa.vectors.basefile import fp16_codes

log = logging.getLogger(__name__)

GROUP_BYTES = 256 * 2**20  # codes gathered at a time while the lists are written
# Training vectors per list (k-means wants ~40). The sample is decoded to float32, the
# biggest allocation at a build's end: at the release's 4,096 lists, 40 a list is 251 MB
# (writing the sidecar of 3,988,696 vectors peaked at 518 MiB, 662 with 64 a list; recall@10
# against exact 0.997 and 0.995 at 32 probes, 200 queries: /tmp/recall.py in the notes).
TRAIN_PER_LIST = 40
_SIZE = np.dtype("<u8")
_EMPTY_LISTS = 32  # "ilar", nlist, code size, "sprs", an empty vector: an empty index's end


class StoredVectors(Protocol):
    """What the sidecar is written from: a ``FlatIndex`` or a ``BaseFile``."""

    @property
    def count(self) -> int: ...

    @property
    def dim(self) -> int: ...

    def ids(self) -> np.ndarray: ...

    def code_blocks(self) -> Iterator[np.ndarray]: ...


def write_ann(source: StoredVectors, path: Path, previous: Path | None = None) -> Path | None:
    """Write (or, below ANN_MIN_VECTORS, skip) the approximate sidecar of vector file ``path``.

    ``previous``: the last generation's vector file, whose sidecar's routing is reused
    when it fits. Returns the sidecar's path, or None when none is needed or it could not
    be written (a failure only costs speed, never correctness: searches stay exact).
    """
    target = ivf.ann_path(path)
    if source.count < ivf.ANN_MIN_VECTORS:
        target.unlink(missing_ok=True)  # a leftover of a killed run is not ours
        return None
    old = ivf.ann_path(previous) if previous is not None else None
    try:
        native, lists = _routing(source, old if old is not None and old.exists() else None)
        write_atomic(target, lambda tmp: _write(tmp, native, lists, source))
    except Exception as exc:
        log.warning("approximate index not written (%s); searches stay exact", exc)
        target.unlink(missing_ok=True)
        return None
    return target


def _routing(source: StoredVectors, previous: Path | None) -> tuple[Any, np.ndarray]:
    """The trained, empty IVF index and the list of each stored vector (storage order)."""
    import faiss

    ids = source.ids()
    nlist = ivf.ann_lists(len(ids))
    reused = _previous_routing(previous, ids, source.dim, nlist) if previous else None
    if reused is not None:
        centroids, lists = reused
        native = _empty_index(source.dim, len(centroids))
        faiss.extract_index_ivf(native).quantizer.add(centroids)
        native.is_trained = True
    else:
        native = _empty_index(source.dim, nlist)
        faiss.extract_index_ivf(native).cp.niter = 10  # k-means converges enough for routing
        rng = np.random.default_rng(0)
        size = min(len(ids), nlist * TRAIN_PER_LIST)
        sample = np.sort(rng.choice(len(ids), size, replace=False))
        native.train(_gather(source, sample, np.float32))  # no float16 copy beside it
        lists = np.full(len(ids), -1, dtype=np.int64)
    quantizer = faiss.extract_index_ivf(native).quantizer
    start = 0
    for block in source.code_blocks():
        todo = np.flatnonzero(lists[start : start + len(block)] < 0)
        if len(todo):
            _, found = quantizer.search(np.ascontiguousarray(block[todo], dtype=np.float32), 1)
            lists[start + todo] = found[:, 0]
        start += len(block)
    return native, lists


def _previous_routing(
    side: Path, ids: np.ndarray, dim: int, nlist: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The centroids of the sidecar at ``side`` and the list of each of ``ids`` it holds
    (-1 for the others), when it is an IVF index of ``dim`` with about ``nlist`` lists."""
    import faiss

    try:
        old = faiss.read_index(str(side), faiss.IO_FLAG_MMAP)
        inner = faiss.try_extract_index_ivf(old)
    except Exception as exc:
        log.warning("%s unreadable (%s); retraining", side, exc)
        return None
    if inner is None or old.d != dim or not inner.nlist * 2 >= nlist >= inner.nlist // 2:
        return None
    centroids = inner.quantizer.reconstruct_n(0, inner.nlist)
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    lists = np.full(len(ids), -1, dtype=np.int64)
    invlists: Any = inner.invlists
    for number in range(inner.nlist):
        size = invlists.list_size(number)
        if not size:
            continue
        held = faiss.rev_swig_ptr(invlists.get_ids(number), size).astype(np.int64)
        at = np.minimum(np.searchsorted(ordered, held), len(ordered) - 1)
        found = ordered[at] == held
        lists[order[at[found]]] = number
    return centroids, lists


def _empty_index(dim: int, nlist: int) -> Any:
    """An untrained IVF index of ``nlist`` lists storing the vectors as float16."""
    import faiss

    native = faiss.index_factory(dim, f"IVF{nlist},SQfp16", faiss.METRIC_INNER_PRODUCT)
    faiss.extract_index_ivf(native).by_residual = False
    return native


def _gather(source: StoredVectors, positions: np.ndarray, dtype: type | str = "<f2") -> np.ndarray:
    """The stored vectors at ascending ``positions``, in one pass over the blocks: as
    float16 codes, or decoded (``dtype`` float32: the training sample)."""
    out = np.empty((len(positions), source.dim), dtype=dtype)
    start = 0
    for block in source.code_blocks():
        lo, hi = np.searchsorted(positions, [start, start + len(block)])
        if hi > lo:
            rows = block[positions[lo:hi] - start]
            out[lo:hi] = fp16_codes(rows) if out.dtype == np.float16 else rows
        start += len(block)
    return out


def _write(tmp: Path, native: Any, lists: np.ndarray, source: StoredVectors) -> None:
    """The sidecar file: the empty index's serialisation with the count set, then the
    inverted lists as FAISS writes an ``ArrayInvertedLists`` ("full" sizes when more than
    half the lists hold vectors, else "sprs" pairs), group by group."""
    import faiss

    nlist = faiss.extract_index_ivf(native).nlist
    code_size = 2 * source.dim
    native.ntotal = len(lists)
    head = faiss.serialize_index(native).tobytes()
    if head[-_EMPTY_LISTS:][:4] != b"ilar":
        raise ValueError("FAISS wrote an IVF index in a layout this writer does not know")
    sizes = np.bincount(lists, minlength=nlist).astype(_SIZE)
    with tmp.open("wb") as fh:
        fh.write(head[:-_EMPTY_LISTS])
        fh.write(b"ilar" + _sizes(nlist, code_size))
        filled = np.flatnonzero(sizes)
        if len(filled) > nlist // 2:
            fh.write(b"full" + _sizes(nlist) + sizes.tobytes())
        else:
            pairs = np.column_stack([filled, sizes[filled]]).astype(_SIZE).ravel()
            fh.write(b"sprs" + _sizes(len(pairs)) + pairs.tobytes())
        _write_lists(fh, source, lists, sizes)


def _write_lists(fh: BinaryIO, source: StoredVectors, lists: np.ndarray, sizes: np.ndarray) -> None:
    """Each list's codes then its ids, in list order and, within a list, storage order
    (the order FAISS adds them in), gathering about GROUP_BYTES of codes at a time."""
    ids = source.ids()
    per_group = max(1, GROUP_BYTES // (2 * source.dim))
    ends = np.cumsum(sizes.astype(np.int64))
    first = 0
    while first < len(sizes):
        before = int(ends[first - 1]) if first else 0
        last = max(first + 1, int(np.searchsorted(ends, before + per_group, side="right")))
        positions = np.flatnonzero((lists >= first) & (lists < last))
        codes = _gather(source, positions)
        order = np.argsort(lists[positions], kind="stable")  # codes stay put: no 2nd copy
        bounds = np.searchsorted(lists[positions[order]], np.arange(first, last + 1))
        for lo, hi in itertools.pairwise(bounds):
            if hi > lo:
                fh.write(codes[order[lo:hi]].tobytes())
                fh.write(ids[positions[order[lo:hi]]].astype("<i8").tobytes())
        del codes
        first = last


def _sizes(*values: int) -> bytes:
    return np.array(values, dtype=_SIZE).tobytes()
