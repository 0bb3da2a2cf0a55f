"""The model run by plain sentence-transformers on torch: the reference the ONNX path
is measured against, and the fallback where onnxruntime or the export is unavailable.

(Named ``torch_backend`` so that the module never shadows the ``torch`` package.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from qa.embed.base import canonical_model_name
from qa.errors import ModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU; sorts by length inside ``encode`` for speed."""

    def __init__(self, name: str, model: SentenceTransformer) -> None:
        self.name = canonical_model_name(name)
        self._model = model
        dim = model.get_embedding_dimension()
        if dim is None:  # a model without a pooling module: no sentence vectors to index
            raise ModelError(f"embedding model {name!r} does not say its vector size")
        self.dim = int(dim)
        self.max_tokens = int(getattr(model, "max_seq_length", 256) or 256)

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if progress is None:
            return self._encode(list(texts), batch_size)
        # Encode in slices so the caller can show progress; sort by length first so that
        # each slice pads to similar lengths (what encode() does internally per call).
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        step = batch_size * 4
        for i in range(0, len(texts), step):
            idx = order[i : i + step]
            out[idx] = self._encode([texts[j] for j in idx], batch_size)
            progress(len(idx))
        return out

    def _encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        vectors = self._model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer.tokenize(text))
