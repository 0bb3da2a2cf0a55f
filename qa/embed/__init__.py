"""Text → unit vectors. One small interface, two implementations of the same model.

* ``OnnxEmbedder`` (the default, ``onnx``): the model exported once, locally, from the
  packaged weights to ONNX (``export``) and run with onnxruntime; the tokenizer is the
  model's own ``tokenizer.json``. Same vectors as sentence-transformers, faster on the
  CPU, and a query never imports torch.
* ``SentenceTransformerEmbedder`` (``torch_backend``): plain sentence-transformers.

Modules: ``base`` (the protocols, recorded model names, pooling), ``onnx``,
``torch_backend``, ``export`` (the ONNX cache), ``quiet`` (libraries kept quiet while
they load) and ``factory`` (backend selection). Heavy imports (torch, onnxruntime,
sentence-transformers, transformers) happen inside the loading functions, so that
``qa --help`` and the TUI's first frame never pay for them.
"""

from __future__ import annotations

from qa.embed.base import (
    Embedder,
    SpanEmbedder,
    SpanSums,
    backend_name,
    canonical_model_name,
)
from qa.embed.factory import check_device, load_embedder, load_torch_embedder, resolve_model_path
from qa.embed.onnx import OnnxEmbedder
from qa.embed.torch_backend import SentenceTransformerEmbedder

__all__ = [
    "Embedder",
    "OnnxEmbedder",
    "SentenceTransformerEmbedder",
    "SpanEmbedder",
    "SpanSums",
    "backend_name",
    "canonical_model_name",
    "check_device",
    "load_embedder",
    "load_torch_embedder",
    "resolve_model_path",
]
