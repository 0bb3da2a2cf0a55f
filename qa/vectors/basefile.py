"""The float16 base vector file, read and written a block at a time, never whole.

At the release's ~3.9M windows a base file holds 3.0 GB of codes. Loading it into FAISS
to check it, to fold the deltas in at a compaction or to build its sidecar would put a
build far above its 2 GB, so the file (FAISS's own serialisation of ``FlatIndex.empty``:
an ``IndexIDMap2`` over an ``IndexScalarQuantizer`` of float16 codes) is handled here
directly. Its layout is a fixed header (the empty index's, with the count patched in
three places), the codes (``count × dim`` float16), then the ids (a count and ``count``
int64). ``BaseFile`` reads windows of it with ``np.fromfile`` (plain reads: the pages are
the page cache's, never counted in this process's memory, as a mapping's would be);
``BaseWriter`` streams codes, keeps the ids (8 bytes a vector) and writes them last, then
patches the counts. What it writes is FAISS's file bit for bit (a test compares it with
``faiss.serialize_index``), so ``FlatIndex.open`` and every FAISS reader read it as before.
A file of any other layout (the previous version's float32) is not parsed here:
``BaseFile.open`` returns None and the caller loads it through FAISS.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from qa.fsutil import write_atomic
from qa.vectors.flat import CHUNK, FlatIndex, mean_square, not_unit_length

_SIZE = np.dtype("<u8")  # FAISS writes sizes and counts as little-endian 64-bit
_ID = np.dtype("<i8")


@functools.cache
def _template(dim: int) -> tuple[bytes, tuple[int, ...]]:
    """The header of a ``dim``-dimensional file with no vectors, up to its codes' size
    field, and the offsets of the three fields that hold the count (the size field last)."""
    import faiss

    empty = faiss.serialize_index(FlatIndex.empty(dim).native).tobytes()
    header = empty[:-16]  # then: the codes' size (0), the ids' count (0)
    inner = header.index(b"IxSQ")
    return header, (8, inner + 8, len(header))


class BaseFile:
    """A float16 base vector file, read in place: its ids, blocks of its codes, a vector.

    Offers what the checks, a compaction and the sidecar need of a ``FlatIndex``
    (``count``, ``dim``, ``ids``, ``code_blocks``, ``vector``, the norm and mean checks),
    reading the file a block at a time.
    """

    layout = "fp16"

    def __init__(self, path: Path, dim: int, count: int, codes_at: int) -> None:
        self.path = path
        self.dim = dim
        self.count = count
        self._codes_at = codes_at
        self._ids: np.ndarray | None = None

    @classmethod
    def open(cls, path: Path) -> BaseFile | None:
        """The file at ``path`` when it has exactly this layout, else None (FAISS reads
        it, and says what is wrong with it). Reads the header and the ids' count."""
        try:
            with path.open("rb") as fh:
                start = fh.read(8)
                if len(start) < 8 or start[:4] != b"IxM2":
                    return None
                dim = int(np.frombuffer(start, dtype="<i4", count=1, offset=4)[0])
                if not 0 < dim <= 65536:
                    return None
                header, (first, _second, sizes) = _template(dim)
                fh.seek(0)
                found = fh.read(len(header) + 8)
                size = os.fstat(fh.fileno()).st_size
        except OSError:
            return None
        if len(found) < len(header) + 8:
            return None
        count = int(np.frombuffer(found, dtype=_ID, count=1, offset=first)[0])
        expected = _patched(header, count, dim)
        codes_size = int(np.frombuffer(found, dtype=_SIZE, count=1, offset=sizes)[0])
        codes_at = len(header) + 8
        if found[: len(header)] != expected or codes_size != count * 2 * dim:
            return None
        if count < 0 or size != codes_at + codes_size + 8 + 8 * count:
            return None
        return cls(path, dim, count, codes_at)

    def ids(self) -> np.ndarray:
        """Every vector id, in storage order (read once, then kept: 8 bytes a vector)."""
        if self._ids is None:
            offset = self._codes_at + self.count * 2 * self.dim + 8
            self._ids = np.fromfile(self.path, dtype=_ID, count=self.count, offset=offset)
            if len(self._ids) != self.count:
                raise OSError(f"{self.path}: shorter than its header says")
        return self._ids.astype(np.int64, copy=False)

    def _read(self, start: int, rows: int) -> np.ndarray:
        offset = self._codes_at + start * 2 * self.dim
        codes = np.fromfile(self.path, dtype="<f2", count=rows * self.dim, offset=offset)
        if len(codes) != rows * self.dim:
            raise OSError(f"{self.path}: shorter than its header says")
        return codes.reshape(rows, self.dim)

    def code_blocks(self, chunk: int = CHUNK) -> Iterator[np.ndarray]:
        """The stored float16 codes, ``chunk`` rows at a time, in storage order."""
        for start in range(0, self.count, chunk):
            yield self._read(start, min(chunk, self.count - start))

    def rows(self, positions: np.ndarray, chunk: int = CHUNK) -> np.ndarray:
        """The stored vectors at ascending ``positions`` as one float32 array, read in one
        pass over the blocks that hold them."""
        out = np.empty((len(positions), self.dim), dtype=np.float32)
        for start in range(0, self.count, chunk):
            lo, hi = np.searchsorted(positions, [start, start + chunk])
            if hi > lo:
                block = self._read(start, min(chunk, self.count - start))
                out[lo:hi] = block[positions[lo:hi] - start]
        return out

    def vector(self, vector_id: int) -> np.ndarray | None:
        """The stored vector of one id (decoded), or None when the file does not hold it."""
        found = np.flatnonzero(self.ids() == vector_id)
        if not len(found):
            return None
        return self._read(int(found[0]), 1)[0].astype(np.float32)

    def not_unit_length(self) -> int:
        """How many stored vectors are not unit length (``flat.not_unit_length``)."""
        return not_unit_length(self.code_blocks())

    def concentration(self) -> float:
        """Squared norm of the mean stored vector (``FlatIndex.concentration``)."""
        return mean_square(self.code_blocks(), self.dim, self.count)


def fp16_codes(block: np.ndarray) -> np.ndarray:
    """``block`` as stored float16 codes: float16 as it is, float32 vectors encoded by
    FAISS's own encoder (which rounds a few tiny values otherwise than numpy's cast)."""
    if block.dtype == np.float16:
        return np.ascontiguousarray(block, dtype="<f2")
    vectors = np.ascontiguousarray(block, dtype=np.float32)
    encoded = _encoder(block.shape[1]).sa_encode(vectors)
    return encoded.view("<f2").reshape(block.shape)


@functools.cache
def _encoder(dim: int) -> Any:
    import faiss

    quantizer = faiss.ScalarQuantizer.QT_fp16
    return faiss.IndexScalarQuantizer(dim, quantizer, faiss.METRIC_INNER_PRODUCT)


def _patched(header: bytes, count: int, dim: int) -> bytes:
    """``header`` (of an empty file) with ``count`` vectors of ``dim`` float16 codes."""
    out = bytearray(header)
    _, (first, second, _sizes) = _template(dim)
    out[first : first + 8] = np.int64(count).astype(_ID).tobytes()
    out[second : second + 8] = np.int64(count).astype(_ID).tobytes()
    return bytes(out)


def write_base(
    path: Path,
    dim: int,
    blocks: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    before_replace: Callable[[], None] | None = None,
) -> tuple[int, int, float]:
    """Write a base file of ``(ids, vectors or float16 codes)`` blocks to ``path``
    (``qa.fsutil.write_atomic``), streamed; returns its size, its vector count and its
    concentration (``FlatIndex.concentration``)."""
    written: list[BaseWriter] = []

    def fill(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            writer = BaseWriter(fh, dim)
            for ids, block in blocks:
                writer.add(ids, block)
            writer.finish()
        written.append(writer)

    size = write_atomic(path, fill, before_replace=before_replace)
    return size, written[0].count, written[0].concentration()


class BaseWriter:
    """Writes a base file to an open binary file: ``add`` blocks, then ``finish``.

    Vectors (float32) are encoded by FAISS's own float16 encoder, so the codes are the
    ones ``FlatIndex.add`` stores; float16 codes read from another file are copied as
    they are. Keeps the ids and the running sum of the vectors (the concentration).
    """

    def __init__(self, fh: BinaryIO, dim: int) -> None:
        self._fh = fh
        self.dim = dim
        self.count = 0
        self._header = _template(dim)[0]
        self._ids: list[np.ndarray] = []
        self._total = np.zeros(dim, dtype=np.float64)
        fh.write(self._header)
        fh.write(bytes(8))

    def add(self, ids: np.ndarray, block: np.ndarray) -> None:
        """Append vectors (float32, encoded) or float16 codes (copied) under ``ids``."""
        if not len(ids):
            return
        codes = fp16_codes(block)
        self._fh.write(codes.tobytes())
        self._ids.append(np.asarray(ids, dtype=_ID))
        self._total += codes.sum(axis=0, dtype=np.float64)
        self.count += len(ids)

    def finish(self) -> None:
        """Write the ids and patch the counts into the header."""
        ids = np.concatenate(self._ids) if self._ids else np.zeros(0, dtype=_ID)
        self._fh.write(np.uint64(self.count).astype(_SIZE).tobytes())
        self._fh.write(ids.tobytes())
        _, (_first, _second, sizes) = _template(self.dim)
        self._fh.seek(0)
        self._fh.write(_patched(self._header, self.count, self.dim))
        self._fh.seek(sizes)
        self._fh.write(np.uint64(self.count * 2 * self.dim).astype(_SIZE).tobytes())
        self._fh.seek(0, os.SEEK_END)

    def concentration(self) -> float:
        """Squared norm of the mean vector written (``FlatIndex.concentration``)."""
        if not self.count:
            return 0.0
        mean = self._total / self.count
        return float(mean @ mean)
