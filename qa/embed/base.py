"""What indexing and search need from a model, and the names models are recorded under.

The protocols are the whole contract between the embedding backends and their callers;
the pooling helpers are the arithmetic every backend must share so that their vectors
agree (Transformer → mean Pooling → Normalize, as the packaged model's pipeline does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from qa import locations
from qa.errors import ModelError
from qa.locations import DEFAULT_MODEL

PACKAGED_MODELS = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}
BACKENDS = ("onnx", "onnx-int8", "torch")
INT8_SUFFIX = "@int8"

SpanSums = tuple[np.ndarray, np.ndarray]  # (sums, token counts), one row per range


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


@runtime_checkable
class SpanEmbedder(Embedder, Protocol):
    """A model that can also pool its token vectors over character ranges (late chunking)."""

    def embed_spans(
        self,
        texts: Sequence[str],
        ranges: Sequence[Sequence[tuple[int, int, int]]],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[SpanSums]]: ...


def backend_name() -> str:
    """``$PILCROW_EMBED_BACKEND`` (``onnx``, ``onnx-int8`` or ``torch``), default ``onnx``."""
    value = locations.embed_backend()
    if value not in BACKENDS:
        raise ModelError(
            f"{locations.EMBED_BACKEND.name}={value!r} is not one of {', '.join(BACKENDS)}"
        )
    return value


def canonical_model_name(name: str) -> str:
    """The name recorded in the manifest: aliases of the packaged model collapse to one.

    With the ``onnx-int8`` backend the name gets ``@int8``: its vectors are not the float
    model's, so the embedding cache and the manifest keep them apart.
    """
    base, int8 = split_variant(name)
    base = DEFAULT_MODEL if base in PACKAGED_MODELS else base
    if int8 or (backend_name() == "onnx-int8"):
        return base + INT8_SUFFIX
    return base


def split_variant(name: str) -> tuple[str, bool]:
    """``(model name without @int8, whether it had it)``."""
    if name.endswith(INT8_SUFFIX):
        return name[: -len(INT8_SUFFIX)], True
    return name, False


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Unit vectors: token vectors averaged over the attention mask, L2-normalised."""
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def sum_ranges(
    hidden: np.ndarray,
    offsets: Sequence[tuple[int, int]],
    ranges: Sequence[tuple[int, int, int]],
    into: SpanSums,
) -> None:
    """Add the hidden states of the tokens starting in each range to ``into``."""
    # Special tokens ([CLS], [SEP]) have empty offsets; word pieces start in order.
    content = [i for i, (s, e) in enumerate(offsets) if e > s]
    if not content:
        return
    token_rows = np.asarray(content)
    token_starts = np.asarray([offsets[i][0] for i in content])
    sums, counts = into
    for r, (_, start, end) in enumerate(ranges):
        a, b = np.searchsorted(token_starts, [start, end], side="left")
        if b > a:
            sums[r] += hidden[token_rows[a:b]].sum(axis=0)
            counts[r] += b - a
