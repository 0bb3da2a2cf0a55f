"""Find the sentence(s) of a passage that best answer the question.

Uses the same embedding model as retrieval: the question vector is already computed, so
the cost is one batched encode of the candidate sentences of the top passages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from qa.embed import Embedder

# A sentence ends at . ! or ? followed by space and an upper-case letter, digit or quote;
# short abbreviations such as "U.S." or "Amb." are not ends.
_SENTENCE_END = re.compile(r"(?<![A-Z]\.[A-Z])(?<!\b[A-Z])(?<=[.!?])[\"')\]]?\s+(?=[\"'(A-Z0-9¶])")
MIN_SENTENCE_CHARS = 25
MAX_SENTENCES = 12  # per passage: bounds highlight cost on very long paragraphs


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` offsets of the sentences of ``text``, short fragments merged."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.start() + len(match.group(0).rstrip())
        spans.append((start, end))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        s, e = _strip(text, s, e)
        if e <= s:
            continue
        if merged and (
            e - s < MIN_SENTENCE_CHARS or merged[-1][1] - merged[-1][0] < MIN_SENTENCE_CHARS
        ):
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged or [(0, len(text))]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def best_sentences(
    embedder: Embedder, query_vector: np.ndarray, texts: Sequence[str]
) -> list[tuple[int, int]]:
    """For each text, the span of its sentence most similar to the question."""
    spans = [sentence_spans(t)[:MAX_SENTENCES] for t in texts]
    flat = [" ".join(t[s:e].split()) for t, sp in zip(texts, spans, strict=True) for s, e in sp]
    if not flat:
        return [(0, len(t)) for t in texts]
    scores = embedder.embed(flat) @ query_vector.reshape(-1)
    out: list[tuple[int, int]] = []
    i = 0
    for sp in spans:
        best = int(np.argmax(scores[i : i + len(sp)]))
        out.append(sp[best])
        i += len(sp)
    return out
