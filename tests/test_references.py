"""REF items: parsed from real cables' headers, stored, resolved, listed by ``qa refs``."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import store
from qa.audit import audit_corpus
from qa.cli import cli
from qa.factory import build_index, open_searcher
from qa.ingest import discover, parse_file
from qa.ingest.references import cable_ids, parse_references
from qa.locations import db_path
from qa.models import Reference
from tests.conftest import CABLES, SEEDS, cable_path
from tests.test_store_compact import as_schema_5

R = Reference

# Each REF block has a different form; the expected items are what the cable says.
NAMED = {
    # "¶B." is a WikiLeaks letter anchor; the year is given; B is not a cable.
    "06PARIS2069": [
        R("A", "05PARIS7528", "05 PARIS 7528 AND PREVIOUS"),
        R("B", None, "01/11/06 PARIS POINTS"),
    ],
    # One item a line, no year: the cable's own (2006).
    "06MADRID766": [
        R("A", "06MADRID720", "MADRID 720"),
        R("B", "06MADRID707", "MADRID 707"),
        R("C", "06OSLO374", "OSLO 374"),
    ],
    # "REF: REFTEL KABUL 02245": the word REFTEL, zero padding.
    "09KABUL2246": [R(None, "09KABUL2245", "KABUL 02245")],
    # Unlettered, colon-separated, one line, in a 1972 cable.
    "72TEHRAN1164": [
        R(None, "72TEHRAN1091", "TEHRAN 1091"),
        R(None, "72TEHRAN263", "TEHRAN 263"),
        R(None, "72MOSCOW1603", "MOSCOW 1603"),
    ],
    # "A) ... B) ... C) SAINZ E-MAIL" / blank line / "OF 10/6 D) STATE 215870".
    "04MADRID3914": [
        R("A", "04MADRID3552", "MADRID 3552"),
        R("B", "04BRUSSELS4080", "BRUSSELS 4080"),
        R("C", None, "SAINZ E-MAIL OF 10/6"),
        R("D", "04STATE215870", "STATE 215870"),
    ],
    # "REF: REF (A) ... (C) SECSTATE" / blank line / "36633": SECSTATE is STATE.
    "05MADRID4026": [
        R("A", "05MADRID3785", "MADRID 3785"),
        R("B", "05MADRID3566", "MADRID 3566"),
        R("C", "05STATE36633", "SECSTATE 36633"),
    ],
    # One "REF A ..." line per item; A is a letter, not a cable.
    "09ABUDHABI754": [
        R("A", None, "SECRETARY'S LETTER TO MBZ ON PUMA HELICOPTERS"),
        R("B", "09STATE76108", "SECSTATE 76108"),
    ],
    # Two cables in one unlettered item, the second with its own year.
    "04RANGOON88": [
        R(None, "04STATE297614", "STATE 297614 AND PREVIOUS"),
        R(None, "03RANGOON1427", "03 RANGOON 1427"),
    ],
    # "REFS:" then "(A) 2005 STATE 165022" lines: four-digit years; (C) is a letter
    # here, not a portion marking.
    "09STATE14070": [
        R("A", "05STATE165022", "2005 STATE 165022"),
        R("B", "05MOSCOW11807", "2005 MOSCOW 11807"),
        R("C", "05STATE117165", "2005 STATE 117165"),
        R("D", "05MOSCOW8915", "2005 MOSCOW 8915"),
        R("E", "04STATE257697", "2004 STATE 257697"),
        R("F", "04MOSCOW15123", "2004 MOSCOW 15123"),
        R("G", "04STATE188657", "2004 STATE 188657"),
        R("H", "04MOSCOW14726", "2004 MOSCOW 14726"),
        R("I", None, "CIS DOC."),
    ],
    # A two-word post, zero-padded numbers, some items a year back.
    "06BUENOSAIRES1462": [
        R("A", "06BUENOSAIRES1090", "BUENOS AIRES 01090"),
        R("B", "06BUENOSAIRES1403", "BUENOS AIRES 01403"),
        R("C", "06BUENOSAIRES2974", "BUENOS AIRES 02974"),
        R("D", "05BUENOSAIRES141", "05 BUENOS AIRES 00141"),
        R("E", "05BUENOSAIRES2835", "05 BUENOS AIRES 02835"),
        R("F", "05BUENOSAIRES115", "05 BUENOS AIRES 00115"),
    ],
    # Not a cable: an intelligence report number.
    "05SANAA923": [R(None, None, "IIR 6906012405")],
    # A long-line page: the block stops at "Classified By:" on the same line.
    "05BRASILIA2767": [
        R("A", "05STATE183800", "STATE 183800"),
        R("B", "05BRASILIA1396", "BRASILIA 1396"),
    ],
    # Dates glued on with "--": still cables.
    "09STATE37561": [
        R("A", "08KIGALI830", "08 KIGALI 00830--05/DEC/2008"),
        R("B", "08STATE122706", "08 STATE 122706--19/NOV/2008"),
        R("C", "04STATE101403", "04 STATE 101403--06/MAY/2004"),
    ],
    "06PARIS2242": [],  # "REF: NONE"
}


@pytest.mark.parametrize("doc_id", list(NAMED))
def test_references_of_named_cables(doc_id: str) -> None:
    assert parse_file(cable_path(doc_id)).references == NAMED[doc_id]


def test_letter_anchors_are_reference_letters_never_paragraphs() -> None:
    page = cable_path("06PARIS2069").read_text(encoding="utf-8")
    assert "<a id='parB' href='#parB'>¶</a>B. 01/11/06 PARIS POINTS" in page
    doc = parse_file(cable_path("06PARIS2069"))
    assert "¶B" not in doc.body and "\nB. 01/11/06 PARIS POINTS" in doc.body
    assert [p.label for p in doc.passages][:3] == ["(header)", "¶1", "¶2"]
    assert all(p.label[1:].isdigit() for p in doc.passages[1:])
    assert doc.references[1].letter == "B"


def test_cable_ids_rules() -> None:
    assert cable_ids("MADRID 720", "06") == ["06MADRID720"]
    assert cable_ids("MADRID 720", "") == []  # no year to give it
    assert cable_ids("STATE CA-3400 NOV 2, 1966", "66") == []  # an airgram, a date
    assert cable_ids("09 XXXXXXXXXXXX 167", "10") == []  # redacted post
    assert cable_ids("IIR 6 902 9698 06", "06") == []
    assert cable_ids("SECDEF DTG261447ZNOV08", "09") == []
    assert cable_ids("DEPTEL 1234", "05") == ["05STATE1234"]
    assert cable_ids("RPO DUBAI 384", "09") == ["09RPODUBAI384"]
    assert cable_ids("USUN NEW YORK 12 AND THE HAGUE 7", "09") == [
        "09USUNNEWYORK12",
        "09THEHAGUE7",
    ]


def test_block_ends_at_classified_by_and_notices() -> None:
    header = (
        "SUBJECT: X\n\nREF: STATE 6461  PLEASE PASS TO RSO, POLOFF.  Classified by DAS\n"
        "¶1. (U) Text"
    )
    assert parse_references(header, "09STATE15113") == [R(None, "09STATE6461", "STATE 6461")]
    assert parse_references("REF: Vladivostok 5\nSensitive but unclassified -- please", "09X1") == [
        R(None, "09VLADIVOSTOK5", "Vladivostok 5")
    ]
    assert parse_references("REFORM: none\nTAGS: PREL", "09X1") == []


def test_audit_counts_references_over_the_sample() -> None:
    report = audit_corpus(discover(CABLES), root=CABLES)
    assert report.ref_blocks == 725  # cables whose header has a REF block
    assert report.ref_items == 1723  # items parsed (one per cable named, else one)
    assert report.ref_cable_ids == 1563  # ... naming a cable
    assert report.ref_resolved == 203  # ... that is one of the 1,295
    data = report.to_json()
    assert (data["ref_blocks"], data["ref_resolved"]) == (725, 203)


# A chain of Madrid cables: 07MADRID173 cites 06MADRID3104 (A) and 06MADRID2657 (B);
# 06MADRID3104 cites 06MADRID2657 (A); 06MADRID2657 cites 06MADRID1914 (A).
CHAIN = ["06MADRID1914", "06MADRID2657", "06MADRID3104", "07MADRID173"]


@pytest.fixture(scope="module")
def chain_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    corpus = tmp_path_factory.mktemp("chain-corpus")
    for doc_id in CHAIN:
        shutil.copy(cable_path(doc_id), corpus / f"{doc_id}.html")
    shutil.copy(SEEDS / "07MOSCOW5292.txt", corpus)
    index = tmp_path_factory.mktemp("chain-index")
    assert build_index(corpus, index).added == 5
    return index


def test_qa_refs_json(chain_index: Path) -> None:
    result = CliRunner().invoke(
        cli, ["refs", "06madrid2657", "--index", str(chain_index), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "doc_id": "06MADRID2657",
        "cites": [
            {"letter": "A", "raw": "MADRID 1914", "doc_id": "06MADRID1914", "in_index": True},
            {"letter": "B", "raw": "MADRID 1799", "doc_id": "06MADRID1799", "in_index": False},
            {"letter": "C", "raw": "MADRID 2374", "doc_id": "06MADRID2374", "in_index": False},
        ],
        "cited_by": [
            {"doc_id": "06MADRID3104", "letter": "A"},
            {"doc_id": "07MADRID173", "letter": "B"},
        ],
    }


def test_qa_refs_text_and_errors(chain_index: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["refs", "06MADRID2657", "--index", str(chain_index)])
    assert result.exit_code == 0
    assert "A. MADRID 1914  → 06MADRID1914\n" in result.stdout
    assert "→ 06MADRID1799 (not in this corpus)" in result.stdout
    assert "06MADRID3104 (ref A)" in result.stdout
    missing = runner.invoke(cli, ["refs", "09NOWHERE1", "--index", str(chain_index)])
    assert missing.exit_code == 1
    assert "no document '09NOWHERE1' in the index" in missing.stderr
    seed = runner.invoke(cli, ["refs", "07MOSCOW5292", "--index", str(chain_index), "--json"])
    assert json.loads(seed.stdout) == {"doc_id": "07MOSCOW5292", "cites": [], "cited_by": []}


def test_ask_results_count_references(chain_index: Path) -> None:
    searcher = open_searcher(chain_index)
    try:
        answer = searcher.ask("Spain", k=20, mode="lexical")
        counts = {h.doc_id: (h.cites, h.cited_by) for h in answer.hits}
        assert counts["06MADRID2657"] == (3, 2)
        assert counts["06MADRID3104"] == (3, 1)
        by_doc = {h.doc_id: h.to_json() for h in answer.hits}
        assert (by_doc["07MADRID173"]["cites"], by_doc["07MADRID173"]["cited_by"]) == (4, 0)
        doc = searcher.document("07MADRID173")
        assert doc is not None and doc.references[:2] == [
            R("A", "06MADRID3104", "2006 MADRID 3104"),
            R("B", "06MADRID2657", "2006 MADRID 2657"),
        ]
    finally:
        searcher.close()


def _make_old(index: Path) -> None:
    """Turn an index into one written before references and markings (schema 4,
    chunker ingest-2): laid out as schema 5 was, then the columns and the refs table gone."""
    as_schema_5(index)
    db = sqlite3.connect(db_path(index))
    with db:
        db.execute("DROP TABLE refs")
        db.execute("ALTER TABLE passages DROP COLUMN paragraph_class")
        for column in ("classified_by", "reasons", "declassify_on"):
            db.execute(f"ALTER TABLE documents DROP COLUMN {column}")
        db.execute("UPDATE manifest SET value = 'ingest-2' WHERE key = 'chunker'")
    db.execute("PRAGMA user_version = 4")
    db.close()


def test_an_index_built_before_reparses_and_embeds_nothing(
    chain_index: Path, fresh_copy, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    index = fresh_copy(chain_index, "old-index")
    _make_old(index)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for doc_id in CHAIN:
        shutil.copy(cable_path(doc_id), corpus / f"{doc_id}.html")
    shutil.copy(SEEDS / "07MOSCOW5292.txt", corpus)
    summary = build_index(corpus, index)
    assert summary.rebuilt == "chunker or view format changed: re-parsing all documents"
    assert (summary.added, summary.changed, summary.unchanged) == (0, 0, 5)
    assert summary.passages_embedded == 0  # views unchanged: every vector is cached
    db = store.connect(db_path(index), readonly=True)
    try:
        assert store.read_manifest(db).chunker == "ingest-3"
        assert store.citing(db, "06MADRID2657") == [("06MADRID3104", "A"), ("07MADRID173", "B")]
        doc = store.get_document(db, "07MOSCOW5292")
        assert doc is not None and doc.passages[3].paragraph_class == "SBU"
    finally:
        db.close()
    again = build_index(corpus, index)  # and then it is a no-op again
    assert (again.unchanged, again.passages_embedded, again.rebuilt) == (5, 0, "")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_source_pane_lists_references_and_opens_them(chain_index: Path) -> None:
    from tests.test_tui import NotifiedApp, ask, open_first_card, text_of, wait_ready, wait_until
    from tui.export import conversation_markdown
    from tui.widgets.source import ReferenceLink
    from tui.widgets.transcript import ResultCard

    app = NotifiedApp(chain_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await ask(pilot, "CIA flights: the judge orders declassification")
        assert app.query(ResultCard).first().hit.doc_id == "07MADRID173"
        card = next(c for c in app.query(ResultCard) if c.hit.paragraph is not None)
        shown = f"{card.hit.doc_id} {card.hit.label} ({card.hit.paragraph_class})"
        assert card.hit.paragraph_class and shown in text_of(card)
        exported = conversation_markdown(app.chat.conversation.turns)
        assert f". {shown} — SPAIN/CIA FLIGHTS" in exported
        pane = await open_first_card(pilot)
        links = list(pane.query(ReferenceLink))
        assert [(x.reference.letter, x.reference.target, x.indexed) for x in links] == [
            ("A", "06MADRID3104", True),
            ("B", "06MADRID2657", True),
            ("C", "06MADRID2374", False),
            ("D", "06MADRID1799", False),
        ]
        assert "REF A. 2006 MADRID 3104 → 06MADRID3104" in text_of(links[0])
        assert "(not in this corpus)" in text_of(links[2])
        links[0].focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: pane.doc_id == "06MADRID3104")
        assert pane.cited is None  # opened from a reference: no paragraph is cited
        missing = [x for x in pane.query(ReferenceLink) if x.reference.target == "06MADRID1799"]
        await pilot.click(missing[0])
        await wait_until(pilot, lambda: "06MADRID1799 is not in this corpus." in app.notified)
        assert pane.doc_id == "06MADRID3104"
