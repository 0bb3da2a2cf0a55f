"""The ONNX export of a local model, and its int8 quantisation, cached on disk.

The export needs torch once per model; the file is then kept in ``$PILCROW_ONNX_CACHE``
(``locations.onnx_cache_dir``) under a key of the weights' size and mtime, so a changed
model is exported again. Both files are written whole (``qa.fsutil.write_atomic``): a
killed export leaves no half model for the next run to load.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from pathlib import Path
from typing import Any

from qa import locations
from qa.embed.quiet import no_transformers_progress_bars, quiet_library
from qa.fsutil import write_atomic

log = logging.getLogger(__name__)

EXPORT_VERSION = "1"  # bump when the exported graph changes


def onnx_compatible(model_dir: Path) -> bool:
    """True for a Transformer → mean Pooling (→ Normalize) model with a fast tokenizer."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError, KeyError):
        return False
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        pooling.get(k)
        for k in (
            "pooling_mode_cls_token",
            "pooling_mode_max_tokens",
            "pooling_mode_mean_sqrt_len_tokens",
        )
    )
    return (
        kinds[:2] == ["Transformer", "Pooling"]
        and all(k == "Normalize" for k in kinds[2:])
        and modules[0].get("path", "") == ""
        and bool(mean_only)
        and (model_dir / "tokenizer.json").exists()
    )


def onnx_file(model_dir: Path, int8: bool) -> Path:
    """The exported model for ``model_dir`` (exported now if not cached yet)."""
    weights = next(
        (
            model_dir / n
            for n in ("model.safetensors", "pytorch_model.bin")
            if (model_dir / n).exists()
        ),
        model_dir / "config.json",
    )
    info = weights.stat()
    key = hashlib.blake2b(
        f"{model_dir.resolve()}|{info.st_size}|{info.st_mtime_ns}|{EXPORT_VERSION}".encode(),
        digest_size=8,
    ).hexdigest()
    folder = locations.onnx_cache_dir() / f"{model_dir.name}-{key}"
    path = folder / ("model-int8.onnx" if int8 else "model.onnx")
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    float_path = folder / "model.onnx"
    if not float_path.exists():
        _export(model_dir, float_path)
    if int8:
        _quantize(float_path, path)
    return path


def _export(model_dir: Path, dest: Path) -> None:
    """Export the transformer (token embeddings out) to ONNX, from the local weights."""
    import torch
    from transformers import AutoModel

    log.warning("exporting %s to ONNX once (cached in %s)", model_dir.name, dest.parent)
    with no_transformers_progress_bars():
        model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    example = torch.ones((2, 8), dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]

    def write(tmp: Path) -> None:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                TokenEmbeddings(model),
                (example, example, torch.zeros_like(example)),
                str(tmp),
                input_names=names,
                output_names=["token_embeddings"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "token_embeddings"]},
                opset_version=17,
                dynamo=False,
            )

    write_atomic(dest, write)


def _quantize(source: Path, dest: Path) -> None:
    """Dynamic int8 quantisation, per channel (per-tensor loses too much: cosine 0.95)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def write(tmp: Path) -> None:
        # Hides its advice about pre-processing, sent to the root logger.
        with quiet_library("onnxruntime"):
            quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True)

    write_atomic(dest, write)
