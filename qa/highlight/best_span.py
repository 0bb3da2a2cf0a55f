"""Find the sentence of each hit that best answers the question.

The indexer stores a vector per sentence (late chunking, ``late_chunking``), so a
highlight is a few dot products with the question vector that retrieval computed anyway.
Passages without stored vectors (indexed by a model that cannot pool token ranges, or
before an upgrade finished) fall back to embedding their sentences now: same choice
rule, ~50 question embeddings' worth of model time for five long hits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qa.embed import Embedder
from qa.highlight.sentences import Span, highlight_spans
from qa.models import SentenceVectors


def best_spans(
    embedder: Embedder,
    query_vector: np.ndarray,
    texts: Sequence[str],
    stored: Sequence[SentenceVectors | None],
) -> list[Span]:
    """For each text, its sentence closest to the question: stored vectors where there are."""
    query = query_vector.reshape(-1)
    out: list[Span | None] = []
    pending: list[int] = []
    for i, (text, item) in enumerate(zip(texts, stored, strict=True)):
        spans = highlight_spans(text)
        if len(spans) == 1:
            out.append(spans[0])
        elif item is not None and item.spans and _spans_fit(item.spans, len(text)):
            out.append(item.spans[int(np.argmax(item.vectors @ query))])
        else:
            out.append(None)
            pending.append(i)
    if pending:
        found = best_sentences(embedder, query, [texts[i] for i in pending])
        for i, span in zip(pending, found, strict=True):
            out[i] = span
    return [span for span in out if span is not None]


def _spans_fit(spans: Sequence[Span], length: int) -> bool:
    return all(0 <= a < b <= length for a, b in spans)


def best_sentences(
    embedder: Embedder, query_vector: np.ndarray, texts: Sequence[str]
) -> list[Span]:
    """For each text, the span of its sentence most similar to the question (embedded now)."""
    spans = [highlight_spans(t) for t in texts]
    flat = [" ".join(t[s:e].split()) for t, sp in zip(texts, spans, strict=True) for s, e in sp]
    if not flat:
        return [(0, len(t)) for t in texts]
    scores = embedder.embed(flat) @ query_vector.reshape(-1)
    out: list[Span] = []
    i = 0
    for sp in spans:
        best = int(np.argmax(scores[i : i + len(sp)]))
        out.append(sp[best])
        i += len(sp)
    return out
