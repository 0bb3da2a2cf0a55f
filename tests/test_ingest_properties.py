"""Property tests: any text or bytes in, a consistent Document or an IngestError out.

Nothing else may escape a parser (one odd file must never stop indexing), and every passage
must point exactly into its document's body.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qa.errors import IngestError
from qa.ingest import article, cable_html, cable_text, pagebreaks, parse_file, parse_text
from qa.ingest.decode import decode_bytes
from qa.models import DocKind, Document

SETTINGS = settings(
    max_examples=int(os.environ.get("PILCROW_FUZZ", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Pieces of real cables, so generated text often looks like one and reaches the deep paths.
FRAGMENTS = [
    "¶1. (C) ",
    "¶2. ",
    "¶2008. ",
    "¶B. PARIS 1871",
    "12.(C) ",
    "3. ",
    "\n",
    "\n\n",
    " ",
    "Comment\n-------\n",
    "-------",
    "MOSCOW 00005292  002.2 OF 002",
    "C O N F I D E N T I A L SECTION 01 OF 04 PARIS 001234",
    "PAGE 02        CAPE T  00097  01 OF 03  182017Z",
    "CONFIDENTIAL",
    "SUBJECT: A SUBJECT LINE",
    "TAGS: PREL PGOV",
    "in December\n",
    "End Summary.",
    "XXXXXXXXXXXX",
    "<a id='par1' href='#par1'>¶</a>1. ",
    "<a id='par2008' href='#par2008'>¶</a>2008. ",
    "<pre>",
    "</pre>",
    "&#x000A;",
    "&amp;",
    "<br>",
    "<",
    "\x1b[31m",
    "\t",
    "# ",
]
cable_like = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=40).map(
    "".join
)
any_text = st.one_of(st.text(max_size=400), cable_like)
TEXT_CABLE_HEAD = "07MOSCOW5292\nSUBJECT\nWed Nov 07 00:00:00 +0100 2007\nUNCLASSIFIED\nEmbassy\n"
HTML_HEAD = (
    "<table class='cable'><tr><th>Reference ID</th><th>Created</th></tr>"
    "<tr><td>09TELAVIV1098</td><td>2009-05-15 14:02</td></tr></table><pre>VZCZC</pre><pre>"
)


def check(doc: Document) -> None:
    """The invariants every caller relies on."""
    last = -1
    for p in doc.passages:
        assert p.text, p
        assert doc.body[p.start : p.end] == p.text
        assert p.text == p.text.strip()
        assert p.start >= last
        last = p.end
        assert (p.paragraph is None) == (not p.label.startswith("¶"))
        if doc.kind == DocKind.CABLE:
            assert not pagebreaks.contains_break(p.text), p.text


def run(parse, *args: object) -> None:  # type: ignore[no-untyped-def]
    try:
        doc = parse(*args)
    except IngestError as exc:
        assert str(exc).startswith(("x", "corpus/x"))  # names the file
        assert "could not be parsed" not in str(exc)  # the crash guard never had to act
        return
    check(doc)


@SETTINGS
@given(any_text)
@example("¶1. a\n\n¶1. b\n\n¶0. c")
@example("x\n\nMOSCOW 00005292  002.2 OF 002\n\n-------")
def test_cable_body_text(text: str) -> None:
    run(cable_text.parse, TEXT_CABLE_HEAD + text, "x.txt")


@SETTINGS
@given(any_text)
def test_cable_text_any_start(text: str) -> None:
    run(cable_text.parse, text, "x.txt")


@SETTINGS
@given(any_text)
def test_cable_html_body(text: str) -> None:
    run(cable_html.parse, HTML_HEAD + text, "x.html", "x")


@SETTINGS
@given(any_text)
def test_cable_html_any(text: str) -> None:
    run(cable_html.parse, text, "x.html", "x")


@SETTINGS
@given(any_text, st.booleans())
def test_article(text: str, markdown: bool) -> None:
    run(article.parse, text, "x.md" if markdown else "x.txt", markdown)


@SETTINGS
@given(any_text, st.sampled_from([".html", ".htm", ".txt", ".md", ".pdf", ""]))
def test_parse_text(text: str, suffix: str) -> None:
    run(parse_text, text, f"x{suffix}", suffix)


@SETTINGS
@given(st.binary(max_size=600), st.sampled_from([".html", ".txt", ".md"]))
def test_parse_file_bytes(data: bytes, suffix: str) -> None:
    run(parse_file, Path(f"corpus/x{suffix}"), None, data)


@SETTINGS
@given(cable_like, st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"]))
def test_parse_file_encodings(text: str, encoding: str) -> None:
    data = text.encode(encoding, errors="replace")
    run(parse_file, Path("corpus/x.txt"), None, data)


@SETTINGS
@given(st.binary(max_size=300))
def test_decode_bytes(data: bytes) -> None:
    try:
        text = decode_bytes(data, "x.txt")
    except IngestError:
        return
    assert text.strip()
    assert "\r" not in text and "\x00" not in text and "\x1b" not in text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "x.txt: empty file"),
        (b"  \n\t\n", "x.txt: empty file"),
        (b"abc\x00def", "x.txt: binary file (NUL bytes)"),
        (bytes(range(1, 32)) * 4, "x.txt: binary file (mostly control characters)"),
    ],
)
def test_decode_rejects(data: bytes, message: str) -> None:
    with pytest.raises(IngestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        decode_bytes(data, "x.txt")
