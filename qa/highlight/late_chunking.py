"""Sentence vectors by late chunking: the views' model pass also yields their sentences'.

The model's token vectors of each view are summed over each sentence's tokens (ranges
from ``sentences.view_ranges``), summed again over the views that hold the sentence, and
normalised. A sentence's vector thereby reads its words in the context of the window,
and costs no model pass beyond the one that embeds the view for retrieval. Measured on
the tuning questions (docs/benchmarks.md), the chosen sentence is as often the one that
states the answer as with embedding each sentence on its own at question time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from qa.embed import SpanEmbedder
from qa.highlight.sentences import Span, highlight_spans, sentence_key, view_ranges
from qa.models import SentenceVectors
from qa.views import text_hash, view_prefix, views_of


@dataclass(frozen=True, slots=True)
class SentenceJob:
    """One passage whose sentence vectors are to be computed."""

    key: str
    text: str
    search_text: str
    prefix: str
    views: tuple[str, ...]
    view_hashes: tuple[str, ...]
    spans: tuple[Span, ...] = ()  # highlight_spans(text), found once by job_for
    # view_ranges of the job, per view, when found ahead (``prepared``: a parse worker)
    ranges: tuple[tuple[tuple[int, int, int], ...], ...] = ()


def prepared(job: SentenceJob) -> SentenceJob:
    """The job with its views' sentence ranges found: what ``embed_jobs`` would compute
    in the run's own process, done where the passage was parsed (a worker process, in
    parallel: the run's process was the bottleneck of a large build, a quarter of its
    time on this)."""
    per_view = view_ranges(job.text, job.search_text, job.prefix, job.spans, len(job.views))
    return replace(job, ranges=tuple(tuple(ranges) for ranges in per_view))


def job_for(
    text: str,
    search_text: str,
    title: str,
    heading: str,
    passage_text_hash: str,
    view_hashes: Sequence[str],
    views: Sequence[str] | None = None,
) -> SentenceJob | None:
    """The job for a passage, or None when it has nothing to choose between.

    A passage of one sentence highlights that sentence without vectors; a passage whose
    stored view hashes are not the views rebuilt here (a format change under way) is
    left to query-time embedding rather than given vectors of other text. ``views``: the
    texts of ``view_hashes`` when the caller has them (a passage just parsed), so they
    are not built and hashed a second time.
    """
    spans = tuple(highlight_spans(text))
    if len(spans) < 2 or not search_text.split():
        return None
    if views is None:
        views = tuple(views_of(title, heading, search_text)[: len(view_hashes)])
        if tuple(text_hash(v) for v in views) != tuple(view_hashes):
            return None
    return SentenceJob(
        key=sentence_key(passage_text_hash, view_hashes),
        text=text,
        search_text=search_text,
        prefix=view_prefix(title, heading),
        views=tuple(views),
        view_hashes=tuple(view_hashes),
        spans=spans,
    )


def embed_jobs(
    embedder: SpanEmbedder,
    jobs: Sequence[SentenceJob],
    progress: Callable[[int], None] | None = None,
) -> tuple[dict[str, np.ndarray], list[tuple[str, SentenceVectors]]]:
    """One model pass over the jobs' views: ``(view vectors by hash, sentence vectors)``."""
    texts: list[str] = []
    ranges: list[list[tuple[int, int, int]]] = []
    spans_of_job: list[list[tuple[int, int]]] = []
    for job in jobs:
        spans = list(job.spans) if job.spans else highlight_spans(job.text)
        spans_of_job.append(spans)
        if job.ranges:
            per_view = [list(ranges) for ranges in job.ranges]
        else:
            per_view = view_ranges(job.text, job.search_text, job.prefix, spans, len(job.views))
        texts.extend(job.views)
        ranges.extend(per_view)
    view_vectors, pooled = embedder.embed_spans(texts, ranges, progress=progress)
    by_hash: dict[str, np.ndarray] = {}
    results: list[tuple[str, SentenceVectors]] = []
    row = 0
    for job, spans in zip(jobs, spans_of_job, strict=True):
        sums = np.zeros((len(spans), embedder.dim), dtype=np.float32)
        counts = np.zeros(len(spans), dtype=np.int64)
        for h in job.view_hashes:
            by_hash[h] = view_vectors[row]
            view_sums, view_counts = pooled[row]
            for (sentence, _, _), vector, count in zip(
                ranges[row], view_sums, view_counts, strict=True
            ):
                sums[sentence] += vector
                counts[sentence] += count
            row += 1
        kept = np.flatnonzero(counts > 0)
        if kept.size == 0:
            continue
        vectors = sums[kept]
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        results.append((job.key, SentenceVectors([spans[i] for i in kept], vectors)))
    return by_hash, results
