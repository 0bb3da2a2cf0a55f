"""Highlights: the sentence of each hit that best answers the question.

Modules: ``sentences`` (the sentence split of a passage and where each sentence lies in
its embedded views: what the indexer and the reader must agree on), ``late_chunking``
(sentence vectors pooled from the views' own model pass, at index time) and
``best_span`` (the choice at question time, from stored vectors or embedded now).
"""

from __future__ import annotations

from qa.highlight.best_span import best_spans
from qa.highlight.late_chunking import SentenceJob, embed_jobs, job_for, prepared
from qa.highlight.sentences import (
    SENTENCES_VERSION,
    Span,
    highlight_spans,
    sentence_key,
    view_ranges,
)

__all__ = [
    "SENTENCES_VERSION",
    "SentenceJob",
    "Span",
    "best_spans",
    "embed_jobs",
    "highlight_spans",
    "job_for",
    "prepared",
    "sentence_key",
    "view_ranges",
]
