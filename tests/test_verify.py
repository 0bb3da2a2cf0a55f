"""`qa verify`: quotes found in a draft, aligned word by word, checked against real cables.

The pure parts (finding quotes, aligning one quote with one paragraph) are tested on
strings in milliseconds; the check and the command on an index of the seeds and two
sample cables (real SQLite, FAISS and model), with drafts quoting their paragraphs.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from qa import store
from qa.cli import cli
from qa.errors import ExitCode, ModelError
from qa.locations import db_path
from qa.verify import PARAPHRASE_THRESHOLD, Status, Verifier, align, find_quotes
from qa.verify.dense import SearcherDense
from tests.conftest import SEEDS, cable_path

MOSCOW_6 = (
    "Lisitsin stressed to us that no country that is serious about pursuing a space program "
    "can rely primarily on private industry."
)
SOURCE_6 = """¶6. (SBU)  Lisitsin stressed to us that no country that is
serious about pursuing a space program can rely primarily on
private industry.  The state must play the leading role.
Besides satellite launches, there is little profit to be
found in space, he contended."""
# 09BEIJING1247 ¶6 is cut by the page break "BEIJING 00001247  002 OF 002" after "part of".
ACROSS_PAGE_BREAK = (
    "French DCM Nicholas Chapuis said China's demarche was part of a campaign to limit the "
    "Dalai Lama's travel"
)
NOWHERE = "the delegation agreed to open a permanent consulate in the northern port by spring"


# -- finding quotes ---------------------------------------------------------------------


def test_straight_and_curly_quotes_with_offsets_into_the_draft() -> None:
    draft = 'He said "one two three four" and later “five six seven eight,” she wrote.'
    found = find_quotes(draft)
    assert [q.text for q in found.quotes] == ["one two three four", "five six seven eight,"]
    for quote in found.quotes:
        assert draft[quote.start : quote.end] == quote.text and not quote.block


def test_short_quotes_are_set_aside_and_apostrophes_never_delimit() -> None:
    draft = "The “self-confident” GOR, the state’s “central role” and 'single quoted text here'."
    found = find_quotes(draft)
    assert found.quotes == ()
    assert [(q.text, q.words) for q in found.ignored] == [
        ("self-confident", 1),
        ("central role", 2),
    ]


def test_min_words_counts_words_not_ellipses_or_insertions() -> None:
    found = find_quotes('"[He] said … no"  and "one two three four"')
    assert [q.text for q in found.ignored] == ["[He] said … no"]
    assert [q.text for q in found.quotes] == ["one two three four"]


def test_unclosed_quote_ends_at_its_paragraph() -> None:
    draft = 'An "unclosed quote runs on here\n\nNext paragraph "with a real quote in it" ends.'
    assert [q.text for q in find_quotes(draft).quotes] == ["with a real quote in it"]


def test_quote_running_on_into_the_next_paragraph_newspaper_style() -> None:
    draft = "“First paragraph of a long quote,\n\n“and the second one closes it here.”"
    quotes = find_quotes(draft).quotes
    assert [q.text for q in quotes] == [
        "First paragraph of a long quote,",
        "and the second one closes it here.",
    ]


def test_block_quote_paragraphs_are_quotes_and_their_inline_quotes_are_not() -> None:
    draft = (
        "Intro line.\n\n"
        "> Besides satellite launches, there is little profit to be\n"
        '> found in "space," he contended.\n'
        ">\n"
        "> The state must play the leading role.\n\n"
        'After "the block quote ends here" text.'
    )
    quotes = find_quotes(draft).quotes
    assert [(q.text, q.block) for q in quotes] == [
        (
            'Besides satellite launches, there is little profit to be found in "space," he '
            "contended.",
            True,
        ),
        ("The state must play the leading role.", True),
        ("the block quote ends here", False),
    ]
    first = quotes[0]
    assert draft[first.start : first.end].startswith("Besides") and draft[first.end - 1] == "."


# -- aligning one quote with one paragraph ----------------------------------------------


def test_verbatim_across_the_source_line_breaks() -> None:
    result = align(MOSCOW_6, SOURCE_6)
    assert result.verbatim and result.differences == ()
    assert result.span is not None
    assert " ".join(SOURCE_6[result.span[0] : result.span[1]].split()) == MOSCOW_6


def test_one_word_changed_is_near_and_names_the_word() -> None:
    result = align(MOSCOW_6.replace("country", "nation"), SOURCE_6)
    assert result.near and not result.verbatim
    assert [d.to_json() for d in result.differences] == [
        {"kind": "changed", "quote": "nation", "source": "country"}
    ]


def test_dropped_words_inside_the_quote_are_reported_as_dropped() -> None:
    result = align("Lisitsin stressed that no country that is serious", SOURCE_6)
    assert [(d.kind, d.source) for d in result.differences] == [
        ("dropped", "to"),
        ("dropped", "us"),
    ]
    assert result.matched == 8 and not result.near  # two edits in eight words


def test_a_dropped_negation_or_changed_number_is_never_near() -> None:
    assert not align("Lisitsin stressed to us that country that is serious", SOURCE_6).near
    number = "Kazakhstan reportedly seeks about $60 million in damages for the accident"
    assert align(number.replace("60", "600"), number).differences[0].kind == "changed"
    assert not align(number.replace("60", "600"), number).near


def test_case_and_punctuation_are_differences_but_the_quote_edges_are_the_writers() -> None:
    result = align("the state must play the leading role,", SOURCE_6)
    assert result.verbatim  # first-letter case and the closing comma belong to the writer
    result = align("Lisitsin stressed to US, that no country", SOURCE_6)
    assert [d.to_json() for d in result.differences] == [
        {"kind": "punctuation", "quote": "US,", "source": "us"}
    ]
    result = align("Lisitsin stressed to us that No country", SOURCE_6)
    assert [d.kind for d in result.differences] == ["case"] and result.near


def test_ellipsis_spans_two_sentences_in_order() -> None:
    quote = "no country that is serious … there is little profit to be found in space"
    assert align(quote, SOURCE_6).verbatim
    assert align(quote.replace("…", "..."), SOURCE_6).verbatim
    for mark in ("[...]", "[…]", ". . ."):
        assert align(quote.replace("…", mark), SOURCE_6).verbatim, mark
    backwards = "there is little profit to be found in space … no country that is serious"
    assert not align(backwards, SOURCE_6).verbatim


def test_bracketed_insertions_stand_for_a_few_source_words() -> None:
    assert align("[He] stressed to us that no country that is serious", SOURCE_6).verbatim
    assert align("[T]he state must play the leading role", SOURCE_6).verbatim
    assert align("there is little profit [sic] to be found in space", SOURCE_6).verbatim
    far = "Lisitsin [said] private industry"  # the insertion may not swallow 14 words
    assert not align(far, SOURCE_6).verbatim


def test_curly_apostrophes_and_dashes_match_the_telegram_forms() -> None:
    source = "Lisitsin's downplaying of space tourism -- and praise for the state's role"
    assert align(
        "Lisitsin’s downplaying of space tourism — and praise for the state’s role", source
    ).verbatim


# -- checking against an index ----------------------------------------------------------


@pytest.fixture(scope="module")
def verify_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds plus 09BEIJING1247 (¶6 cut by a page break) and 10USNATO52."""
    from qa.factory import build_index

    corpus = tmp_path_factory.mktemp("verify-corpus")
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, corpus / seed.name)
    for doc_id in ("09BEIJING1247", "10USNATO52"):
        shutil.copy(cable_path(doc_id), corpus / f"{doc_id}.html")
    index = tmp_path_factory.mktemp("verify-index")
    assert build_index(corpus, index).added == 4
    return index


def _verifier(index: Path) -> Verifier:
    from qa.factory import open_searcher

    return Verifier(
        store.connect(db_path(index), readonly=True), SearcherDense(lambda: open_searcher(index))
    )


def test_the_quote_across_a_page_break_of_the_source_is_verbatim(verify_index: Path) -> None:
    raw = html.unescape(cable_path("09BEIJING1247").read_text())
    between = raw[raw.index("demarche was part of") : raw.index("a campaign to limit")]
    assert "BEIJING 00001247  002 OF 002" in between  # the source really is cut there
    report = _verifier(verify_index).verify(f"Officials said “{ACROSS_PAGE_BREAK}.”")
    (check,) = report.checks
    assert (check.status, check.citation, check.score) == (Status.VERBATIM, "09BEIJING1247 ¶6", 1.0)
    assert check.source is not None and "OF 002" not in check.source


def test_a_draft_of_real_quotes_gets_each_verdict(verify_index: Path) -> None:
    draft = (
        f'Lisitsin said "{MOSCOW_6}"\n\n'
        f'He added that "{MOSCOW_6.replace("private", "public")}"\n\n'
        "“Lisitsin admitted that a few ‘delicate’ problems exist with Baikonur … Kazakhstan "
        "reportedly seeks about $60 million in damages for the accident.”\n\n"
        f'Nobody wrote "{NOWHERE}."\n\n'
        "> The state must play the leading role. Besides satellite launches, there is little\n"
        "> profit to be found in space, he contended.\n"
    )
    report = _verifier(verify_index).verify(draft)
    verdicts = [(c.status.value, c.citation) for c in report.checks]
    assert verdicts == [
        ("verbatim", "07MOSCOW5292 ¶6"),
        ("near", "07MOSCOW5292 ¶6"),
        ("verbatim", "07MOSCOW5292 ¶3"),  # curly quotes, nested ‘delicate’, ellipsis
        ("not_found", None),
        ("verbatim", "07MOSCOW5292 ¶6"),  # the block quote
    ]
    near = report.checks[1]
    assert [d.to_json() for d in near.differences] == [
        {"kind": "changed", "quote": "public", "source": "private"}
    ]
    assert near.score == pytest.approx(20 / 21)  # 20 of its 21 words found in order
    assert report.checks[3].score < PARAPHRASE_THRESHOLD  # best sentence cosine, below it
    assert not report.all_verified()


def test_a_paraphrase_is_found_by_meaning_and_cited(verify_index: Path) -> None:
    draft = (
        '"Kazakhstan wants roughly sixty million dollars in compensation for the Proton '
        'rocket crash."'
    )
    (check,) = _verifier(verify_index).verify(draft).checks
    assert (check.status, check.citation) == (Status.PARAPHRASE, "07MOSCOW5292 ¶3")
    assert check.score >= PARAPHRASE_THRESHOLD and check.differences == ()


class _NoModel:
    def embed(self, text: str) -> np.ndarray:
        raise ModelError("model 'missing' is not installed")

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        raise AssertionError("never reached")


def test_without_a_model_unmatched_quotes_fail_with_a_note(verify_index: Path) -> None:
    verifier = Verifier(store.connect(db_path(verify_index), readonly=True), _NoModel())
    report = verifier.verify(f'"{MOSCOW_6}" and "{NOWHERE}" and "{NOWHERE} again"')
    assert [c.status.value for c in report.checks] == ["verbatim", "not_found", "not_found"]
    assert len(report.notes) == 1 and "model 'missing'" in report.notes[0]
    assert verifier.verify(f'"{NOWHERE}"').notes == report.notes  # each report says so


# -- the command ------------------------------------------------------------------------


def _run(index: Path, *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["verify", *args, "--index", str(index)], input=stdin)


def test_json_shape_offsets_and_exit_codes(verify_index: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.md"
    good.write_text(f'# Draft\n\nLisitsin said "{MOSCOW_6}" and "space tourism" too.\n')
    result = _run(verify_index, str(good), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["all_verified"] is True
    (quote,) = data["quotes"]
    assert set(quote) >= {"quote", "start", "end", "status", "citation", "score", "differences"}
    text = good.read_text()
    assert text[quote["start"] : quote["end"]] == MOSCOW_6 == quote["quote"]
    assert (quote["status"], quote["citation"], quote["paragraph_class"]) == (
        "verbatim",
        "07MOSCOW5292 ¶6",
        "SBU",
    )
    assert quote["differences"] == [] and quote["score"] == 1.0
    assert [q["quote"] for q in data["ignored"]] == ["space tourism"]
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    documented = readme[readme.index("`qa verify DRAFT`") :].split("\n- ")[0]
    for key in [*data, *quote]:
        assert f'"{key}"' in documented, f"README does not document {key!r} of qa verify --json"

    bad = _run(verify_index, "-", "--json", stdin=f'"{MOSCOW_6}" and "{NOWHERE}"')
    assert bad.exit_code == ExitCode.NOT_VERIFIED == 7  # not 1: that is an error
    data = json.loads(bad.stdout)
    assert data["all_verified"] is False
    assert [q["status"] for q in data["quotes"]] == ["verbatim", "not_found"]


def test_verify_closes_the_connections_it_opens(
    verify_index: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[sqlite3.Connection] = []
    real = store.connect

    def recording(path: Path, **kwargs: bool) -> sqlite3.Connection:
        db = real(path, **kwargs)
        opened.append(db)
        return db

    monkeypatch.setattr(store, "connect", recording)
    result = _run(verify_index, "-", stdin=f'"{MOSCOW_6}" and "{NOWHERE}"')  # opens the model
    assert result.exit_code == ExitCode.NOT_VERIFIED, result.output
    assert opened
    for db in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            db.execute("SELECT 1")


def test_a_draft_without_quotes_passes_and_says_so(verify_index: Path) -> None:
    result = _run(verify_index, "-", "--json", stdin="No quotes here, only “two words”.\n")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["quotes"] == []
    assert "No quotes to check; 1 under four words ignored." in result.stderr


def test_strict_fails_a_changed_word_that_near_lets_pass(verify_index: Path) -> None:
    draft = f'"{MOSCOW_6.replace("private", "public")}"'
    assert _run(verify_index, "-", stdin=draft).exit_code == 0
    assert _run(verify_index, "-", "--strict", stdin=draft).exit_code == ExitCode.NOT_VERIFIED


def test_text_report_shows_rich_markup_literally(verify_index: Path) -> None:
    draft = (
        '"[bold red]The state must play the leading role[/bold red]" and '
        '"[link=x]no such cable text at all here[/link]"'
    )
    result = _run(verify_index, "-", stdin=draft)
    assert result.exit_code == ExitCode.NOT_VERIFIED
    assert "“[bold red]The state must play the leading role[/bold red]”" in result.stdout
    assert "verbatim  07MOSCOW5292 ¶6 (SBU)" in result.stdout
    assert "[link=x]no such cable text at all here[/link]" in result.stdout
    assert "not found" in result.stdout
    assert "2 quotes: 1 verbatim, 1 not found" in result.stderr


def test_markdown_report_escapes_the_quotes(verify_index: Path) -> None:
    result = _run(verify_index, "-", "--markdown", stdin=f'"*{MOSCOW_6}*"')
    assert result.exit_code == 0, result.output
    assert "- **verbatim** (line 1): “\\*Lisitsin stressed" in result.stdout
    assert result.stdout.startswith("## Quote check: stdin\n")
    assert "— `07MOSCOW5292 ¶6 (SBU)`" in result.stdout  # the paragraph's own marking


def test_a_draft_that_cannot_be_read_is_one_line_and_exit_2(
    verify_index: Path, tmp_path: Path
) -> None:
    missing = _run(verify_index, str(tmp_path / "nope.md"))
    assert missing.exit_code == 2
    assert missing.stderr.strip().splitlines() == [
        f"Error: cannot read draft {tmp_path / 'nope.md'}: No such file or directory"
    ]
    binary = tmp_path / "draft.docx"
    binary.write_bytes(b"PK\x03\x04\x00\x00binary")
    result = _run(verify_index, str(binary))
    assert result.exit_code == 2
    assert re.fullmatch(r"Error: draft .*draft\.docx: binary file .*\n", result.stderr)
    assert _run(verify_index, str(tmp_path)).exit_code == 2  # a folder
