"""Cut a repaired body into citable passages with exact offsets.

Everything that decides *labels* happens before this module (numbering) or in the article
parser; this one only turns start offsets into ``Passage`` objects, keeping three promises:
``body[p.start:p.end] == p.text``, text stripped of surrounding whitespace, no empty passage.
Section headings printed above a paragraph (``Comment`` over ``-------``) are moved out of
the previous passage into the next passage's ``heading``.
"""

from __future__ import annotations

import re

from qa.models import Passage

# Linear time: the nested form [-=_]{3,}(?:[ ]*[-=_]+)* backtracks exponentially on a long
# rule followed by text ("------ Change the Political Landscape ------"); same matches.
_UNDERLINE = re.compile(r"[-=_]{3}(?:[-=_ ]*[-=_])?|(?:-[ ]){2,}-?")
_GLUED_UNDERLINE = re.compile(r"(\S.{0,58}?)\s*-{4,}")  # "Comment-------"
_NOT_HEADING = re.compile(
    r"(?:¶|\d{1,3}\s?\.|[-*•(]|end\b|sipdis|noforn|sensitive|e\.\s?o\.|eo 12958|tags\b|"
    r"subj|ref\b|classified|unclas|confidential|secret)",
    re.IGNORECASE,
)
_BOILERPLATE = re.compile(
    r"(?:(?:[A-Za-z] ){3,}[A-Za-z]\b.*|UNCLAS(?:SIFIED)?\b.*|CONFIDENTIAL\b.*|SECRET\b.*|"
    r"LIMITED OFFICIAL USE.*|NOFORN.*|SIPDIS|SENSITIVE(?: BUT UNCLASSIFIED)?|"
    r"(?:FOR )?OFFICIAL USE ONLY|E\.\s?O\.\s?\d+.*|EO \d+.*|TAGS\b.*|"
    r"(?:\(U\) )?CLASSIFIED BY\b.*|REASONS?\b.*|DECL\b.*|"
    r"\w+day, \d{1,2} \w+ \d{4}, \d{1,2}:\d{2}|[-=_ ]+|X+)",
    re.IGNORECASE,
)
_MIN_BLOCK = 40


def span(body: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``[start, end)`` to exclude surrounding whitespace."""
    while start < end and body[start].isspace():
        start += 1
    while end > start and body[end - 1].isspace():
        end -= 1
    return start, end


def make_passage(
    body: str, label: str, paragraph: int | None, start: int, end: int, heading: str = ""
) -> Passage | None:
    """A passage over ``body[start:end]`` (whitespace trimmed), or None if it is empty."""
    s, e = span(body, start, end)
    if s >= e:
        return None
    return Passage(label, paragraph, body[s:e], s, e, heading)


def heading_above(body: str, pos: int, floor: int) -> tuple[int, str]:
    """Find the section heading printed right above offset ``pos`` (not before ``floor``).

    Returns ``(block_start, heading)``: where the heading block (overline, heading text,
    underline) begins, and the heading text; ``(pos, "")`` when there is none.
    """
    lines = _lines_above(body, pos, floor)
    if not lines:
        return pos, ""
    i = len(lines) - 1
    while i >= 0 and not lines[i][1].strip():
        i -= 1  # blank lines between the heading block and the paragraph
    if i < 0:
        return pos, ""
    start, text = lines[i]
    s = text.strip()
    if _UNDERLINE.fullmatch(s):
        if i == 0 or not lines[i - 1][1].strip() or _UNDERLINE.fullmatch(lines[i - 1][1].strip()):
            return start, ""  # a bare rule: drop it from the previous passage
        h_start, h_text = lines[i - 1]
        if len(h_text.strip()) > 100 or _NOT_HEADING.match(h_text.strip()):
            return start, ""  # e.g. a SUBJECT line underlined: not a section heading
        if i >= 2 and _UNDERLINE.fullmatch(lines[i - 2][1].strip()):
            h_start = lines[i - 2][0]  # overline above the heading
        return h_start, _clean_heading(h_text)
    glued = _GLUED_UNDERLINE.fullmatch(s)
    if glued and not _NOT_HEADING.match(s):
        return start, _clean_heading(glued.group(1))
    if i == len(lines) - 1 and _standalone_heading(lines, i):
        return start, _clean_heading(s)
    return pos, ""


def _lines_above(body: str, pos: int, floor: int) -> list[tuple[int, str]]:
    """Up to six ``(offset, line)`` pairs of complete lines between ``floor`` and ``pos``."""
    line_start = body.rfind("\n", 0, pos) + 1
    if body[line_start:pos].strip():
        return []  # the marker is inside a line: nothing is "printed above" it
    out: list[tuple[int, str]] = []
    end = line_start - 1
    while end > floor and len(out) < 6:
        start = body.rfind("\n", 0, end) + 1
        if start < floor:
            break
        out.append((start, body[start:end]))
        end = start - 1
    return out[::-1]


def _standalone_heading(lines: list[tuple[int, str]], i: int) -> bool:
    """A short line right above the paragraph, with a blank line (or rule) above it."""
    s = lines[i][1].strip()
    if len(s) > 60 or _NOT_HEADING.match(s) or s[-1] in ".,;" or not any(ch.isalpha() for ch in s):
        return False
    if i == 0:
        return False
    above = lines[i - 1][1].strip()
    return not above or bool(_UNDERLINE.fullmatch(above))


def _clean_heading(text: str) -> str:
    return " ".join(text.split()).strip("-=_ ")


def has_content(text: str) -> bool:
    """Does a header hold anything besides classification, SIPDIS, E.O. and TAGS lines?"""
    return any(
        line.strip() and (not _BOILERPLATE.fullmatch(line.strip()) or "SUBJ" in line.upper())
        for line in text.split("\n")
    )


def blocks(body: str, start: int = 0) -> list[tuple[int, int]]:
    """``(start, end)`` of the blank-line separated blocks of ``body[start:]``."""
    out: list[tuple[int, int]] = []
    for m in re.finditer(r"(?:[^\n]*\S[^\n]*(?:\n|$))+", body[start:]):
        s, e = span(body, start + m.start(), start + m.end())
        if s < e:
            out.append((s, e))
    return out


def merge_small(spans: list[tuple[int, int]], minimum: int = _MIN_BLOCK) -> list[tuple[int, int]]:
    """Merge blocks shorter than ``minimum`` characters into the following block.

    A lone "SIPDIS" or signature line is not worth a citation of its own; small blocks at
    the end join the block before them.
    """
    merged: list[tuple[int, int]] = []
    carry: int | None = None  # start of small blocks waiting for the next block
    for s, e in spans:
        start = s if carry is None else carry
        if e - start < minimum:
            carry = start
            continue
        merged.append((start, e))
        carry = None
    if carry is not None:
        last_end = spans[-1][1]
        if merged:
            merged[-1] = (merged[-1][0], last_end)
        else:
            merged.append((carry, last_end))
    return merged
