"""Hostile questions: no crash, a sensible answer or message, JSON that always parses.

Hand-picked nasties (empty, whitespace, 100 KB, control characters and terminal escapes,
FTS5 operators, unbalanced quotes and brackets, SQL, every kind of Unicode) and
hypothesis-generated text go through ``Searcher.ask`` in every mode and through
`qa ask --json`: the only error allowed is the usage error for an empty question, and
every hit must be a stored passage shown with its stored text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa.cli import cli
from qa.errors import UsageError
from qa.factory import open_searcher
from qa.search.searcher import Searcher
from tests.test_reliability_crash import snapshot

HOSTILE = [
    "",
    "   \t\n  \r\n ",
    "\u00a0\u2003\u3000",  # Unicode spaces only
    "x" * 100_000,
    "Kazakhstan damages " * 6_000,  # ~110 KB of real words
    "\x00\x01\x02\x7f",
    "\x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b[2J damages",
    '"unbalanced quote',
    "'single",
    '""""',
    "(((Proton",
    "Proton)))",
    "[bold]markup[/bold] [link=http://x]y[/link]",
    "{col1 col2}: damages",
    "NEAR(Proton rocket, 2)",
    "Proton AND NOT rocket OR ^damages",
    "-Proton +rocket damag*",
    "search_text:Proton context:Moscow",
    "passages_fts MATCH 'x'",
    "'; DROP TABLE passages; --",
    "%_%\\",
    "*",
    "^",
    ":",
    "¶",
    "¶3 07MOSCOW5292",
    "07moscow5292",
    "\u202eetirw\u202c \u200b\u200d\ufeff",  # bidi override, zero-width
    "e\u0301\u0301\u0301 Z\u0351\u0352\u0357a\u0358l\u0359go",  # combining marks
    "Почему Казахстан требует компенсацию?",
    "哈萨克斯坦要求赔偿多少?",
    "カザフスタンは損害賠償を求めていますか",
    "ما هو التعويض الذي تطلبه كازاخستان؟",
    "כמה פיצויים דורשת קזחסטן?",
    "कज़ाकिस्तान कितना हर्जाना मांग रहा है?",
    "🚀💥🇰🇿 damages?",
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",
    "\U000e0041\U000e0042",  # tag characters
    "\U0010fffd",  # private use, last plane
]
MODES = ("hybrid", "dense", "lexical")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@pytest.fixture(scope="module")
def searcher(seed_index: Path):  # type: ignore[no-untyped-def]
    s = open_searcher(seed_index)
    yield s
    s.close()


@pytest.fixture(scope="module")
def stored(seed_index: Path) -> dict[str, str]:
    snap = snapshot(seed_index)
    assert snap is not None
    return snap.citations()


def _strict_json(text: str) -> object:
    def reject(constant: str) -> object:
        raise ValueError(f"invalid JSON constant {constant}")

    return json.loads(text, parse_constant=reject)


def _assert_answer(searcher: Searcher, stored: dict[str, str], question: str, mode: str) -> None:
    try:
        hits = searcher.ask(question, k=5, mode=mode).hits
    except UsageError as exc:
        assert not question.split(), f"usage error for a real question: {exc}"
        assert "empty" in str(exc)
        return
    assert question.split()
    if mode != "lexical":
        assert hits, "dense search always finds the nearest passages"
    for hit in hits:
        assert stored[hit.citation] == hit.text
        if hit.highlight is not None:
            start, end = hit.highlight
            assert 0 <= start < end <= len(hit.text)


@pytest.mark.parametrize("question", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("mode", MODES)
def test_hostile_question_through_searcher(
    searcher: Searcher, stored: dict[str, str], question: str, mode: str
) -> None:
    _assert_answer(searcher, stored, question, mode)


@pytest.mark.parametrize("question", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_question_through_ask_json(
    seed_index: Path, stored: dict[str, str], question: str
) -> None:
    result = CliRunner().invoke(cli, ["ask", "--index", str(seed_index), "--json", "--", question])
    assert "Traceback" not in result.output
    if not question.split():
        assert result.exit_code == 2 and result.stderr == "Error: the question is empty\n"
        return
    assert result.exit_code == 0, result.output
    data = _strict_json(result.stdout)
    assert isinstance(data, dict) and data["results"]
    for hit in data["results"]:
        assert stored[hit["citation"]] == hit["text"]


def test_hostile_questions_in_text_output_never_reach_the_terminal_raw(seed_index: Path) -> None:
    runner = CliRunner()
    for question in HOSTILE[5:8]:
        result = runner.invoke(cli, ["ask", "--index", str(seed_index), "--", question])
        assert result.exit_code == 0, result.output
        assert not CONTROL.search(result.stdout.replace("\n", "")), repr(result.stdout)
        assert "\x1b" not in result.stderr


def test_hostile_questions_in_a_batch_give_one_json_line_each(
    seed_index: Path, stored: dict[str, str]
) -> None:
    questions = [q for q in HOSTILE if "\n" not in q and "\r" not in q]
    result = CliRunner().invoke(
        cli,
        ["ask", "-", "--index", str(seed_index), "--no-highlight"],
        input="\n".join(questions) + "\n",
    )
    assert result.exit_code == 0, result.output
    lines = [_strict_json(line) for line in result.stdout.splitlines()]
    # blank lines are skipped; everything else gets exactly one answer line, in order
    assert len(lines) == sum(1 for q in questions if q.strip())
    for line in lines:
        assert isinstance(line, dict)
        for hit in line["results"]:
            assert stored[hit["citation"]] == hit["text"]


# -- property tests --------------------------------------------------------------------------

EXAMPLES_SEARCHER = 100
EXAMPLES_CLI = 60
any_text = st.text(max_size=300)  # every Unicode script, controls, unassigned; no surrogates
scripts = st.text(
    st.characters(categories=["L", "M", "N", "P", "S", "Zs"]), min_size=1, max_size=60
)


@settings(
    max_examples=EXAMPLES_SEARCHER,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(question=st.one_of(any_text, scripts), mode=st.sampled_from(MODES))
def test_any_text_is_a_safe_question(
    searcher: Searcher, stored: dict[str, str], question: str, mode: str
) -> None:
    _assert_answer(searcher, stored, question, mode)


@settings(
    max_examples=EXAMPLES_CLI,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(question=st.one_of(any_text, scripts).filter(lambda q: q != "-"))
def test_ask_json_is_always_valid_json(
    seed_index: Path, stored: dict[str, str], question: str
) -> None:
    result = CliRunner().invoke(
        cli, ["ask", "--index", str(seed_index), "--json", "--no-highlight", "--", question]
    )
    assert "Traceback" not in result.output
    if not question.split():
        assert result.exit_code == 2 and result.stderr.startswith("Error: ")
        return
    assert result.exit_code == 0, result.output
    data = _strict_json(result.stdout)
    assert isinstance(data, dict)
    for hit in data["results"]:
        assert stored[hit["citation"]] == hit["text"]


def test_undecodable_question_bytes_do_not_crash(seed_index: Path) -> None:
    """`qa ask $'caf\\xe9'` in a Latin-1 terminal reaches Python as a lone surrogate."""
    result = CliRunner().invoke(
        cli, ["ask", "--index", str(seed_index), "--json", "--", "caf\udce9 damages"]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 0, result.output
