"""int8 vectors with one float32 scale per row: how the cache stores every embedding
(and, at the end, the 4-bit codes of the sentence vectors).

A row ``v`` is stored as ``q = rint(v / s)`` (int8, within ±127) with ``s = max|v| / 127``,
a quarter of float32's bytes. Each component of ``q * s`` is within ``s / 2`` of ``v``.

Embeddings are read back renormalised (``unit_rows_of``): every reader checks that a
cached embedding is a unit vector (``NORM_TOLERANCE``), and the model only ever gives
unit vectors. For a unit ``v`` of dimension ``d`` the rounding error has norm at most
``r = sqrt(d) * s / 2``, so the angle to the original is at most ``asin(r)``:

* cosine to the original ``>= sqrt(1 - r**2)`` (``min_cosine``), about ``1 - d s**2 / 8``;
* every component within ``sqrt(2 - 2 sqrt(1 - r**2))`` (about ``r``) of the original.

Those are worst cases (every rounding error aligned). Measured on the 20,295 cached
embeddings of the 1,295-cable sample (all-MiniLM-L6-v2, d = 384, peaks up to 0.26, so
``s <= 2.1e-3``): max abs error per component 1.1e-3 (about ``s / 2``; ``<= s`` always
in tests), min cosine 0.99993 (the bound: 0.9998). Dense MRR@10 on the dev set did not
move (0.789), nor did hybrid (0.8875) or lexical (0.830); dense nDCG@10 on the BEIR subsets
moved by +0.0001 (msmarco 0.7982) and +0.0009 (dbpedia 0.5159), float16 by 0.

A stored row is only renormalised when it can be the encoding of a unit vector: its peak
is exactly 127 (``rint(peak / s)``; a zero vector has none) and its norm is within ``r``
of 1 (plus the cache's own tolerance). That admits, at worst, a source norm off by ``r``
(about 0.02 here) where float32 admitted 1e-3: the price of a lossy codec. Anything else
(zeroed bytes, garbage, another codec's blob, a non-finite scale) reads back as zeros,
which no unit check passes: damage stays visible as damage.
"""

from __future__ import annotations

import numpy as np

PEAK = 127  # the largest code: -128 is never written, so it always marks damage


def quantise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(scales, codes)`` of 2-d float rows: float32 ``(n,)`` and int8 ``(n, d)``.

    A row that is not finite gets scale 0 and zero codes (it reads back as zeros: damage,
    as it was; SQLite would store a NaN scale as NULL); an all-zero row gets scale 1.
    """
    rows = np.asarray(vectors, dtype=np.float32)
    if rows.ndim != 2:
        raise ValueError(f"expected rows of vectors, got shape {rows.shape}")
    finite = np.asarray(np.isfinite(rows).all(axis=1))
    safe = np.where(finite[:, None], rows, 0.0).astype(np.float32)
    peak = np.abs(safe).max(axis=1) if rows.shape[1] else np.zeros(len(rows), np.float32)
    scales = np.where(peak > 0, peak / PEAK, 1.0).astype(np.float32)
    codes = np.rint(safe / scales[:, None]).clip(-PEAK, PEAK).astype(np.int8)
    scales[~finite] = 0.0
    return scales, codes


def dequantise(scales: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The float32 rows ``codes * scales`` as stored (not renormalised)."""
    return codes.astype(np.float32) * np.asarray(scales, dtype=np.float32)[:, None]


def error_radius(scales: np.ndarray, dim: int) -> np.ndarray:
    """``r = sqrt(dim) * s / 2`` per row: the most the rounding can move a vector."""
    return np.sqrt(dim) * np.abs(np.asarray(scales, dtype=np.float64)) / 2


def min_cosine(scales: np.ndarray, dim: int) -> np.ndarray:
    """Per row, the least cosine a renormalised decoding can have to the unit vector it
    was made from: ``sqrt(1 - r**2)`` (the guaranteed bound of the module docstring)."""
    radius = np.minimum(error_radius(scales, dim), 1.0)
    return np.asarray(np.sqrt(1.0 - radius**2))


def unit_rows_of(scales: np.ndarray, codes: np.ndarray, tolerance: float) -> np.ndarray:
    """Decoded rows scaled to unit length where they can encode a vector whose norm is
    within ``tolerance`` of 1, else zeros (see the module docstring): what every reader
    of the cache is given."""
    n, dim = codes.shape
    raw = dequantise(scales, codes)
    with np.errstate(all="ignore"):
        norms = np.sqrt(np.einsum("ij,ij->i", raw, raw, dtype=np.float64))
        peaks = np.abs(codes.astype(np.int16)).max(axis=1) if dim else np.zeros(n, np.int16)
        plausible = (
            np.isfinite(norms)
            & (np.asarray(scales) > 0)
            & (peaks == PEAK)
            & (np.abs(norms - 1.0) <= error_radius(scales, dim) + tolerance)
        )
        out = np.zeros_like(raw)
        out[plausible] = raw[plausible] / norms[plausible, None].astype(np.float32)
    return out


# -- 4-bit codes: the sentence vectors ----------------------------------------------------
#
# Sentence vectors only choose which sentence of a hit to highlight (``qa.highlight``),
# never a rank, so they can afford a coarser code: 4 bits a component (codes -7..7 with
# one float32 scale per sentence), two components a byte, half of int8's bytes (the
# table was 41% of the sample's database). A nibble holds ``code + 8``: 0 is never
# written. Measured against int8 over the dev questions' top-20 hits (760 passages of
# two or more sentences): the same sentence highlighted for 92.4%, the others near ties
# (mean cosine lost 0.0004, at most 0.023).

PEAK4 = 7  # the largest 4-bit code
_NIBBLE_ZERO = 8  # the nibble of code 0


def packed_width(dim: int) -> int:
    """Bytes a ``dim``-component row takes as 4-bit codes (an odd last one padded)."""
    return (dim + 1) // 2


def quantise4(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(scales, packed)`` of 2-d float rows: float32 ``(n,)`` and uint8
    ``(n, packed_width(d))``, component ``2j`` in the low nibble of byte ``j``.

    Non-finite rows get scale 0 and zero codes, as ``quantise`` does.
    """
    rows = np.asarray(vectors, dtype=np.float32)
    if rows.ndim != 2:
        raise ValueError(f"expected rows of vectors, got shape {rows.shape}")
    n, dim = rows.shape
    finite = np.asarray(np.isfinite(rows).all(axis=1))
    safe = np.where(finite[:, None], rows, 0.0).astype(np.float32)
    peak = np.abs(safe).max(axis=1) if dim else np.zeros(n, np.float32)
    scales = np.where(peak > 0, peak / PEAK4, 1.0).astype(np.float32)
    nibbles = np.full((n, 2 * packed_width(dim)), _NIBBLE_ZERO, dtype=np.uint8)
    codes = np.rint(safe / scales[:, None]).clip(-PEAK4, PEAK4).astype(np.int16)
    nibbles[:, :dim] = (codes + _NIBBLE_ZERO).astype(np.uint8)
    scales[~finite] = 0.0
    packed = nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)
    return scales, np.ascontiguousarray(packed, dtype=np.uint8)


def dequantise4(scales: np.ndarray, packed: np.ndarray, dim: int) -> np.ndarray:
    """The float32 rows of ``quantise4``'s codes, ``dim`` components each."""
    packed = np.asarray(packed, dtype=np.uint8)
    nibbles = np.empty((packed.shape[0], 2 * packed.shape[1]), dtype=np.int16)
    nibbles[:, 0::2] = packed & 0x0F
    nibbles[:, 1::2] = packed >> 4
    codes = (nibbles[:, :dim] - _NIBBLE_ZERO).astype(np.float32)
    return codes * np.asarray(scales, dtype=np.float32)[:, None]
