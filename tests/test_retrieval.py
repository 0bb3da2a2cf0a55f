"""Hybrid retrieval, filters, cable-ID queries, highlights and the relevance threshold."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa import store
from qa.factory import build_index, open_searcher
from qa.locations import db_path
from qa.models import Filters
from qa.search.lexical import match_expression
from qa.search.rank import defer_summaries, dense_prior, fuse
from qa.search.searcher import Searcher, summaries_among


@pytest.fixture(scope="module")
def cables(cables_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
    index = tmp_path_factory.mktemp("cables-index")
    build_index(cables_corpus, index)
    searcher = open_searcher(index)
    yield searcher
    searcher.close()


@pytest.fixture(scope="module")
def cables_db(cables: Searcher) -> Iterator[sqlite3.Connection]:
    """A read-only connection of the test's own to the searcher's index."""
    db = store.connect(db_path(cables.index_dir), readonly=True)
    yield db
    db.close()


def test_match_expression_quotes_every_token() -> None:
    assert match_expression('NEAR(a "b") AND -c* x:y') == '"near" OR "b" OR "c" OR "x" OR "y"'
    assert match_expression("  ()[]{}^ ") is None


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_each_mode_finds_the_organised_crime_paragraph(cables: Searcher, mode: str) -> None:
    hits = cables.ask("Olmert promised 1,000 more police officers", k=5, mode=mode).hits
    assert hits[0].citation == "09TELAVIV1098 ¶4"


def test_filter_applies_before_ranking(cables: Searcher) -> None:
    # Without a filter the Moscow cable wins; restricted to Tel Aviv, k results still come back.
    question = "How much is Kazakhstan asking in damages for the Proton rocket accident?"
    assert cables.ask(question, k=1).hits[0].doc_id == "07MOSCOW5292"
    hits = cables.ask(question, k=8, filters=Filters(origin="Tel Aviv")).hits
    assert len(hits) == 8
    assert {h.doc_id for h in hits} == {"09TELAVIV1098"}


def test_date_and_tag_filters(cables: Searcher) -> None:
    hits = cables.ask("China", k=20, filters=Filters(since="2009-01-01", until="2009-12-31")).hits
    assert hits and all(h.date[:4] == "2009" for h in hits)
    tagged = cables.ask("visa", k=5, filters=Filters(tag="cvis")).hits
    assert tagged and {h.doc_id for h in tagged} <= {"09TELAVIV1098"}


def test_cable_id_in_question_surfaces_that_cable(cables: Searcher) -> None:
    hits = cables.ask("10USNATO52 what did Germany ask", k=3).hits
    assert all(h.doc_id == "10USNATO52" for h in hits)


def test_highlight_is_a_sentence_of_the_passage(cables: Searcher) -> None:
    hit = cables.ask("How many Israeli judges are under 24-hour police guard?", k=1).hits[0]
    assert hit.citation == "09TELAVIV1098 ¶19"
    assert hit.highlight is not None
    start, end = hit.highlight
    assert "10 Israeli judges" in hit.text[start:end]
    assert end - start < len(hit.text)


def test_off_topic_question_is_flagged_not_relevant(cables: Searcher) -> None:
    off = cables.ask("How long should I boil spaghetti for al dente pasta?")
    on = cables.ask("Which Israeli crime families operate in the United States?")
    assert not off.relevant and on.relevant
    assert off.best_similarity < on.best_similarity


def test_fuse_trusts_the_list_whose_top_stands_out() -> None:
    flat_dense = [(pid, 0.50 - pid * 0.001) for pid in range(1, 21)]
    peaked_lexical = [(7, 30.0)] + [(pid, 5.0 - pid * 0.01) for pid in range(20, 40)]
    assert fuse(flat_dense, peaked_lexical)[0][0] == 7
    peaked_dense = [(3, 0.9)] + [(pid, 0.3 - pid * 0.001) for pid in range(20, 40)]
    flat_lexical = [(pid, 5.0 - pid * 0.01) for pid in range(1, 21)]
    assert fuse(peaked_dense, flat_lexical)[0][0] == 3


def test_fuse_puts_named_cable_first() -> None:
    fused = fuse([(1, 0.9), (2, 0.8), (4, 0.1)], [(1, 9.0), (3, 4.0)], boost={4})
    assert fused[0][0] == 4


def test_dense_prior_follows_the_index_concentration() -> None:
    assert dense_prior("0.2") == pytest.approx(0.5)  # the cables: even
    assert dense_prior("0.027") > 0.97  # web passages: the embeddings lead
    assert dense_prior("") == 0.5  # not recorded yet
    # With a dense-leaning prior, a BM25 peak no longer outweighs a clear dense winner.
    dense = [(3, 0.53)] + [(pid, 0.5 - pid * 0.001) for pid in range(20, 40)]
    lexical = [(7, 30.0)] + [(pid, 5.0 - pid * 0.01) for pid in range(20, 40)]
    assert fuse(dense, lexical, prior=0.5)[0][0] == 7
    assert fuse(dense, lexical, prior=dense_prior("0.027"))[0][0] == 3


def test_index_records_its_concentration(cables: Searcher) -> None:
    value = cables.manifest.concentration
    assert value is not None
    assert 0.1 < value < 0.5  # cables sit in a narrow cone (all 1,295: 0.2)


def test_bm25_keeps_the_rarest_tokens_within_the_posting_budget() -> None:
    from qa.search.lexical import candidate_tokens

    frequencies = {"olmert": 3, "police": 400, "said": 9000, "café": 0, "israel": 1200}
    assert candidate_tokens(frequencies, budget=2000) == ["café", "olmert", "police", "israel"]
    assert candidate_tokens(frequencies, budget=100) == ["café", "olmert"]
    assert candidate_tokens({"said": 9000}, budget=10) == ["said"]  # never nothing


def test_pruned_bm25_still_finds_the_named_paragraph(
    cables: Searcher, cables_db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.search import lexical

    frequencies = lexical.document_frequencies(cables_db, ["olmert", "police", "the"])
    assert frequencies["olmert"] > 0 and frequencies["the"] > frequencies["olmert"]
    question = "Olmert promised 1,000 more police officers"
    assert cables.ask(question, k=1, mode="lexical").hits[0].citation == "09TELAVIV1098 ¶4"
    monkeypatch.setattr(lexical, "POSTING_BUDGET", frequencies["olmert"])  # only the name
    hits = cables.ask(question, k=5, mode="lexical").hits
    assert hits and all("Olmert" in h.text for h in hits)
    assert "09TELAVIV1098 ¶4" in {h.citation for h in hits}


def test_filtered_bm25_searches_every_token(
    cables: Searcher, cables_db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.search import lexical

    # Budget down to one posting: unfiltered, only the rarest token (absent from the cable
    # below) would be searched; with the filter every token is, so the cable still answers.
    monkeypatch.setattr(lexical, "POSTING_BUDGET", 1)
    tokens = lexical.query_tokens("Proton rocket Kazcosmos damages")
    frequencies = lexical.document_frequencies(cables_db, tokens)
    for token in tokens:  # make the article-only name the rarest, as it could be at scale
        if token != "kazcosmos":
            frequencies[token] = max(frequencies[token], frequencies["kazcosmos"] + 1)
    monkeypatch.setattr(lexical, "document_frequencies", lambda db, tokens: frequencies)
    assert lexical.candidate_tokens(frequencies) == ["kazcosmos"]  # not in the cable below
    hits = cables.ask(
        "Proton rocket Kazcosmos damages",
        k=3,
        mode="lexical",
        filters=Filters(doc_id="07MOSCOW5292"),
    ).hits
    assert hits and hits[0].citation == "07MOSCOW5292 ¶3"


def test_a_summary_paragraph_defers_to_the_detail(cables_db: sqlite3.Connection) -> None:
    from qa.views import clean, is_summary

    assert is_summary("", "(C) Summary: Israel's crime families are expanding")
    assert is_summary("SUMMARY AND COMMENT", "Israel's crime families")
    assert not is_summary("", "Olmert promised 1,000 more police officers to fight crime")
    rows = [
        (pid, heading, clean(text))
        for pid, heading, text in cables_db.execute(
            f"SELECT p.id, p.heading, {store.PASSAGE_TEXT} FROM passages p JOIN documents d"
            " ON d.id = p.document_id WHERE d.doc_id = '09TELAVIV1098' ORDER BY p.seq"
        )
    ]
    summary = next(r[0] for r in rows if is_summary(r[1], r[2]))
    detail = next(r[0] for r in rows if not is_summary(r[1], r[2]))
    # What the searcher reads of the stored rows finds the summary, and only it.
    summaries = summaries_among(cables_db, [summary, detail])
    assert summaries == {summary}
    # A summary ahead by less than the penalty drops behind; one far ahead stays first.
    assert [pid for pid, _ in defer_summaries([(summary, 5.0), (detail, 4.0)], summaries)] == [
        detail,
        summary,
    ]
    assert defer_summaries([(summary, 9.0), (detail, 4.0)], summaries)[0] == (summary, 7.5)
