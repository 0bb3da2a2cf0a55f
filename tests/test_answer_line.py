"""The cited answer line (qa/search/answer.py): pure rules on concrete hits, an exhaustive
check over the 40 dev questions, and the line in `qa ask`, the TUI and the export."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.cli import cli
from qa.models import Answer, Hit, Mode
from qa.search.answer import (
    MAX_WORDS,
    NOT_HIGHLIGHTED,
    NOTHING_RELEVANT,
    CitedAnswer,
    cited_answer,
    score_spread,
)
from tests.conftest import ROOT, SHARED, cable_path
from tui.export import answer_markdown, conversation_markdown
from tui.widgets.transcript import answer_content

DAMAGES = "How much did Kazakhstan seek in damages?"
DAMAGES_SENTENCE = "Kazakhstan reportedly seeks about $60 million in damages for the accident."
DEV_QUESTIONS = SHARED / "eval" / "cables-dev.jsonl"
BENCH_INDEX = ROOT / "bench-data" / "cables-index"

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_hit(
    text: str,
    sentence: str | None,
    *,
    rank: int = 1,
    score: float = 5.0,
    doc_id: str = "07MOSCOW5292",
    label: str = "¶3",
) -> Hit:
    """A hit whose highlight is ``sentence`` (found in ``text``), as the searcher marks it."""
    highlight = None
    if sentence is not None:
        start = text.index(sentence)
        highlight = (start, start + len(sentence))
    paragraph = int(label[1:]) if label.startswith("¶") else None
    return Hit(
        rank, rank, doc_id, label, paragraph, score, text, "", "SUBJECT", "2007-11-07",
        "Embassy Moscow", "UNCLASSIFIED", f"{doc_id}.txt", highlight,
    )  # fmt: skip


def answer_of(*hits: Hit, relevant: bool = True, spread: float = 1.0) -> Answer:
    return Answer("question", list(hits), 0.6, relevant, spread)


def words(n: int, stem: str) -> str:
    """A sentence of ``n`` distinct words ending in a full stop."""
    return " ".join(f"{stem}{i}" for i in range(n)) + "."


# -- the rules, on concrete hits ---------------------------------------------------------


def test_the_line_is_the_highlighted_sentence_verbatim_without_marker_or_marking() -> None:
    text = (
        "¶3. (SBU) Kazakhstan reportedly seeks about\n$60 million in damages for the "
        "accident. Lisitsin admitted the problems."
    )
    hit = make_hit(text, text[: text.index(" Lisitsin")])
    line = cited_answer(answer_of(hit))
    [part] = line.parts
    assert part.text == text[10 : text.index(" Lisitsin")]  # the line break as in the source
    assert part.text.startswith("Kazakhstan reportedly seeks about\n$60 million")
    assert part.citation == "07MOSCOW5292 ¶3"
    assert text[part.start : part.end] == part.text
    assert part.to_json() == {"text": part.text, "citation": "07MOSCOW5292 ¶3"}
    assert line.note == ""


def test_markings_with_caveats_and_summary_labels_are_cut_notes_are_kept() -> None:
    for text, expected in [
        ("¶1. (S/NF) Summary: Qadhafi is not ill.", "Qadhafi is not ill."),
        ("12. (C/Rel Aus) Rudd noted Chinese concerns.", "Rudd noted Chinese concerns."),
        ("(U) In August, Zuma spoke.", "In August, Zuma spoke."),
        ("(Note: The school is small. End Note.)", "(Note: The school is small. End Note.)"),
    ]:
        [part] = cited_answer(answer_of(make_hit(text, text))).parts
        assert part.text == expected


def test_trailing_signature_heading_and_end_summary_are_cut_abbreviations_are_not() -> None:
    for text, expected in [
        ("WE SUPPORT HIS REQUEST. LEWIS", "WE SUPPORT HIS REQUEST."),
        ("The plan was delayed. END SUMMARY.", "The plan was delayed."),
        ("It was “strictly commercial.” POTENTIAL PARTNERSHIP WITH U.S. OIL COMPANIES",
         "It was “strictly commercial.”"),
        ("He met officials of the U.S. Embassy", "He met officials of the U.S. Embassy"),
        ("AND AN ACCOUNTING OF AIR INCURSIONS. Comment", "AND AN ACCOUNTING OF AIR INCURSIONS."),
    ]:  # fmt: skip
        [part] = cited_answer(answer_of(make_hit(text, text))).parts
        assert part.text == expected


def test_only_hits_within_one_spread_of_the_best_speak_in_rank_order() -> None:
    first = make_hit("Kazakhstan seeks $60 million.", "Kazakhstan seeks $60 million.", score=5.0)
    close = make_hit("Roscosmos disputes the sum.", "Roscosmos disputes the sum.", rank=2,
                     score=4.2, label="¶4")  # fmt: skip
    far = make_hit("The weather was fine.", "The weather was fine.", rank=3, score=3.9, label="¶5")
    line = cited_answer(answer_of(first, close, far))
    assert [p.citation for p in line.parts] == ["07MOSCOW5292 ¶3", "07MOSCOW5292 ¶4"]
    dense = cited_answer(answer_of(first, close, far, spread=0.05))  # cosine units
    assert [p.citation for p in dense.parts] == ["07MOSCOW5292 ¶3"]


def test_a_cable_header_is_never_quoted_and_the_best_paragraph_leads() -> None:
    header = make_hit("SUBJECT: ROSCOSMOS ON SPACE. REF: A. MOSCOW 1.", "SUBJECT: ROSCOSMOS ON "
                      "SPACE. REF: A. MOSCOW 1.", score=9.0, label="(header)")  # fmt: skip
    para = make_hit("Kazakhstan seeks $60 million.", "Kazakhstan seeks $60 million.", rank=2)
    line = cited_answer(answer_of(header, para))  # 9.0 - 5.0 > 1 spread: still answered
    assert [p.citation for p in line.parts] == ["07MOSCOW5292 ¶3"]


def test_near_duplicates_are_dropped_distinct_sentences_kept() -> None:
    summary = "Kazakhstan reportedly seeks about $60 million in damages for the Proton accident."
    detail = "Kazakhstan reportedly seeks $60 million in damages for the Proton accident."
    other = "Lisitsin admitted that the compensation talks had stalled."
    hits = [
        make_hit(summary, summary, label="¶1"),
        make_hit(detail, detail, rank=2, score=4.9),
        make_hit(other, other, rank=3, score=4.8, label="¶4"),
    ]
    line = cited_answer(answer_of(*hits))
    assert [p.citation for p in line.parts] == ["07MOSCOW5292 ¶1", "07MOSCOW5292 ¶4"]


def test_words_stop_before_sixty_but_one_long_sentence_is_whole() -> None:
    a, b, c = words(25, "a"), words(25, "b"), words(25, "c")
    hits = [make_hit(s, s, rank=i, label=f"¶{i}") for i, s in enumerate((a, b, c), 1)]
    line = cited_answer(answer_of(*hits))
    assert [p.text for p in line.parts] == [a, b] and line.words() == 50 <= MAX_WORDS
    long = words(80, "x")
    line = cited_answer(answer_of(make_hit(long, long), hits[1]))
    assert [p.text for p in line.parts] == [long]  # at least one sentence, never a cut one


def test_nothing_relevant_or_nothing_highlighted_says_so() -> None:
    hit = make_hit("Kazakhstan seeks $60 million.", "Kazakhstan seeks $60 million.")
    assert cited_answer(answer_of(hit, relevant=False)) == CitedAnswer((), NOTHING_RELEVANT)
    assert cited_answer(answer_of()) == CitedAnswer((), NOTHING_RELEVANT)
    bare = make_hit("Kazakhstan seeks $60 million.", None)
    assert cited_answer(answer_of(bare)) == CitedAnswer((), NOT_HIGHLIGHTED)


def test_score_spread_is_the_rankings_own_unit() -> None:
    assert score_spread(Mode.HYBRID, [9.0, 1.0, -3.0]) == 1.0  # fused scores are z-scores
    assert score_spread("dense", [0.7, 0.5]) == pytest.approx(0.1)
    assert score_spread(Mode.LEXICAL, [12.0]) == 0.0


_SENTENCES = st.lists(
    st.text(alphabet=st.sampled_from("abcXYZ ¶.()[]/\n“”\"'0123456789"), min_size=1, max_size=60),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_SENTENCES, min_size=1, max_size=10), st.data())
def test_property_every_part_is_its_cited_text_and_the_line_is_short(
    paragraphs: list[list[str]], data: st.DataObject
) -> None:
    hits = []
    for i, sentences in enumerate(paragraphs, 1):
        text = " ".join(sentences)
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, len(text)))
        highlight = (start, end) if data.draw(st.booleans()) else None
        hit = make_hit(text, None, rank=i, score=data.draw(st.floats(-3, 9)), label=f"¶{i}")
        hits.append(replace(hit, highlight=highlight))
    line = cited_answer(answer_of(*hits, spread=data.draw(st.floats(0, 3))))
    by_citation = {h.citation: h for h in hits}
    for part in line.parts:
        hit = by_citation[part.citation]
        assert hit.highlight is not None
        assert hit.highlight[0] <= part.start < part.end <= hit.highlight[1]
        assert hit.text[part.start : part.end] == part.text and part.text.strip() == part.text
    assert line.words() <= MAX_WORDS or len(line.parts) == 1
    assert bool(line.parts) != bool(line.note)


# -- every dev question, on the 1,295-cable index ------------------------------------------


@pytest.fixture(scope="module")
def dev_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built index of the 1,295 sample cables where this checkout has it (read-only;
    one of an older schema is copied and migrated, as `qa index` would), else an index of
    the dev questions' own cables."""
    if (BENCH_INDEX / "pilcrow.sqlite").exists():
        return _current_schema(BENCH_INDEX, tmp_path_factory)
    from qa.factory import build_index

    corpus = tmp_path_factory.mktemp("dev-corpus")
    for doc_id in {json.loads(line)["doc"] for line in DEV_QUESTIONS.open(encoding="utf-8")}:
        shutil.copy(cable_path(doc_id), corpus / f"{doc_id}.html")
    index = tmp_path_factory.mktemp("dev-index")
    build_index(corpus, index)
    return index


def _current_schema(index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``index`` itself when it is of this schema, else a migrated copy (never changed)."""
    import sqlite3

    from qa import store
    from qa.locations import db_path
    from qa.store import schema

    db = sqlite3.connect(f"file:{db_path(index)}?mode=ro", uri=True)
    version = db.execute("PRAGMA user_version").fetchone()[0]
    db.close()
    if version == schema.VERSION:
        return index
    copy = tmp_path_factory.mktemp("dev-index-migrated") / "index"
    shutil.copytree(index, copy, ignore=shutil.ignore_patterns("*.lock", "*-shm"))
    store.connect(db_path(copy)).close()
    return copy


def test_every_dev_answer_is_verbatim_at_its_citation_and_short(dev_index: Path) -> None:
    from qa.factory import open_searcher

    searcher = open_searcher(dev_index)
    questions = [json.loads(line) for line in DEV_QUESTIONS.open(encoding="utf-8")]
    assert len(questions) == 40
    answered = 0
    for question in questions:
        for mode in Mode:
            answer = searcher.ask(question["question"], k=10, mode=mode)
            line = cited_answer(answer)
            for part in line.parts:  # a cable may number two paragraphs alike (¶1, ¶1)
                cited = [h.text for h in answer.hits if h.citation == part.citation]
                assert any(t[part.start : part.end] == part.text for t in cited), part
            assert line.words() <= MAX_WORDS or len(line.parts) == 1, (question["id"], mode)
            speaks = any(h.highlight for h in answer.hits if h.label != "(header)")
            assert bool(line.parts) == (answer.relevant and speaks), (question["id"], mode)
            answered += bool(line.parts)
    searcher.close()
    assert answered >= 100  # of 120 (measured: 120 on the 1,295 cables)


# -- the line in `qa ask`, the TUI and the export ---------------------------------------------


def test_ask_json_and_text_lead_with_the_cited_answer(seed_index: Path) -> None:
    runner = CliRunner()
    index = ["--index", str(seed_index)]
    result = runner.invoke(cli, ["ask", DAMAGES, "--json", *index])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    [part] = data["answer"]
    assert set(part) == {"text", "citation"} and part["citation"] == "07MOSCOW5292 ¶3"
    assert " ".join(part["text"].split()) == DAMAGES_SENTENCE
    assert part["text"] in data["results"][0]["text"]
    text = runner.invoke(cli, ["ask", DAMAGES, "-k", "2", *index]).stdout.splitlines()
    assert text[0] == f"Answer: {DAMAGES_SENTENCE} [07MOSCOW5292 ¶3 (SBU)]"
    assert text[1] == "" and text[2].startswith("1. 07MOSCOW5292 ¶3")
    batch = runner.invoke(cli, ["ask", "-", "-k", "1", *index], input=f"{DAMAGES}\n")
    assert json.loads(batch.stdout)["answer"] == data["answer"]


def test_ask_says_when_nothing_answers(seed_index: Path) -> None:
    runner = CliRunner()
    args = ["ask", "chocolate cake recipe", "-k", "1", "--index", str(seed_index)]
    assert json.loads(runner.invoke(cli, [*args, "--json"]).stdout)["answer"] == []
    result = runner.invoke(cli, args)
    assert result.stdout.splitlines()[0] == f"Answer: {NOTHING_RELEVANT}"
    assert "looks relevant" in result.stderr


def test_corpus_text_in_the_line_is_never_markup() -> None:
    text = "The report said [bold]x[/bold] and [red]nothing[/red] more."
    line = cited_answer(answer_of(make_hit(text, text)))
    content = answer_content(line)
    assert content.plain == f"Answer {text} 07MOSCOW5292 ¶3"
    citation = content.plain.index("07MOSCOW5292")
    assert any(s.start <= citation < s.end and "bold" in str(s.style) for s in content.spans)
    assert answer_markdown(line) == f"**Answer:** {text} [07MOSCOW5292 ¶3]"
    assert answer_markdown(CitedAnswer((), NOTHING_RELEVANT)) == f"**Answer:** _{NOTHING_RELEVANT}_"


async def test_tui_shows_the_answer_line_above_the_cards_and_exports_it(seed_index: Path) -> None:
    from tests.test_tui import ask, text_of
    from tui.app import PilcrowApp

    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await ask(pilot, DAMAGES)
        shown = view.query_one(".answer")
        assert text_of(shown) == f"Answer {DAMAGES_SENTENCE} 07MOSCOW5292 ¶3 (SBU)"
        assert view.cards[0].citation == "07MOSCOW5292 ¶3"
        assert shown.region.y < view.query_one(".note").region.y < view.cards[0].region.y
        markdown = conversation_markdown(app.chat.conversation.turns)
        assert f"**Answer:** {DAMAGES_SENTENCE} [07MOSCOW5292 ¶3 (SBU)]" in markdown
        assert markdown.index("**Answer:**") < markdown.index("### 1. 07MOSCOW5292 ¶3")
