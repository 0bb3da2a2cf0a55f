"""The ranking rules as pure functions: plain numbers in, plain numbers out (no index, no model)."""

from __future__ import annotations

import math

import pytest

from qa.search.rank import (
    NAMED_CABLE_BOOST,
    SUMMARY_PENALTY,
    SUMMARY_WINDOW,
    best_per_passage,
    defer_summaries,
    dense_prior,
    fuse,
    is_relevant,
    lexical_evidence,
    summary_window,
)

DENSE = [(1, 0.62), (2, 0.55), (3, 0.54), (4, 0.50)]
LEXICAL = [(3, 12.0), (5, 6.0), (1, 5.5), (6, 5.0)]


def _rounded(ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
    return [(pid, round(score, 6)) for pid, score in ranked]


def test_dense_prior_from_concentration() -> None:
    assert dense_prior(0.2) == 0.5  # the cables: even
    assert dense_prior(0.1) == pytest.approx(16 / 17)  # odds (0.2 / 0.1) ** 4
    assert dense_prior(0.4) == pytest.approx(1 / 17)
    assert dense_prior("0.1") == pytest.approx(16 / 17)  # as the manifest once stored it
    assert dense_prior(1e-9) == pytest.approx(1.0)  # clamped at 1e-3, not infinite
    for unknown in (None, "", "x", math.nan, math.inf, 0.0, -0.3):
        assert dense_prior(unknown) == 0.5


def test_dense_prior_shrinks_to_even_on_a_small_index() -> None:
    # The seed index: 17 vectors on one subject (c = 0.644). The fit alone gives 0.009.
    assert dense_prior(0.644) == pytest.approx(0.00922, abs=1e-5)
    assert dense_prior(0.644, 17) == pytest.approx(0.4803, abs=1e-4)
    odds_at_1000 = (0.2 / 0.644) ** (4 * (1 - math.exp(-1)))
    assert dense_prior(0.644, 1000) == pytest.approx(odds_at_1000 / (1 + odds_at_1000))
    # The cables (20k vectors) and a BEIR subset (5k) keep the fit.
    assert dense_prior(0.208, 20354) == pytest.approx(dense_prior(0.208), abs=1e-6)
    assert dense_prior(0.027, 5012) == pytest.approx(dense_prior(0.027), abs=1e-4)
    assert dense_prior(0.1, 0) == 0.5
    assert dense_prior(None, 10) == 0.5


def test_bm25_scores_of_a_millionth_are_no_evidence() -> None:
    # FTS5 floors the IDF of a word in most passages at 1e-6: such matches are dropped.
    lexical = [(7, 3.02), (8, 2.18), (9, 3.1e-6), (10, 2.9e-6), (11, 1e-6)]
    assert lexical_evidence(lexical) == [(7, 3.02), (8, 2.18)]
    # Those millionths z-normalised would rank 9 far above 11 and make BM25 look sure of
    # its list; without them a two-item list has no confidence and dense decides.
    dense = [(8, 0.63), (7, 0.53), (9, 0.50), (10, 0.49), (11, 0.46)]
    assert [pid for pid, _ in fuse(dense, lexical)][:2] == [8, 7]
    only_common_words = [(9, 1.4e-6), (8, 1.2e-6), (7, 1.1e-6)]
    assert [pid for pid, _ in fuse(dense, only_common_words)] == [8, 7, 9, 10, 11]


def test_fuse_weights_each_list_by_how_far_its_top_stands_out() -> None:
    # BM25's top (12 against ~5.5) stands out further than the dense top: BM25 leads, and
    # a passage one list lacks gets that list's lowest z-score.
    assert _rounded(fuse(DENSE, LEXICAL)) == [
        (3, 0.810633),
        (1, 0.392313),
        (2, -0.436503),
        (5, -0.766442),
        (4, -0.959548),
        (6, -0.959548),
    ]
    # On a spread-out corpus the prior hands the ranking to the embeddings.
    assert _rounded(fuse(DENSE, LEXICAL, prior=dense_prior(0.05)))[:3] == [
        (1, 1.551399),
        (2, -0.061087),
        (3, -0.279702),
    ]


def test_fuse_of_one_list_is_its_z_scores() -> None:
    assert _rounded(fuse([(1, 0.9), (2, 0.5), (3, 0.1)], [])) == [
        (1, 1.224745),
        (2, 0.0),
        (3, -1.224745),
    ]
    assert fuse([], []) == []


def test_fuse_puts_passages_of_a_named_cable_first() -> None:
    fused = fuse(DENSE, LEXICAL, boost={6})
    assert fused[0][0] == 6
    assert fused[0][1] == pytest.approx(NAMED_CABLE_BOOST - 0.959548, abs=1e-6)
    assert [pid for pid, _ in fused[1:]] == [3, 1, 2, 5, 4]
    assert fuse(DENSE, LEXICAL, boost={99}) == fuse(DENSE, LEXICAL)  # not a candidate


def test_a_summary_defers_unless_clearly_better() -> None:
    assert defer_summaries([(1, 5.0), (2, 4.0), (3, 3.9)], {1}) == [
        (2, 4.0),
        (3, 3.9),
        (1, 5.0 - SUMMARY_PENALTY),
    ]
    assert defer_summaries([(1, 9.0), (2, 4.0)], {1}) == [(1, 7.5), (2, 4.0)]
    assert defer_summaries([(1, 5.0), (2, 4.0)], set()) == [(1, 5.0), (2, 4.0)]


def test_the_summary_rule_looks_only_into_the_window() -> None:
    fused = [(pid, 100.0 - pid) for pid in range(SUMMARY_WINDOW + 5)]
    assert summary_window(fused) == list(range(SUMMARY_WINDOW))
    deferred = defer_summaries(fused, {0, SUMMARY_WINDOW})
    assert (0, 100.0 - SUMMARY_PENALTY) in deferred  # inside the window: lowered
    assert (SUMMARY_WINDOW, 100.0 - SUMMARY_WINDOW) in deferred  # beyond it: as it was
    assert [pid for pid, _ in deferred[:2]] == [1, 0]


def test_a_passage_counts_once_at_its_best_window() -> None:
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]
    passages = [7, 7, 3, 5, 3]
    assert best_per_passage(scores, passages, 2) == [(7, 0.9), (3, 0.7)]
    assert best_per_passage(scores, passages, 10) == [(7, 0.9), (3, 0.7), (5, 0.6)]


def test_relevance_threshold() -> None:
    assert is_relevant(0.38) and is_relevant(0.9)
    assert not is_relevant(0.379) and not is_relevant(0.0)
