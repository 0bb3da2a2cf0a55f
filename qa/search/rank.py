"""The ranking rules, as pure functions: ranked lists of ``(passage id, score)`` in and out.

Nothing here reads the index or runs a model, so every rule is tested in milliseconds
with plain numbers (``tests/test_rank.py``); the searcher fetches what a rule needs
(the summary leads, the passages of named cables) and hands it over as data.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np

Ranked = list[tuple[int, float]]  # (passage id, score), best first

CONFIDENCE_POWER = 2.0  # see fuse(); chosen on our tuning questions and BEIR
CONCENTRATION_EVEN = 0.2  # see dense_prior(): the concentration at which the prior is even
PRIOR_STEEPNESS = 4.0  # see dense_prior(): how fast the prior leaves even as corpora spread
PRIOR_VECTORS = 1000  # see dense_prior(): the index size over which the fit gains its say
LEXICAL_EVIDENCE_FLOOR = 1e-3  # see fuse(): BM25 scores at or below this carry no evidence
NAMED_CABLE_BOOST = 100.0  # see fuse(): more than any fused score, so named cables go first
SUMMARY_PENALTY = 1.5  # fused z-score units; chosen on our tuning questions (1.5-3 plateau)
SUMMARY_WINDOW = 50  # how deep the summary rule looks into the fused ranking

# Below this cosine similarity between the question and its closest passage, nothing in
# the index is taken to be about the question (calibrated in docs/evaluation.md).
RELEVANCE_THRESHOLD = 0.38


def dense_prior(concentration: str | float | None, vectors: int | None = None) -> float:
    """The per-index prior weight of dense scores in fusion, from the index's concentration.

    ``FlatIndex.concentration`` is the mean cosine between two of the index's vectors. On
    the cables (0.2: one register, one subject) BM25 is the stronger mode and the prior is
    even; on diverse corpora the model was trained for (web passages, encyclopedia
    entries: about 0.03) BM25 added nothing at any weight we measured, and the prior all
    but hands the ranking to the embeddings. Prior odds dense:lexical are
    ``(CONCENTRATION_EVEN / c) ** PRIOR_STEEPNESS`` (c = 0.1 gives 0.94). Fitted on
    three corpora of 5,000-20,000 vectors (docs/evaluation.md), so the fit only has its
    say on an index large enough to resemble them: the log-odds are multiplied by
    ``1 - exp(-n / PRIOR_VECTORS)`` for an index of ``vectors`` = n (0.017 at 17 vectors,
    0.63 at 1,000, 0.993 at 5,000). The two seed documents (17 vectors, c = 0.64: one
    subject, so close together) get 0.48 instead of 0.009, which let BM25's match on one
    rare word overrule the embeddings (issue 14). No concentration recorded: 0.5.
    """
    try:
        c = float(concentration) if concentration is not None else math.nan
    except ValueError:
        return 0.5
    if not math.isfinite(c) or c <= 0:
        return 0.5
    log_odds = PRIOR_STEEPNESS * math.log(CONCENTRATION_EVEN / min(max(c, 1e-3), 1.0))
    if vectors is not None:
        log_odds *= 1.0 - math.exp(-max(vectors, 0) / PRIOR_VECTORS)
    return 1.0 / (1.0 + math.exp(-log_odds))


def lexical_evidence(lexical_hits: Ranked) -> Ranked:
    """The BM25 candidates that matched a word carrying weight (score above the floor).

    FTS5 floors the IDF of a word found in more than half the passages at 1e-6, so on a
    small index a question's common words ("space", "China") match nearly every passage
    at a score of about 1e-6. Z-normalised, those differences of a millionth look like
    a decisive ranking; they are no evidence at all, and fusion leaves them out.
    """
    return [(pid, score) for pid, score in lexical_hits if score > LEXICAL_EVIDENCE_FLOOR]


def fuse(
    dense: Ranked,
    lexical_hits: Ranked,
    *,
    boost: Collection[int] = (),
    prior: float = 0.5,
) -> Ranked:
    """Confidence-weighted fusion of z-normalised dense and BM25 scores.

    Each list's scores are z-normalised over its own candidates; the dense weight is
    ``π·zd² / (π·zd² + (1-π)·zl²)``, where z is how far each list's best score stands out
    from the rest and π is the index's ``dense_prior``. A rare name that BM25 pins to one
    paragraph dominates; a paraphrase that only the embeddings recognise dominates when
    BM25's scores are flat. Measured against RRF and fixed weights in docs/evaluation.md.
    Passages in ``boost`` (a cable the question names by ID) go first. BM25 candidates
    without evidence (``lexical_evidence``) take no part.
    """
    lexical_hits = lexical_evidence(lexical_hits)
    z_dense, z_lex = _zscores(dense), _zscores(lexical_hits)
    conf_dense = prior * max(_top_z(dense), 1e-6) ** CONFIDENCE_POWER
    conf_lex = (1.0 - prior) * max(_top_z(lexical_hits), 1e-6) ** CONFIDENCE_POWER
    alpha = conf_dense / (conf_dense + conf_lex)
    floor_dense = min(z_dense.values(), default=0.0)
    floor_lex = min(z_lex.values(), default=0.0)
    scores = {
        pid: alpha * z_dense.get(pid, floor_dense) + (1 - alpha) * z_lex.get(pid, floor_lex)
        for pid in z_dense.keys() | z_lex.keys()
    }
    if boost:
        for pid in scores.keys() & set(boost):
            scores[pid] += NAMED_CABLE_BOOST
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)


def summary_window(fused: Ranked) -> list[int]:
    """The passages the summary rule looks at: the top SUMMARY_WINDOW of the fusion."""
    return [pid for pid, _ in fused[:SUMMARY_WINDOW]]


def defer_summaries(fused: Ranked, summaries: Collection[int]) -> Ranked:
    """Lower the passages in ``summaries`` by SUMMARY_PENALTY among the top SUMMARY_WINDOW.

    A cable's summary matches nearly every question about the cable; the paragraph
    with the detail should be cited first unless the summary is clearly the better
    match (measured in docs/evaluation.md). ``summaries`` are the passages of
    ``summary_window(fused)`` that present themselves as summaries (``views.is_summary``).
    """
    head = fused[:SUMMARY_WINDOW]
    adjusted = [
        (pid, score - SUMMARY_PENALTY if pid in summaries else score) for pid, score in head
    ]
    return sorted(adjusted + fused[SUMMARY_WINDOW:], key=lambda item: item[1], reverse=True)


def best_per_passage(scores: Sequence[float], passage_ids: Sequence[int], k: int) -> Ranked:
    """The first ``k`` passages of a ranked list of windows, each at its best window's score.

    The windows of one long passage compete for slots in a vector search; a passage is
    cited once, at its best (first) window.
    """
    best: dict[int, float] = {}
    for score, pid in zip(scores, passage_ids, strict=True):
        if pid not in best:
            best[pid] = score
    return list(best.items())[:k]


def is_relevant(best_similarity: float) -> bool:
    """Whether the closest passage is close enough to be about the question at all."""
    return best_similarity >= RELEVANCE_THRESHOLD


def _zscores(ranked: Ranked) -> dict[int, float]:
    if not ranked:
        return {}
    values = np.array([score for _, score in ranked], dtype=np.float64)
    spread = values.std() or 1.0
    normalised = (values - values.mean()) / spread
    return {pid: float(v) for (pid, _), v in zip(ranked, normalised, strict=True)}


def _top_z(ranked: Ranked) -> float:
    """How many standard deviations the best score sits above the candidates' mean."""
    if len(ranked) < 3:
        return 0.0
    values = np.array([score for _, score in ranked], dtype=np.float64)
    return float((values[0] - values.mean()) / (values.std() or 1.0))
