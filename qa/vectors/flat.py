"""The exact vector index: an ``IndexIDMap2`` over an inner-product index of float16 codes.

This is the vector file of every generation, ``vectors-NNNNNN.faiss``: a derived,
rebuildable copy of the embeddings in SQLite, searched exactly, checked value by value.

Layout. New files hold ``IndexScalarQuantizer(dim, QT_fp16, METRIC_INNER_PRODUCT)``: each
component rounded to IEEE half precision, half the bytes of float32 on disk and in memory
(the release's ~3.9M windows: 3.0 GB instead of 6.0), decoded by FAISS's SIMD scanner
while it searches, so scores are exact dot products with the rounded vectors (measured
faster than ``IndexFlatIP``: 22 vs 38 ms p50 for one query over 136k vectors, less memory
to stream; same top 10; ``benchmarks.bench_ann --float32``).
Files written before hold ``IndexFlatIP`` (float32); they are still read, trusted and
searched, and the next commit writes them as float16 (``compact``).

Precision. fp16 has 11 significant bits, so a component ``x`` of a unit vector (|x| ≤ 1)
rounds to ``x(1 + δ)`` with |δ| ≤ u = 2^-11 (round to nearest), or within 2^-25 absolute
below 2^-14 (subnormals). Hence every component moves by at most
``COMPONENT_ERROR = u(1 + t) + 2^-25`` (|x| ≤ 1 + t, t below; ~4.9e-4), and a squared
norm n² becomes n²(1 ± u)², i.e. by at most (2u + u²)·n² plus d·2^-38 from subnormals: 9.8e-4 for a
vector of norm 1. The cache admits vectors whose squared norm is within
``store``'s tolerance t = 1e-3 of 1, so a sound stored vector has |n² − 1| ≤ t + (2u + u²)
(1 + t) + tiny: ``NORM_TOLERANCE`` (≈ 2e-3). Damage moves norms by far more (garbage bytes
decode to NaN, huge or random values; zeroed codes to 0), so the checks still catch it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from qa.store import NORM_TOLERANCE as CACHE_NORM_TOLERANCE
from qa.vectors.base import VectorIndex

FP16_UNIT_ROUNDOFF = 2.0**-11  # fp16: 11 significant bits, round to nearest
_SUBNORMAL_STEP = 2.0**-25  # half the spacing of fp16 below 2^-14
# How far one stored component may be from the float32 value it was made from.
COMPONENT_ERROR = FP16_UNIT_ROUNDOFF * (1 + CACHE_NORM_TOLERANCE) + _SUBNORMAL_STEP
# How far a stored vector's squared norm may be from 1 (the module docstring derives it;
# 1e-6 covers the subnormals' d·2^-38 and the float64 sum, both far smaller): 1.98e-3.
_FP16_NORM_ERROR = 2 * FP16_UNIT_ROUNDOFF + FP16_UNIT_ROUNDOFF**2
NORM_TOLERANCE = CACHE_NORM_TOLERANCE + _FP16_NORM_ERROR * (1 + CACHE_NORM_TOLERANCE) + 1e-6
CHUNK = 65536  # rows decoded to float32 at a time: 96 MiB at dim 384


class FlatIndex(VectorIndex):
    """Every vector, searched exactly; the source the approximate sidecar is built from."""

    @classmethod
    def empty(cls, dim: int) -> FlatIndex:
        """An empty index in the current layout (float16 codes)."""
        import faiss

        quantizer = faiss.ScalarQuantizer.QT_fp16
        inner = faiss.IndexScalarQuantizer(dim, quantizer, faiss.METRIC_INNER_PRODUCT)
        return cls(faiss.IndexIDMap2(inner))

    @classmethod
    def open(cls, path: Path) -> FlatIndex:
        """Read the file straight into FAISS (no second copy); raises what FAISS raises."""
        import faiss

        return cls(faiss.read_index(str(path)))

    def _inner(self) -> Any:
        import faiss

        return faiss.downcast_index(self.native.index)

    @property
    def layout(self) -> str:
        """``"fp16"`` (what this version writes), ``"float32"`` (written before), or
        ``""`` (not ours)."""
        import faiss

        if not isinstance(self.native, faiss.IndexIDMap2):
            return ""
        inner = self._inner()
        if inner.metric_type != faiss.METRIC_INNER_PRODUCT:
            return ""
        if isinstance(inner, faiss.IndexScalarQuantizer):
            fp16 = inner.sq.qtype == faiss.ScalarQuantizer.QT_fp16
            return "fp16" if fp16 and inner.code_size == 2 * inner.d else ""
        return "float32" if isinstance(inner, faiss.IndexFlat) else ""

    def is_pilcrow(self) -> bool:
        """An ``IndexIDMap2`` over an inner-product index of float16 codes (as ``empty``
        makes) or of float32 vectors (as the previous version made)."""
        return bool(self.layout)

    def ids(self) -> np.ndarray:
        import faiss

        return faiss.vector_to_array(self.native.id_map).astype(np.int64)

    def codes(self) -> np.ndarray:
        """The stored values as a ``(count, dim)`` float16 (or, for a file of the previous
        layout, float32) view of FAISS's own memory: no copy, so do not keep it past a
        change to the index. Only ours (``is_pilcrow``) may be read so."""
        import faiss

        inner = self._inner()
        if self.count == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.layout == "fp16":
            raw = faiss.rev_swig_ptr(inner.codes.data(), self.count * inner.code_size)
            return np.asarray(raw).view(np.float16).reshape(self.count, self.dim)
        flat = faiss.rev_swig_ptr(inner.get_xb(), self.count * self.dim)
        return np.asarray(flat).reshape(self.count, self.dim)

    def blocks(self, chunk: int = CHUNK) -> Iterator[np.ndarray]:
        """The stored vectors as float32 copies of ``chunk`` rows at a time, in storage
        order (the order of ``ids()``): never the whole index decoded at once."""
        data = self.codes()
        for start in range(0, len(data), chunk):
            yield data[start : start + chunk].astype(np.float32)

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """The stored vectors at ``positions`` (storage order) as one float32 array."""
        return self.codes()[positions].astype(np.float32, copy=False)  # indexing copied

    def vector(self, vector_id: int) -> np.ndarray | None:
        """The stored vector of one id (decoded), or None when the file does not hold it."""
        try:
            return np.asarray(self.native.reconstruct(int(vector_id)))
        except RuntimeError:
            return None

    def compact(self) -> FlatIndex:
        """This index in the current layout: itself when it already is, else a float16
        copy of the same ids in the same order (a file of the previous layout becomes
        float16 on the next commit). Converted in chunks, so the float32 original and the
        float16 copy are the only whole copies in memory."""
        if self.layout == "fp16":
            return self
        out = FlatIndex.empty(self.dim)
        ids = self.ids()
        for start, block in zip(range(0, self.count, CHUNK), self.blocks(), strict=True):
            out.add(ids[start : start + CHUNK], block)
        return out

    def code_blocks(self, chunk: int = CHUNK) -> Iterator[np.ndarray]:
        """The stored values (float16, or float32 for the previous layout), ``chunk`` rows
        at a time in storage order: views of FAISS's memory, as ``codes`` is."""
        data = self.codes()
        for start in range(0, len(data), chunk):
            yield data[start : start + chunk]

    def not_unit_length(self) -> int:
        """How many stored vectors are not unit length (``not_unit_length``)."""
        return not_unit_length(self.code_blocks())

    def concentration(self) -> float:
        """Squared norm of the mean stored vector: the mean cosine between two random vectors.

        Near 0 when the model spreads the corpus over many directions (web pages,
        encyclopedia entries: the model is at home and its ranking can be trusted on its
        own); high when every passage sits in one narrow cone (0.2 for the cables: one
        register, one topic), where the embeddings tell paragraphs apart poorly and exact
        words matter more. Fusion uses it as a per-index prior (``qa.search.rank.dense_prior``).
        """
        return mean_square(self.code_blocks(), self.dim, self.count)

    def _search_params(self, selector: Any | None, *, restricts: bool = True) -> Any | None:
        import faiss

        if selector is None:
            return None
        params = faiss.SearchParameters()
        params.sel = selector
        return params


def not_unit_length(blocks: Iterable[np.ndarray]) -> int:
    """How many of the stored vectors in ``blocks`` are not unit length.

    Every vector we store is normalised, so this catches in-place corruption of the
    codes that still deserialises (garbage bytes show here); it reads the stored float16
    (or float32) values once, a block at a time. NORM_TOLERANCE allows for fp16 rounding.
    """
    bad = 0
    for block in blocks:
        with np.errstate(all="ignore"):
            norms = np.einsum("ij,ij->i", block, block, dtype=np.float64)
        bad += int(np.count_nonzero(~(np.abs(norms - 1.0) <= NORM_TOLERANCE)))
    return bad


def mean_square(blocks: Iterable[np.ndarray], dim: int, count: int) -> float:
    """Squared norm of the mean of ``count`` stored vectors of ``dim`` given in ``blocks``."""
    if count == 0:
        return 0.0
    total = np.zeros(dim, dtype=np.float64)
    for block in blocks:
        total += block.sum(axis=0, dtype=np.float64)
    mean = total / count
    return float(mean @ mean)
