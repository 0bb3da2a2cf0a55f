"""Paragraph classification: each paragraph's own marking, the cable's Classified-by line,
the ``--paragraph-class`` filter (SQL and FAISS paths) and the marking beside citations."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import cli
from qa.factory import build_index, open_searcher
from qa.ingest import parse_file
from qa.ingest.markings import authority, normalise, opening_end, paragraph_class
from qa.models import FILTER_FIELDS, Answer, Filters, Hit, Mode
from qa.portion import filter_value
from qa.search.answer import cited_answer
from tests.conftest import SEEDS, cable_path

FIELD = next(f for f in FILTER_FIELDS if f.name == "paragraph_class")


@pytest.mark.parametrize(
    ("written", "normal"),
    [
        ("C", "CONFIDENTIAL"),
        ("S", "SECRET"),
        ("SBU", "SBU"),
        ("S/NF", "SECRET//NOFORN"),
        ("U", "UNCLASSIFIED"),
        ("C/NF", "CONFIDENTIAL//NOFORN"),
        ("S//NF", "SECRET//NOFORN"),
        ("c", "CONFIDENTIAL"),
        ("s/nf", "SECRET//NOFORN"),
        (" C ", "CONFIDENTIAL"),
        ("C NF", "CONFIDENTIAL//NOFORN"),
        ("S-NF", "SECRET//NOFORN"),
        ("SNF", "SECRET//NOFORN"),
        ("U//FOUO", "UNCLASSIFIED//FOUO"),
        ("SBU/NF", "SBU//NOFORN"),
        ("S//FGI//NF", "SECRET//FGI//NOFORN"),
        ("S//Rel NATO, ISAF", "SECRET//REL TO NATO, ISAF"),
        ("S//REL TO USA, FVEY", "SECRET//REL TO USA, FVEY"),
        ("Secret/Rel Armenia", "SECRET//REL TO ARMENIA"),
        ("C - ENTIRE TEXT", "CONFIDENTIAL"),
        ("TS", "TOP SECRET"),
    ],
)
def test_markings_normalise(written: str, normal: str) -> None:
    assert normalise(written) == normal


@pytest.mark.parametrize("written", ["U.S.", "Iran", "China", "/Rel UK", "N/SF", "C XXXXXX, too"])
def test_parentheses_that_are_not_markings(written: str) -> None:
    assert normalise(written) is None


def test_paragraph_class_reads_only_the_opening_marking() -> None:
    assert paragraph_class("¶3. (SBU)  Russian officials") == "SBU"
    assert paragraph_class("12.(C) Unanchored") == "CONFIDENTIAL"
    assert paragraph_class("¶1. SECRET - ENTIRE TEXT.") is None
    assert paragraph_class("¶2. The minister (S) said") is None


@pytest.mark.parametrize(
    ("text", "lead", "marked"),
    [
        ("¶3. (SBU)  Russian officials", "¶3. (SBU)", "SBU"),
        ("12.(C) Unanchored", "12.(C)", "CONFIDENTIAL"),
        ("¶4. (SNF) The slash left out", "¶4. (SNF)", "SECRET//NOFORN"),
        ("¶5. (C - ENTIRE TEXT) Said", "¶5. (C - ENTIRE TEXT)", "CONFIDENTIAL"),
        ("(S/NF) No number", "(S/NF)", "SECRET//NOFORN"),
        ("¶6. (U.S.) officials said", "¶6.", None),  # a number, and no marking
        ("¶7. The minister (S) said", "¶7.", None),
        ("Kazakhstan seeks damages", "", None),
    ],
)
def test_one_opening_pattern_for_the_index_and_the_answer_line(
    text: str, lead: str, marked: str | None
) -> None:
    """``markings.OPENING`` is what the indexer reads, the answer line cuts and the TUI
    styles: a marking is cut exactly when it is one the index stores."""
    assert paragraph_class(text) == marked
    assert text[: opening_end(text)] == lead
    assert opening_end("  " + text) == len(lead) + 2  # white space before it is skipped
    hit = Hit(
        1, 1, "07MOSCOW5292", "¶3", 3, 5.0, text, "", "S", "2007", "", "", "s", (0, len(text))
    )
    [part] = cited_answer(Answer("q", [hit], 0.6, True, 1.0)).parts
    assert part.text == text[len(lead) :].lstrip()


def test_named_paragraphs_keep_their_own_marking() -> None:
    seed = parse_file(SEEDS / "07MOSCOW5292.txt")
    assert [(p.label, p.paragraph_class) for p in seed.passages][3] == ("¶3", "SBU")
    assert seed.passages[0].paragraph_class is None  # the header has none of its own
    madrid = parse_file(cable_path("86MADRID5480"))  # a SECRET cable ...
    assert madrid.classification == "SECRET"
    assert [p.paragraph_class for p in madrid.passages[1:]] == [
        "CONFIDENTIAL",  # ... whose paragraphs are marked lower
        "UNCLASSIFIED",
        "CONFIDENTIAL",
    ]
    tehran = parse_file(cable_path("72TEHRAN1164"))  # no markings: none inherited
    assert tehran.passages[1].paragraph_class is None and tehran.classification
    nato = parse_file(cable_path("10USNATO52"))
    assert [p.paragraph_class for p in nato.passages[1:4]] == [
        "SBU",
        "CONFIDENTIAL",
        "CONFIDENTIAL//REL TO GERMANY",
    ]
    rangoon = parse_file(cable_path("04RANGOON88"))
    assert rangoon.passages[1].paragraph_class == "SECRET//NOFORN"


@pytest.mark.parametrize(
    ("doc_id", "by", "reasons", "declassify_on"),
    [
        ("04RANGOON88", "COM Carmen Martinez", "1.5 (b) and (d)", "2014-01-09"),
        # "reasons 1.5 (B) a\nnd (D)." wrapped mid-word
        ("04MADRID3914", "Political Counselor Kathy Fitzpatrick", "1.5 (b) and (d)", "2014-10-05"),
        # "FOR REAS\nONS 1.4 B/D"
        ("05PARIS479", "POLITICAL MINISTER COUNSELOR JOSIAH ROSENBLATT", "1.4 (b) and (d)", ""),
        # "FOR REASON" / blank line / "1.4(C)."
        ("05SOFIA1207", "AMBASSADOR JAMES PARDEW", "1.4 (c)", "2015-07-07"),
        # inline, after the REF item: "Classified by S/CT DAS, Susan F. Burk, Reason: 1/4"
        ("09STATE15113", "S/CT DAS, Susan F. Burk", "1.4 (b), (d), (e) and (g)", "2019-01-29"),
        ("86MADRID5480", "", "", "OADR"),
    ],
)
def test_classified_by(doc_id: str, by: str, reasons: str, declassify_on: str) -> None:
    doc = parse_file(cable_path(doc_id))
    assert doc.classified_by == by
    assert doc.reasons == reasons
    if declassify_on:
        assert doc.declassify_on == declassify_on


def test_authority_of_plain_text() -> None:
    text = (
        "E.O. 12958: DECL: 11/07/17\nTAGS: PREL\n\nClassified By: DCM Richard LeBaron for "
        "reasons 1.4, b/d.\n\n¶1. (C) Text"
    )
    found = authority(text)
    assert (found.classified_by, found.reasons, found.declassify_on) == (
        "DCM Richard LeBaron",
        "1.4 (b) and (d)",
        "2017-11-07",
    )
    assert authority("no such line") == type(found)()


def test_filter_values_are_read_like_markings() -> None:
    assert filter_value("S/NF") == "SECRET//NOFORN"
    assert filter_value("c") == "CONFIDENTIAL"
    assert filter_value("noforn") == "NOFORN"
    assert filter_value("nf") == "NOFORN"
    assert filter_value("Rel to UK") == "REL TO UK"
    assert filter_value("NF/REL UK") == "NOFORN//REL TO UK"
    assert FIELD.value("s//nf") == "SECRET//NOFORN"  # where the CLI and the TUI read it


@pytest.mark.parametrize("bad", ["SECRT", "REL TO", "ENTIRE TEXT", "Iran", "S/XX"])
def test_a_value_that_is_no_paragraph_class_is_refused_naming_the_valid_ones(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a paragraph class: use a level") as caught:
        filter_value(bad)
    for valid in ("TOP SECRET", "CONFIDENTIAL", "SBU", "NOFORN", "REL TO <COUNTRIES>", "S/NF"):
        assert valid in str(caught.value)


def test_a_misspelt_paragraph_class_is_a_usage_error(mixed_index: Path) -> None:
    args = ["ask", "Burma reactor", "--index", str(mixed_index), "--mode", "lexical"]
    result = CliRunner().invoke(cli, [*args, "--paragraph-class", "SECRT"])
    assert result.exit_code == 2, result.output
    assert "'SECRT' is not a paragraph class: use a level (TOP SECRET, SECRET," in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    spelt = CliRunner().invoke(cli, [*args, "--paragraph-class", "s/nf", "--json"])
    assert spelt.exit_code == 0, spelt.output
    classes = {r["paragraph_class"] for r in json.loads(spelt.stdout)["results"]}
    assert classes == {"SECRET//NOFORN"}
    assert [f.name for f in FILTER_FIELDS] == [
        "origin",
        "since",
        "until",
        "classification",
        "paragraph_class",
        "tag",
        "doc_id",
    ]


MIXED = ["86MADRID5480", "04RANGOON88", "10USNATO52", "72TEHRAN1164", "05PARIS479"]


@pytest.fixture(scope="module")
def mixed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("mixed-corpus")
    for doc_id in MIXED:
        shutil.copy(cable_path(doc_id), corpus / f"{doc_id}.html")
    shutil.copy(SEEDS / "07MOSCOW5292.txt", corpus)
    index = tmp_path_factory.mktemp("mixed-index")
    assert build_index(corpus, index).added == 6
    return index


@pytest.mark.parametrize("mode", [Mode.LEXICAL, Mode.DENSE, Mode.HYBRID])
def test_paragraph_class_filter_in_sql_and_faiss(mixed_index: Path, mode: Mode) -> None:
    searcher = open_searcher(mixed_index)
    try:
        question = "Burma nuclear reactor arrests in Iraq"
        secret = searcher.ask(question, k=8, mode=mode, filters=Filters(paragraph_class="SECRET"))
        # Every SECRET paragraph of the six cables, and nothing else: 05PARIS479 ¶1 is
        # (SBU) and ¶5 (U) in a SECRET cable; 10USNATO52 is CONFIDENTIAL throughout.
        assert {(h.citation, h.paragraph_class) for h in secret.hits} == {
            ("05PARIS479 ¶2", "SECRET"),
            ("05PARIS479 ¶3", "SECRET"),
            ("05PARIS479 ¶4", "SECRET"),
            ("04RANGOON88 ¶1", "SECRET//NOFORN"),
            ("04RANGOON88 ¶2", "SECRET//NOFORN"),
        }
        nf = "SECRET//NOFORN"  # as FilterField.value reads S/NF: the store compares it as is
        noforn = searcher.ask(question, k=5, mode=mode, filters=Filters(paragraph_class=nf))
        assert [h.doc_id for h in noforn.hits] == ["04RANGOON88"] * 2
        sbu = searcher.ask("Kazakhstan", k=3, mode=mode, filters=Filters(paragraph_class="SBU"))
        assert sbu.hits and all(h.paragraph_class == "SBU" for h in sbu.hits)
        rel = searcher.ask(question, k=3, mode=mode, filters=Filters(paragraph_class="REL TO"))
        assert rel.hits == []  # a run of whole //-parts, not a prefix of one
    finally:
        searcher.close()


def test_marking_beside_the_citation(mixed_index: Path) -> None:
    runner = CliRunner()
    args = ["--index", str(mixed_index), "--mode", "lexical", "--doc", "07MOSCOW5292"]
    result = runner.invoke(cli, ["ask", "Baikonur damages $60 million", "-k", "1", *args])
    assert result.exit_code == 0, result.output
    assert "07MOSCOW5292 ¶3 (SBU)" in result.stdout
    as_json = runner.invoke(cli, ["ask", "Baikonur damages", "-k", "1", "--json", *args])
    hit = json.loads(as_json.stdout)["results"][0]
    assert (hit["citation"], hit["paragraph_class"]) == ("07MOSCOW5292 ¶3", "SBU")
    tehran = runner.invoke(
        cli,
        ["ask", "Azimi recalled", "-k", "1", *args[:4], "--doc", "72TEHRAN1164"],
    )
    assert "1. 72TEHRAN1164 ¶2 (unmarked)  ACCELERATION OF F-4ES" in tehran.stdout
    shown = runner.invoke(cli, ["show", "86MADRID5480", "--index", str(mixed_index), "--json"])
    data = json.loads(shown.stdout)
    assert [p["paragraph_class"] for p in data["passages"]] == [
        None,
        "CONFIDENTIAL",
        "UNCLASSIFIED",
        "CONFIDENTIAL",
    ]
    assert data["declassify_on"] == "OADR"
    text = runner.invoke(cli, ["show", "86MADRID5480", "-p", "2", "--index", str(mixed_index)])
    assert "¶2 (UNCLASSIFIED)" in text.stdout


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_tui_filters_screen_refuses_a_misspelt_class(seed_index: Path) -> None:
    from tui.app import PilcrowApp
    from tui.screens.filters import FiltersScreen, validators

    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert isinstance(app.screen, FiltersScreen)
        (check,) = validators(FIELD)
        assert not check.validate("SECRT").is_valid and check.validate("S/NF").is_valid
        app.screen.query_one("#filter-paragraph_class").focus()
        await pilot.press(*"SECRT", "enter")
        await pilot.pause()
        assert isinstance(app.screen, FiltersScreen)  # refused: the dialog stays open
        await pilot.press(*["backspace"] * 5, *"s/nf", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, FiltersScreen)
        assert app.chat.settings.filters.paragraph_class == "SECRET//NOFORN"


def test_show_text_gives_the_classified_by_line_only_where_the_cable_has_one(
    mixed_index: Path,
) -> None:
    def shown(doc_id: str) -> list[str]:
        args = ["show", doc_id, "-p", "1", "--index", str(mixed_index)]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        return result.stdout.splitlines()

    rangoon = shown("04RANGOON88")
    assert rangoon[2] == (
        "Classified by COM Carmen Martinez · reasons 1.5 (b) and (d) · declassify on 2014-01-09"
    )
    assert rangoon[3] == "" and rangoon[4].startswith("¶1 (SECRET//NOFORN)")
    assert shown("86MADRID5480")[2:4] == ["declassify on OADR", ""]  # only what it gives
    tehran = shown("72TEHRAN1164")
    assert not any(line.startswith(("Classified by", "declassify on")) for line in tehran)
