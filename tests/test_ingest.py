"""Ingestion pinned on real documents: the two seeds and named cables from ../shared.

Citations are the product: these tests fix which label each paragraph gets, where it starts
and ends, and that converter artefacts and page breaks never leak into a passage.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from qa.errors import IngestError
from qa.ingest import cable_html, discover, pagebreaks, parse_file, parse_text
from qa.ingest.decode import decode_bytes
from qa.models import DocKind, Document, Passage
from tests.conftest import CABLES, SEEDS, cable_path


def cable(doc_id: str) -> Document:
    return parse_file(cable_path(doc_id), root=CABLES)


def labels(doc: Document) -> list[str]:
    return [p.label for p in doc.passages]


def passage(doc: Document, label: str, nth: int = 0) -> Passage:
    return [p for p in doc.passages if p.label == label][nth]


def assert_consistent(doc: Document) -> None:
    for p in doc.passages:
        assert doc.body[p.start : p.end] == p.text
        assert p.text and p.text == p.text.strip()
        assert not pagebreaks.contains_break(p.text)


# --- the seed cable ---------------------------------------------------------------------

MOSCOW = [  # label, heading, first words, last words
    ("¶1", "Summary", "¶1. (SBU) Russian officials", "space travel. End Summary."),
    ("¶2", '"Two Brothers"', "¶2. (SBU) On October 30,", "cooperation in Baikonur."),
    ("¶3", "", "¶3. (SBU) Lisitsin admitted", "Satellite System) satellites."),
    ("¶4", "Space in the Far East", "¶4. (SBU) In September,", "for the new site."),
    ("¶5", "Chinese on the ISS?", "¶5. (SBU) Following the October", "China might play."),
    ("¶6", "State: The Final Frontier", "¶6. (SBU) Lisitsin stressed", "officials shrugged."),
    ("¶7", "Comment", "¶7. (SBU) Lisitsin's downplaying", "space tourists. BURNS"),
]


@pytest.fixture(scope="module")
def moscow() -> Document:
    return parse_file(SEEDS / "07MOSCOW5292.txt", root=SEEDS)


def test_moscow_metadata(moscow: Document) -> None:
    assert moscow.doc_id == "07MOSCOW5292"
    assert moscow.kind == DocKind.CABLE
    assert moscow.source == "07MOSCOW5292.txt"
    assert moscow.title == "ROSCOSMOS ON SPACE COOPERATION WITH KAZAKHSTAN, AND OTHERS"
    assert moscow.date == "2007-11-07"
    assert moscow.classification == "UNCLASSIFIED//FOR OFFICIAL USE ONLY"
    assert moscow.origin == "Embassy Moscow"
    assert moscow.tags == ("TSPA", "TSPL", "NASA", "PREL", "PGOV", "KZ", "RS")


def test_moscow_passages(moscow: Document) -> None:
    assert labels(moscow) == ["(header)"] + [label for label, *_ in MOSCOW]
    for (label, heading, first, last), p in zip(MOSCOW, moscow.passages[1:], strict=True):
        words = " ".join(p.text.split())
        assert words.startswith(first), label
        assert words.endswith(last), label
        assert p.heading == heading, label
        assert p.paragraph == int(label[1:])
    assert_consistent(moscow)


def test_moscow_page_break_repaired(moscow: Document) -> None:
    p7 = passage(moscow, "¶7")
    assert "OF 002" not in moscow.body  # both page markers gone, not just from passages
    assert "MOSCOW 0000" not in p7.text
    assert "Comment" not in p7.text and "-------" not in p7.text  # the heading is apart
    assert moscow.body[: p7.start].rstrip().endswith("Comment\n-------")  # rejoined
    p6 = passage(moscow, "¶6")
    assert p6.text.endswith("Roscosmos officials shrugged.")  # not "...\n\nComment"


def test_moscow_header(moscow: Document) -> None:
    header = passage(moscow, "(header)")
    assert header.paragraph is None
    assert "SUBJECT: ROSCOSMOS ON SPACE COOPERATION WITH KAZAKHSTAN,\nAND OTHERS" in header.text
    assert "VZCZC" not in moscow.body  # routing header skipped, as on the HTML pages
    assert "SECTION 01 OF 02" not in moscow.body
    assert "Summary" not in header.text  # it is ¶1's heading


# --- the seed article -------------------------------------------------------------------

ARTICLE_STARTS = [
    "While the White House and Congress are engaged in a tug-of-war",
    "Kazcosmos Chairman Talgat Musabayev recently led a delegation",
    "On the first day of the visit the delegation met",
    "During the talks\u00a0the head of Kazcosmos",
    "“This\u00a0 framework agreement will form the basis",
    "According to the head Kazkosmos, China’s space industry",
    "Last month, a Chinese delegation visited Kiev",
    "The program included over 50 joint projects",
]


def test_article_seed() -> None:
    doc = parse_file(SEEDS / "china-finds-eager-space-partners.txt", root=SEEDS)
    assert doc.kind == DocKind.ARTICLE
    assert doc.doc_id == "china-finds-eager-space-partners"
    assert doc.title == "China Finds Eager Space Partners in Ukraine, Kazakhstan"
    title, *paragraphs = doc.passages
    assert (title.label, title.paragraph, title.text) == ("(title)", None, doc.title)
    assert [p.label for p in paragraphs] == [f"¶{n}" for n in range(1, 9)]
    assert [p.paragraph for p in paragraphs] == list(range(1, 9))
    for p, start in zip(paragraphs, ARTICLE_STARTS, strict=True):
        assert p.text.startswith(start)
    assert paragraphs[1].text.endswith("Kazcosmos PAO reports:")
    assert paragraphs[-1].text.endswith("rocketry equipment and instrumentation.")
    assert_consistent(doc)


def test_markdown_article_and_latin1(tmp_path: Path) -> None:
    md = tmp_path / "note.md"
    text = "---\nauthor: x\n---\n# Caf\xe9 talk\n\nFirst \x93quoted\x94.\r\n\r\nSecond.\n"
    md.write_bytes(text.encode("latin-1"))
    doc = parse_file(md, root=tmp_path)
    assert [(p.label, p.text) for p in doc.passages] == [
        ("(title)", "Café talk"),
        ("¶1", "First “quoted”."),  # CP1252 quotes, not C1 controls
        ("¶2", "Second."),
    ]
    assert doc.doc_id == "note" and doc.title == "Café talk"


# --- named cables -----------------------------------------------------------------------


def test_telaviv_year_anchor_is_not_a_paragraph() -> None:
    doc = cable("09TELAVIV1098")
    assert labels(doc) == ["(header)"] + [f"¶{n}" for n in range(1, 28)]
    p4 = passage(doc, "¶4")
    assert "in December\n2008. He promised to add 1,000 officers" in p4.text  # glyph dropped
    assert "¶2008" not in doc.body
    assert p4.text.endswith("his home in Herzliya.")
    assert passage(doc, "¶2").heading == "Crime War Hits the Streets of Israel"
    assert passage(doc, "¶27").heading == "Comment: Israeli OC Slipping Through the Consular Cracks"
    assert "OC\nfamilies collect bottles" in passage(doc, "¶6").text  # gap left by WikiLeaks closed
    assert (doc.date, doc.classification, doc.origin) == (
        "2009-05-15 14:02",
        "UNCLASSIFIED",
        "Embassy Tel Aviv",
    )
    assert doc.tags[:3] == ("CVIS", "SNAR", "CMGT")
    assert doc.title == "ISRAEL, A PROMISED LAND FOR ORGANISED CRIME?"
    assert doc.source == os.path.join("2009", "05", "09TELAVIV1098.html")


def test_usnato_repeated_paragraph_number() -> None:
    doc = cable("10USNATO52")
    assert labels(doc) == ["(header)", "¶1", "¶2", "¶2"] + [f"¶{n}" for n in range(3, 11)]
    first, second = passage(doc, "¶2"), passage(doc, "¶2", 1)
    assert first.paragraph == second.paragraph == 2
    assert first.text.startswith("¶2. (C) SUMMARY: On February 3, German PermRep")
    assert second.text.startswith("¶2. (C/REL GERMANY) On February 3, German PermRep")
    assert second.heading == "Germany: Why Has Our Money Not Been Used on Our Projects?"


def test_beijing_date_anchor_stays_in_paragraph_2() -> None:
    doc = cable("09BEIJING1970")
    assert labels(doc) == ["(header)"] + [f"¶{n}" for n in range(1, 14)]
    p2 = passage(doc, "¶2")
    assert "in Nankang City, Jiangxi Province, on June\n15. The furniture makers" in p2.text
    assert p2.text.startswith('¶2. (C) A wave of new "mass incidents"')
    assert passage(doc, "¶3").text.startswith("¶3. (C) XXXXXXXXXXXX  emphasized")


def test_lettered_reference_markers_are_text() -> None:
    doc = cable("09STATE37561")
    assert labels(doc) == ["(header)", "¶1", "¶2", "¶3", "¶4"]
    p2 = passage(doc, "¶2")
    assert "\n\nA. (S/NF) The intelligence community relies on State" in p2.text
    assert "¶A" not in doc.body and "¶B" not in doc.body
    peshawar = cable("09PESHAWAR41")  # lettered answers to a questionnaire, one real ¶8
    assert labels(peshawar) == ["(header)", "¶8"]
    assert "A. Yes. There are numerous religious communities" in passage(peshawar, "(header)").text


def test_cable_without_numbered_paragraphs() -> None:
    doc = cable("09BERLIN406")  # WikiLeaks published only the header of this one
    assert labels(doc) == ["(text 1)", "(text 2)"]
    assert all(p.paragraph is None for p in doc.passages)
    assert passage(doc, "(text 2)").text.endswith(
        "SUBJECT: (S) GERMANY TAKING ACTION ON SHIPMENT OF ..."
    )


def test_cable_without_anchors_uses_printed_numbers() -> None:
    doc = cable("07DUBAI355")  # "1.(S) SUMMARY." lines that the converter did not anchor
    numbers = [p.paragraph for p in doc.passages if p.paragraph]
    assert numbers == [*range(1, 15), 16]  # the cable itself skips 15
    assert passage(doc, "¶1").text.startswith("1.(S) SUMMARY.  Senator Joseph Lieberman")
    assert passage(doc, "¶16").text.startswith("16.(U) Senator Lieberman has cleared this cable.")


def test_unmarked_paragraph_between_anchors() -> None:
    doc = cable("09ISLAMABAD415")  # ¶11, then "12.(C)" with no anchor, then ¶13
    assert [p.paragraph for p in doc.passages if p.paragraph] == list(range(1, 22))
    p12 = passage(doc, "¶12")
    assert p12.text.startswith("12.(C) Despite Gilani’s assurance to Shahbaz")
    assert p12.heading == "PPP Moves in on the Punjab"
    assert passage(doc, "¶11").text.endswith("2006 PPP/PML-N Charter of Democracy.")
    assert passage(doc, "¶13").text.startswith("¶13. (C) Principal Officer Lahore met")
    moscow = cable("10MOSCOW293")  # one anchor (¶28) amid 33 unanchored "N.(SBU)" paragraphs
    assert [p.paragraph for p in moscow.passages if p.paragraph] == list(range(1, 35))


def test_page_breaks_removed_and_paragraphs_rejoined() -> None:
    doc = cable("06PARIS2069")
    assert not any("OF 002" in p.text for p in doc.passages)
    assert "PARIS 00002069" not in doc.body
    assert "not to take\ninto account the detainees' previous" in doc.body
    old = cable("90CAPETOWN97")  # 1990 telegram: "PAGE 02 ... 01 OF 03 182017Z" breaks
    assert "PAGE 02" not in old.body
    assert "AND THE\nRELEASE OF SEVERAL POLITICAL PRISONERS" in passage(old, "¶2").text


def test_numbered_list_inside_a_paragraph() -> None:
    doc = cable("09STATE81957")  # action items "1. 2. 3." inside ¶28, then ¶29 resumes
    assert [p.paragraph for p in doc.passages if p.paragraph] == list(range(1, 32))
    p28 = passage(doc, "¶28")
    assert "U.S. side:\n\n1. On Eritrea/Somalia, the U.S. will seek" in p28.text
    assert "3. Propose dates for the next MANPADS Experts meeting" in p28.text
    letter = cable("08LONDON1115")  # a quoted letter with its own 1-7 inside ¶2
    assert labels(letter) == ["(header)", "¶1", "¶2", "¶3"]
    assert "7. I am sure you will understand" in passage(letter, "¶2").text


def test_restarted_and_repeated_numbering() -> None:
    doc = cable("09CAPETOWN204")  # ¶1-¶4, then ¶1 printed again after the page break
    assert labels(doc) == ["(header)", "¶1", "¶2", "¶3", "¶4", "¶1"]
    preamble = cable("09BEIJING2963")  # date/participants ¶1-¶2, then the report from ¶1
    assert labels(preamble)[:5] == ["(header)", "¶1", "¶2", "¶1", "¶2"]
    assert passage(preamble, "¶1", 1).text.startswith("¶1. (S) Summary: Deputy Secretary")


def test_contents_list_is_not_a_run_of_paragraphs() -> None:
    doc = cable("09BERLIN1626")  # "1. Lead Stories ... 5. Healthcare" lines, then sections
    assert labels(doc) == ["(header)", "¶1", "¶1", "¶2", "¶3", "¶4", "¶5"]
    assert "5.   (U.S.)   Healthcare Reform" in passage(doc, "¶1").text


def test_bylined_paragraphs_without_blank_lines() -> None:
    doc = cable("09HARARE888")  # one line per paragraph, numbers skip as printed
    assert labels(doc) == ["(header)", "¶1", "¶3", "¶8", "¶11", "¶12", "¶13", "¶14"]
    assert passage(doc, "¶3").text.startswith("¶3. Warthogs Delay Ambassador’s Arrival")
    assert passage(doc, "¶14").text.startswith("¶14. Sweet Deal for Sable Chemicals")
    assert passage(doc, "¶11").heading == "On the Economic and Business Front"


def test_raw_ampersands_and_stray_markup() -> None:
    assert "HYPERTENSION & DIABETES" in cable("09TRIPOLI475").body
    assert "in R&D; they" in cable("09MOSCOW2723").body
    assert "&processes8; these processes" in cable("10BRUSSELS183").body
    madrid = cable("10MADRID87")  # a lone "<" must not swallow the text after it
    assert labels(madrid) == ["(header)", "¶5"]
    assert "REF: A. 2009 MADRID 59" in passage(madrid, "(header)").text
    lapaz = cable("09LAPAZ96")  # <br> tags before every newline
    assert "<br>" not in lapaz.body
    assert "has made\ninroads into the MAS lead" in passage(lapaz, "¶1").text


# --- discovery and errors ----------------------------------------------------------------


def test_discover(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ["a.txt", "b/c.HTML", "b/d.md", "b/README.md", "README.md", ".x.txt", "e.pdf"]:
        (tmp_path / name).write_text("x")
    (tmp_path / ".hidden" / "f.txt").write_text("x")
    (tmp_path / "b" / "loop").symlink_to(tmp_path, target_is_directory=True)
    found = [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)]
    assert found == ["a.txt", "b/c.HTML", "b/d.md"]


def test_discover_real_corpus() -> None:
    paths = discover(CABLES)
    assert len(paths) == 1295
    assert paths == sorted(paths)
    assert [p.name for p in discover(SEEDS)] == [
        "07MOSCOW5292.txt",
        "china-finds-eager-space-partners.txt",
    ]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "x.html",
            b"<html><body>no cable here</body></html>",
            "x.html: not a cable page (no <pre> body)",
        ),
        ("y.txt", b"", "y.txt: empty file"),
        ("z.txt", b"abc\x00\x01", "z.txt: binary file (NUL bytes)"),
        (
            "w.html",
            b"<pre>VZCZCXYZ0018\nRR RUEHWEB</pre><pre>",
            "w.html: cable page has an empty body",
        ),
        ("v.html", b"<html><pre>VZCZCXYZ0018&#x000A;RR RUEHWEB", "v.html: truncated cable page"),
        ("u.pdf", b"%PDF-1.4", "u.pdf: unsupported file type '.pdf'"),
    ],
)
def test_errors_name_the_file(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(data)
    with pytest.raises(IngestError) as err:
        parse_file(tmp_path / name, root=tmp_path)
    assert str(err.value).startswith(message)


def test_missing_file_is_an_ingest_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"gone\.txt: cannot read"):
        parse_file(tmp_path / "gone.txt", root=tmp_path)


def test_truncated_cable_page_is_best_effort() -> None:
    """`qa audit` reads what a cut page holds; the indexer refuses it (a partial download
    must not replace the whole cable): tests/test_hostile_corpus.py checks the run."""
    html = next(CABLES.glob("*/*/09TELAVIV1098.html")).read_text(encoding="utf-8")
    cut = html[: html.index("¶</a>9.") + 2]  # mid-anchor, in the middle of the body
    doc, _ = cable_html.parse_with_report(cut, "09TELAVIV1098.html", "09TELAVIV1098")
    assert labels(doc) == ["(header)"] + [f"¶{n}" for n in range(1, 9)]
    assert doc.doc_id == "09TELAVIV1098"
    assert_consistent(doc)
    with pytest.raises(IngestError, match=r"^09TELAVIV1098\.html: truncated cable page"):
        parse_text(cut, "09TELAVIV1098.html", ".html")
    assert len(parse_text(html, "09TELAVIV1098.html", ".html").passages) > 9  # whole: parsed


def test_decode_fallbacks() -> None:
    assert decode_bytes("\ufeffa\r\nb\rc".encode(), "f") == "a\nb\nc"
    assert decode_bytes(b"caf\xe9 \x93x\x94", "f") == "café “x”"
    assert decode_bytes("Zoë".encode("utf-16"), "f") == "Zoë"
    assert decode_bytes(b"\x1b[31mred\x1b[0m\x07 text\t", "f") == "red text\t"


def test_text_cable_with_bare_numbers() -> None:
    text = (
        "10XYZ1\nSUBJECT\n2010-01-02\nSECRET\nEmbassy X\n"
        "SUBJECT: TEST\n\n1. (C) First paragraph, on June\n15. people met.\n\n"
        "2. (C) Second.\nXYZ 00000001  002 OF 002\nstill second.\n"
    )
    doc = parse_text(text, "10XYZ1.txt", ".txt")
    assert doc.date == "2010-01-02" and doc.title == "TEST"
    assert [(p.label, p.text) for p in doc.passages] == [
        ("(header)", "SUBJECT: TEST"),
        ("¶1", "1. (C) First paragraph, on June\n15. people met."),
        ("¶2", "2. (C) Second.\nstill second."),
    ]


def test_every_real_cable_is_consistent() -> None:
    for path in discover(CABLES):
        doc = parse_file(path, root=CABLES)
        assert doc.passages, path
        assert_consistent(doc)
        starts = [p.start for p in doc.passages]
        assert starts == sorted(starts)
