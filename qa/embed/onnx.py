"""The packaged model run by onnxruntime, with the model's own ``tokenizer.json``.

Same vectors as sentence-transformers (cosine ≥ 0.99999), faster on the CPU, and a query
never imports torch. Only this backend pools token vectors over character ranges, which
late chunking (``qa.highlight``) needs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.embed.base import SpanSums, mean_pool, sum_ranges
from qa.errors import ModelError

ONNX_MAX_BATCH = 16  # texts per onnxruntime call (measured: docs/benchmarks.md)


class OnnxEmbedder:
    """The same model run by onnxruntime: tokenise all texts, batch by token length.

    Mean pooling over the attention mask and L2 normalisation, as the packaged model's
    sentence-transformers pipeline (Transformer → mean Pooling → Normalize) does.
    """

    def __init__(
        self,
        name: str,
        model_dir: Path,
        onnx_file: Path,
        threads: int,
        provider: str = "CPUExecutionProvider",
    ) -> None:
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
        self._session = ort.InferenceSession(str(onnx_file), options, providers=[provider])
        if self._session.get_providers()[0] != provider:  # onnxruntime fell back quietly
            raise ModelError(
                f"onnxruntime could not run the model on {provider} (no usable GPU or CUDA "
                "libraries); leave --device out to embed on the CPU"
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
        for idx, batch, width in self._batches(texts, batch_size):
            out[idx] = mean_pool(*self._hidden(batch, width))
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
        for idx, batch, width in self._batches(texts, batch_size):
            hidden, mask = self._hidden(batch, width)
            out[idx] = mean_pool(hidden, mask)
            for row, j in enumerate(idx):
                if ranges[j]:
                    sum_ranges(hidden[row], batch[row].offsets, ranges[j], pooled[j])
            if progress is not None:
                progress(len(idx))
        return out, pooled

    def _batches(
        self, texts: Sequence[str], batch_size: int
    ) -> Iterator[tuple[np.ndarray, list[Any], int]]:
        """``(input positions, their encodings, padded width)``, longest texts first.

        Sorted by length, small batches pad almost nothing and keep the attention
        tensors small: 16 was 1.2x faster than 64 here, at a third of the peak memory.
        """
        if not texts:
            return
        batch_size = min(batch_size, ONNX_MAX_BATCH)
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        order = np.argsort(-lengths, kind="stable")  # similar lengths share a batch: no padding
        for start in range(0, len(texts), batch_size):
            idx = order[start : start + batch_size]
            yield idx, [encodings[j] for j in idx], int(lengths[idx].max())

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


def _st_config(model_dir: Path) -> dict[str, Any]:
    path = model_dir / "sentence_bert_config.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _pooling_dim(model_dir: Path) -> int:
    config = json.loads((model_dir / "1_Pooling" / "config.json").read_text())
    return int(config["word_embedding_dimension"])
