"""The exact vector index: an ``IndexIDMap2`` over an inner-product flat index.

This is the vector file of every generation, ``vectors-NNNNNN.faiss``: a derived,
rebuildable copy of the embeddings in SQLite, searched exactly, checked value by value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qa.vectors.base import VectorIndex

NORM_TOLERANCE = 1e-3  # stored vectors are unit length; anything else is damage


class FlatIndex(VectorIndex):
    """Every vector, searched exactly; the source the approximate sidecar is built from."""

    @classmethod
    def empty(cls, dim: int) -> FlatIndex:
        import faiss

        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)))

    @classmethod
    def open(cls, path: Path) -> FlatIndex:
        """Read the file straight into FAISS (no second copy); raises what FAISS raises."""
        import faiss

        return cls(faiss.read_index(str(path)))

    def is_pilcrow(self) -> bool:
        """An ``IndexIDMap2`` over an inner-product flat index, as ``empty`` makes."""
        import faiss

        if not isinstance(self.native, faiss.IndexIDMap2):
            return False
        inner = faiss.downcast_index(self.native.index)
        return (
            isinstance(inner, faiss.IndexFlat) and inner.metric_type == faiss.METRIC_INNER_PRODUCT
        )

    def ids(self) -> np.ndarray:
        import faiss

        return faiss.vector_to_array(self.native.id_map).astype(np.int64)

    def vectors(self) -> np.ndarray:
        """The stored vectors as an ``(count, dim)`` float32 view (no copy; do not keep it)."""
        import faiss

        inner: Any = faiss.downcast_index(self.native.index)
        flat = faiss.rev_swig_ptr(inner.get_xb(), self.count * self.dim)
        return np.asarray(flat).reshape(self.count, self.dim)

    def vector(self, vector_id: int) -> np.ndarray | None:
        """The stored vector of one id, or None when the file does not hold it."""
        try:
            return np.asarray(self.native.reconstruct(int(vector_id)))
        except RuntimeError:
            return None

    def not_unit_length(self, chunk: int = 65536) -> int:
        """How many stored vectors are not unit length (garbage bytes in the file show here).

        Every vector we store is normalised, so this catches in-place corruption of the
        float data that still deserialises; it reads the data once, in chunks, uncopied.
        """
        if self.count == 0:
            return 0
        data = self.vectors()
        bad = 0
        for start in range(0, len(data), chunk):
            block = data[start : start + chunk]
            with np.errstate(all="ignore"):
                norms = np.einsum("ij,ij->i", block, block, dtype=np.float64)
            bad += int(np.count_nonzero(~(np.abs(norms - 1.0) <= NORM_TOLERANCE)))
        return bad

    def concentration(self, chunk: int = 65536) -> float:
        """Squared norm of the mean stored vector: the mean cosine between two random vectors.

        Near 0 when the model spreads the corpus over many directions (web pages,
        encyclopedia entries: the model is at home and its ranking can be trusted on its
        own); high when every passage sits in one narrow cone (0.2 for the cables: one
        register, one topic), where the embeddings tell paragraphs apart poorly and exact
        words matter more. Fusion uses it as a per-index prior (``qa.search.rank.dense_prior``).
        """
        if self.count == 0:
            return 0.0
        data = self.vectors()
        total = np.zeros(self.dim, dtype=np.float64)
        for start in range(0, self.count, chunk):
            total += data[start : start + chunk].sum(axis=0, dtype=np.float64)
        mean = total / self.count
        return float(mean @ mean)

    def _search_params(self, selector: Any | None) -> Any | None:
        import faiss

        if selector is None:
            return None
        params = faiss.SearchParameters()
        params.sel = selector
        return params
