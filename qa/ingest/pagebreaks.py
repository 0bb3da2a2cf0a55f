"""Remove telegram page-break and section lines so cut paragraphs become whole again.

Cables were printed on pages; each page after the first starts with a marker such as
``MOSCOW 00005292  002.2 OF 002`` and multi-part cables start with ``SECTION 01 OF 02``.
Left in place, these lines end up inside passages (and inside citations users quote), and a
page break between a heading and its underline hides the heading. A break inside a paragraph
is replaced by a single line break; a break between paragraphs by one blank line.
"""

from __future__ import annotations

import re

_CITY = r"[A-Za-z][A-Za-z.'-]*(?:[ ]+[A-Za-z][A-Za-z.'-]*){0,3}"
# A whole line that is a page marker: ``LA PAZ 00000906 002 OF 003``, ``Kyiv ... 003 of 003``.
_PAGE_LINE = re.compile(rf"{_CITY}\s+\d{{8}}\s+\d{{3}}(?:\.\d)?\s+OF\s+\d{{3}}", re.IGNORECASE)
# The same marker glued into a line of text (cables without hard line wraps): capitals only,
# so ordinary words before the city are never eaten.
_PAGE_INLINE = re.compile(
    r"[ \t]*(?<![A-Za-z])(?:[A-Z][A-Z.'-]*[ ]){0,2}[A-Z][A-Z.'-]*[ ]+\d{8}\s+\d{3}(?:\.\d)?"
    r"[ ]+OF[ ]+\d{3}(?!\d)[ \t]*"
)
_CLASSIFICATION = (
    r"(?:(?:[A-Za-z][ ]){3,}[A-Za-z]|UNCLAS(?:SIFIED)?|CONFIDENTIAL|SECRET|"
    r"LIMITED[ ]OFFICIAL[ ]USE|UNCLASSIFIED//FOR[ ]OFFICIAL[ ]USE[ ]ONLY)"
)
# ``C O N F I D E N T I A L SECTION 01 OF 04 PARIS 001234``, ``SECTION 01 OF 02``.
_SECTION_LINE = re.compile(
    rf"(?:{_CLASSIFICATION}(?://\w+)?\s+)?SECTION\s+\d{{1,3}}\s+OF\s+\d{{1,3}}"
    rf"(?:\s+{_CITY}\s+\d{{3,8}})?",
    re.IGNORECASE,
)
# Old (pre-2004) telegrams: ``PAGE 02        CAPE T  00097  01 OF 03  182017Z``.
_OLD_PAGE_LINE = re.compile(r"PAGE\s+\d{2,3}\s.*\b\d{2,3}\s+OF\s+\d{2,3}\s+\d{6}Z\b.*")
# Lines that only repeat the classification; dropped when they belong to a page break.
_CLASSIFICATION_ONLY = re.compile(
    r"(?:UNCLASSIFIED|CONFIDENTIAL|SECRET|LIMITED OFFICIAL USE)(?:\s+[A-Z]{3}\d+)?"
)
# Linear time: the nested form [-=_]{3,}(?:[ ]*[-=_]+)* backtracks exponentially on a long
# rule followed by text ("------ Change the Political Landscape ------"); same matches.
_UNDERLINE = re.compile(r"[-=_]{3}(?:[-=_ ]*[-=_])?|(?:-[ ]){2,}-?")
_PARAGRAPH_START = re.compile(r"\s*(?:¶|\d{1,3}\s?\.{1,2}(?:\s|\()|[A-Z]\.\s|--?\s|\()")
_ENDS_SENTENCE = re.compile(r"[.!?:;)\]\"'”’]$")

_TEXT, _BLANK, _SOFT, _BREAK = range(4)


def is_break_line(line: str) -> bool:
    """True for a line that is only a page marker or a section line."""
    s = line.strip()
    if "OF" not in s and "of" not in s and "Of" not in s:
        return False  # every marker has "OF": skip the regexes for ordinary lines
    return bool(
        _PAGE_LINE.fullmatch(s) or _SECTION_LINE.fullmatch(s) or _OLD_PAGE_LINE.fullmatch(s)
    )


def contains_break(text: str) -> bool:
    """True if any page marker or section line is left in ``text`` (used by tests/audit)."""
    return any(is_break_line(line) for line in text.split("\n")) or bool(_PAGE_INLINE.search(text))


def repair(text: str) -> str:
    """Return ``text`` without page-break/section lines, paragraphs cut by them rejoined."""
    classified = [_classify(line) for line in text.split("\n")]
    lines = [line for _, line in classified]
    kinds = [kind for kind, _ in classified]
    out: list[str] = []
    i = 0
    while i < len(lines):
        if kinds[i] == _TEXT:
            out.append(lines[i])
            i += 1
            continue
        j = i
        while j < len(lines) and kinds[j] != _TEXT:
            j += 1
        if _BREAK not in kinds[i:j]:
            out.extend(lines[i:j])  # ordinary blank lines (and a lone classification line)
        elif out and j < len(lines):
            after = lines[j + 1] if j + 1 < len(lines) else ""
            if not _continues(out[-1], lines[j], after):
                out.append("")
        i = j
    return "\n".join(out)


def _classify(line: str) -> tuple[int, str]:
    """The kind of a line, and the line with any glued-in page markers taken out."""
    s = line.strip()
    if not s:
        return _BLANK, line
    if is_break_line(s):
        return _BREAK, ""
    head, glyph, tail = line.partition("¶")
    if glyph and head.strip() and is_break_line(head):
        line = glyph + tail  # a paragraph marker glued to a section line
    while "OF " in line:
        stripped = _PAGE_INLINE.sub(_inline_gap, line)
        if stripped == line:
            break
        if not stripped.strip() or is_break_line(stripped):
            return _BREAK, ""
        line = stripped
    if line.lstrip()[:1] in ("U", "C", "S", "L") and _CLASSIFICATION_ONLY.fullmatch(line.strip()):
        return _SOFT, line
    return _TEXT, line


def _inline_gap(match: re.Match[str]) -> str:
    # Keep the words on either side apart, but leave no space at a line's edges.
    whole = match.string
    at_edge = match.start() == 0 or match.end() == len(whole)
    return "" if at_edge else " "


def _continues(prev: str, nxt: str, after: str) -> bool:
    """Does the text after a break continue the paragraph (or heading) before it?"""
    nxt_s = nxt.strip()
    if _UNDERLINE.fullmatch(nxt_s):
        return True  # a heading cut from its underline (07MOSCOW5292 "Comment")
    if nxt_s[:1].islower():
        return True
    if _PARAGRAPH_START.match(nxt) or _UNDERLINE.fullmatch(after.strip()):
        return False  # next paragraph, or a heading with its underline
    return not _ENDS_SENTENCE.search(prev.rstrip())
