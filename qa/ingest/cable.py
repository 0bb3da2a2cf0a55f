"""The cable pipeline shared by the HTML and plain-text parsers: raw body text to Document.

Both layouts end in the same telegram text, so the repairs (page breaks), the paragraph
numbering and the passage cutting are done once, here, and cite identically.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace

from qa.errors import IngestError
from qa.ingest import markings, numbering, pagebreaks, references, segment
from qa.models import DocKind, Document, Passage

REF_ID = re.compile(r"\d{2}[A-Z][A-Z-]*\d+")
_SUBJECT = re.compile(r"(?<![(\w])SUBJ(?:ECT)?\s*[:.]\s*(\S[^\n]*)", re.IGNORECASE)
_SUBJECT_STOP = re.compile(
    r"\s*(?:$|REF\b|REFS?:|Classified|CLASSIFIED|¶|\d{1,3}\s?\.|[-=_]{3,}|\(|[A-Z]\.\s|"
    r"Summary\b|SUMMARY\b|SIPDIS|E\.O\.|TAGS\b)"
)
_TAGS = re.compile(r"(?<![\w/])TAGS\b\s*:?[ \t]*([^\n]*)", re.IGNORECASE)
_TAG_TOKEN = re.compile(r"[A-Za-z]{2,8}")
_TITLE_MAX = 300
_MID_SENTENCE_GAP = re.compile(r"\n\n(?=[a-z])")  # preceded by a letter or comma: _close_gap


@dataclass(frozen=True, slots=True)
class CableMeta:
    """What a cable's container (page table, text-dump header) says about it; the body
    fills in what is empty (subject as title, TAGS line)."""

    doc_id: str
    source: str
    date: str = ""
    origin: str = ""
    classification: str = ""
    tags: tuple[str, ...] = ()
    title: str = ""


def build_cable(raw: str, meta: CableMeta) -> tuple[Document, numbering.Resolution]:
    """Repair, number and cut a cable body; the Resolution is returned for the audit."""
    text = _tidy(pagebreaks.repair(_tidy(raw)))
    if not text.strip():
        raise IngestError(f"{meta.source}: cable has no body text")
    candidates = numbering.glyph_candidates(text)
    if not any(c.number is not None for c in candidates):
        candidates = sorted(candidates + numbering.bare_candidates(text), key=lambda c: c.pos)
    res = numbering.resolve(text, candidates)
    dropped = [r.candidate.pos for r in res.rejected if r.candidate.glyph]
    body = _drop_chars(text, dropped)
    starts = [(p.pos - bisect.bisect_left(dropped, p.pos), p.number) for p in res.paragraphs]
    passages = _classified(cable_passages(body, starts))
    first = next((p for p in passages if p.paragraph is not None), None)
    authority = markings.authority(body[: first.end] if first else body)
    doc = Document(
        doc_id=meta.doc_id,
        kind=DocKind.CABLE,
        title=subject(body) or meta.title or meta.doc_id,
        body=body,
        source=meta.source,
        date=meta.date,
        origin=meta.origin,
        classification=meta.classification,
        tags=meta.tags or tags_in(body),
        passages=passages,
        classified_by=authority.classified_by,
        reasons=authority.reasons,
        declassify_on=authority.declassify_on,
        references=references.parse_references(
            references.header_of(body, first.start if first else None), meta.doc_id
        ),
    )
    return doc, res


def _classified(passages: list[Passage]) -> list[Passage]:
    """Each passage with the marking it opens with (the header, a list of routing and
    classification lines, has none of its own)."""
    return [
        p if p.label == "(header)" else replace(p, paragraph_class=markings.paragraph_class(p.text))
        for p in passages
    ]


def cable_passages(body: str, starts: list[tuple[int, int]]) -> list[Passage]:
    """``(header)`` + one passage per accepted paragraph, or ``(text N)`` blocks if none."""
    if not starts:
        spans = segment.merge_small(segment.blocks(body))
        found = (
            segment.make_passage(body, f"(text {k})", None, s, e)
            for k, (s, e) in enumerate(spans, 1)
        )
        return [p for p in found if p is not None]
    cuts: list[tuple[int, str]] = []
    floor = 0
    for pos, _ in starts:
        cuts.append(segment.heading_above(body, pos, floor))
        line_end = body.find("\n", pos)
        floor = len(body) if line_end == -1 else line_end
    out: list[Passage | None] = []
    header = body[: cuts[0][0]]
    if segment.has_content(header):
        out.append(segment.make_passage(body, "(header)", None, 0, cuts[0][0]))
    for i, (pos, number) in enumerate(starts):
        end = cuts[i + 1][0] if i + 1 < len(starts) else len(body)
        out.append(segment.make_passage(body, f"¶{number}", number, pos, end, cuts[i][1]))
    return [p for p in out if p is not None]


def subject(body: str) -> str:
    """The SUBJECT line, joined with its continuation lines (up to a blank line)."""
    m = _SUBJECT.search(body)
    if not m:
        return ""
    parts = [m.group(1)]
    rest = body[m.end() :].split("\n")[1:4]
    for line in rest:
        if _SUBJECT_STOP.match(line) or pagebreaks.is_break_line(line):
            break
        parts.append(line)
    return " ".join(" ".join(parts).split())[:_TITLE_MAX]


def tags_in(body: str) -> tuple[str, ...]:
    """Tags from a ``TAGS:`` line of plain text (``TAGS: PREL PGOV KZ``)."""
    m = _TAGS.search(body)
    if not m:
        return ()
    line = re.split(r"(?i)\bSUBJ", m.group(1))[0]
    tokens = [t.upper() for t in re.split(r"[\s,;]+", line) if _TAG_TOKEN.fullmatch(t)]
    return tuple(dict.fromkeys(tokens))


def _tidy(text: str) -> str:
    """Trailing spaces off every line, at most one blank line in a row, no blank edges.

    A blank line between a line that stops mid-sentence and one that goes on in lower
    case is where WikiLeaks deleted a page-break line: it is closed up too.
    """
    text = "\n".join([line.rstrip() for line in text.split("\n")])
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return _MID_SENTENCE_GAP.sub(_close_gap, text).strip("\n")


def _close_gap(m: re.Match[str]) -> str:
    before = m.string[m.start() - 1 : m.start()]
    return "\n" if before.isascii() and (before.isalpha() or before == ",") else m.group()


def _drop_chars(text: str, positions: list[int]) -> str:
    """``text`` without the characters at ``positions`` (sorted): rejected ``¶`` glyphs."""
    if not positions:
        return text
    pieces, prev = [], 0
    for pos in positions:
        pieces.append(text[prev:pos])
        prev = pos + 1
    pieces.append(text[prev:])
    return "".join(pieces)
