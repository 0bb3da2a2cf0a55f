"""``qa audit`` over the 1,295 cables: the numbering decisions, pinned so changes show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.audit import AuditReport, audit_corpus, format_report
from qa.ingest import discover

ROOT = Path(__file__).parents[1]
CABLES = ROOT.parent / "shared" / "corpus" / "cablegate"

# Cables with no paragraph number at all: most were published cut off after the header
# ("SUBJECT: ... ..."), the rest are unnumbered messages. The other 11 of the 25 cables
# without anchors print "1.(C)" numbers that the converter did not anchor.
UNNUMBERED = [
    "06KABUL3934", "07BAGHDAD3504", "08KUALALUMPUR317", "09BERLIN406", "09DUSHANBE575",
    "09MADRID604", "09STATE63812", "09SAOPAULO487", "09BERLIN1273", "09CARACAS1296",
    "09KABUL3423", "09ANKARA1594", "10CARACAS107", "10MADRID49",
]  # fmt: skip


@pytest.fixture(scope="module")
def report() -> AuditReport:
    return audit_corpus(discover(CABLES), root=CABLES)


def test_audit_figures(report: AuditReport) -> None:
    assert (report.files, report.cables, report.articles, report.errors) == (1295, 1295, 0, [])
    assert report.anchors == 13_567  # numeric parN anchors on the pages
    assert report.letter_anchors == 837  # parA, parB... of reference lists
    assert report.anchored_paragraphs == 13_399
    assert len(report.rejected) == 168 == report.anchors - report.anchored_paragraphs
    assert report.unmarked_splits == 200  # "12.(C)" and anchor-less cables' "1.(S)"
    assert report.numbered_paragraphs == 13_599 == 13_399 + 200
    assert report.repeats == 23
    assert report.restarts == 10
    assert len(report.no_anchor_cables) == 25
    assert report.unnumbered_cables == UNNUMBERED
    assert report.rejected_by_reason == {
        "list inside a paragraph": 80,
        "not a paragraph number": 62,  # years, 1737 (UNSCR), 0200 (a time)
        "mid-sentence number breaks the sequence": 25,  # "on June\n15."
        "mid-sentence number that a later paragraph takes (a contents list?)": 1,
    }


def test_audit_lists_the_rejected_anchors(report: AuditReport) -> None:
    rejected = {(doc, anchor) for doc, anchor, _ in report.rejected}
    assert ("09TELAVIV1098", "¶2008") in rejected
    assert ("09BEIJING1970", "¶15") in rejected
    assert ("08TBILISI1341", "¶0200") in rejected
    assert not any(doc == "10USNATO52" for doc, _ in rejected)


def test_format_and_json(report: AuditReport) -> None:
    text = format_report(report)
    assert "¶N anchors present                   13,567" in text
    assert "cables without ¶ anchors                 25" in text
    assert "09BERLIN406" in text
    data = json.loads(json.dumps(report.to_json()))
    assert data["anchors_rejected"] == 168
    assert {"doc": "09TELAVIV1098", "anchor": "¶2008", "reason": "not a paragraph number"} in (
        data["rejected"]
    )


def test_audit_seed_corpus() -> None:
    report = audit_corpus(discover(ROOT / "corpus"))
    assert (report.files, report.cables, report.articles) == (2, 1, 1)
    assert (report.anchors, report.numbered_paragraphs, report.rejected) == (7, 7, [])


def test_audit_reports_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "bad.html").write_text("<html>no body</html>")
    (tmp_path / "empty.txt").write_bytes(b"")
    report = audit_corpus(discover(tmp_path), root=tmp_path)
    assert report.errors == [
        ("bad.html", "bad.html: not a cable page (no <pre> body)"),
        ("empty.txt", "empty.txt: empty file"),
    ]
    assert "files that failed to parse" in format_report(report)
