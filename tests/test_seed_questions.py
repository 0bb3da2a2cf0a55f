"""The seed questions: on the two seed documents each must cite its paragraph first.

The questions (``benchmarks/data/seed-questions.jsonl``) were written from the seed
documents in paraphrase. The first two are the defects of issue 14: on a 17-vector index
the per-index prior (0.009 from a concentration of 0.64) and BM25 scores of a millionth
let BM25's match on "Beijing" overrule the embeddings. Real model, real index.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qa.factory import open_searcher
from qa.search import rank
from tests.conftest import ROOT

SEED_QUESTIONS = ROOT / "benchmarks" / "data" / "seed-questions.jsonl"
QUESTIONS = [json.loads(line) for line in SEED_QUESTIONS.read_text().splitlines() if line]
# Written after the fix and missed by every mode but dense: BM25 pins "Kazakh" to ¶3 of
# the article (the delegation), the treaty is in ¶4-¶5 (docs/evaluation.md).
KNOWN_MISSES = {"seed-8"}


def _cases() -> list[object]:
    return [
        pytest.param(
            q,
            id=q["id"],
            marks=[pytest.mark.xfail(strict=True, reason="known miss")]
            if q["id"] in KNOWN_MISSES
            else [],
        )
        for q in QUESTIONS
    ]


@pytest.mark.parametrize("question", _cases())
def test_seed_question_cites_its_paragraph_first(
    seed_index: Path, question: dict[str, Any]
) -> None:
    searcher = open_searcher(seed_index)
    try:
        top = searcher.ask(str(question["question"]), k=3, highlight=False).hits[0]
    finally:
        searcher.close()
    assert (top.doc_id, top.paragraph) in {(question["doc"], gold) for gold in question["gold"]}


def test_the_named_defects_are_in_the_set() -> None:
    first = {q["id"]: (q["question"], q["doc"], q["gold"][0]) for q in QUESTIONS}
    assert first["seed-1"] == (
        "Did Beijing want one of its astronauts aboard the space station?",
        "07MOSCOW5292",
        5,
    )
    assert first["seed-2"][1:] == ("china-finds-eager-space-partners", 7)


def test_the_seed_index_prior_is_near_even(seed_index: Path) -> None:
    searcher = open_searcher(seed_index)
    try:
        concentration = searcher.manifest.concentration
        count = searcher.vectors.count
    finally:
        searcher.close()
    assert count == 17
    assert concentration is not None and concentration > 0.5  # one subject: close together
    assert rank.dense_prior(concentration) < 0.02  # what the three-corpus fit alone says
    assert 0.45 < rank.dense_prior(concentration, count) < 0.5
