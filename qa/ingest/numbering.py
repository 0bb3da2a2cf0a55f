"""Decide which paragraph-number markers start real paragraphs.

WikiLeaks' converter put a ``¶`` anchor before *any* number that starts a line, so
``in December\\n¶2008. He promised`` looks like paragraph 2008. Cables also repeat numbers,
restart them, skip them, number lists inside a paragraph, or print ``12.(C)`` without an
anchor. A citation is only as good as these decisions, so they live here, as one pure
function over the text and its candidate markers, shared by every cable parser.

Evidence used, from strongest to weakest:

- *placement*: a real paragraph number follows a blank line, an underline, a heading line,
  or at least the end of a sentence; a misfire follows a line that stops mid-sentence
  (``...on June\\n15.``);
- *portion marking*: ``N. (C)``, ``N. (SBU)``, ``N. (S/NF)`` is a paragraph, never a date;
- *sequence*: N follows the previous paragraph number (N+1), repeats it, or skips ahead.

Rules (``last`` = the last accepted number):

1. Letters (``¶B. PARIS 1871``), 0, numbers above 150 and zero-padded numbers are never
   paragraphs (years, times, reference numbers).
2. ``last + 1`` is accepted, unless it follows a mid-sentence line that ends with a month or
   a preposition, or a later, better-placed marker with the same number continues the
   sequence (a table of contents listing the paragraphs to come).
3. ``last`` again (a repeated number) is accepted when well placed (two ¶2 in 10USNATO52).
4. A jump ahead is accepted unless the marker follows a mid-sentence line (``¶15.`` from
   "June 15" inside ¶2 of 09BEIJING1970); unmarked ``K.`` line starts are then looked for
   in the gap and become paragraphs K (``12.(C)`` between ¶11 and ¶13).
5. A jump back starts over (a resent or restarted text) when the marker carries a portion
   marking (or the cable uses none and the marker follows a blank line); otherwise it opens
   a list *inside* the current paragraph, and the list's own numbers are not paragraphs
   until the cable's sequence resumes.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from enum import IntEnum

MAX_PARAGRAPH = 150

_GLYPH_MARKER = re.compile(r"¶([0-9]{1,6}|[A-Za-z])(?=\.)")
_BARE_MARKER = re.compile(r"(?m)^[ \t]*([0-9]{1,3})[ \t]?\.{1,2}(?=[ \t]|\(|$)")
_PORTION_MARK = re.compile(
    r"\.{1,2}[ \t]*\([ \t]*(?:TS|S|C|U|SBU|LOU|FOUO)[ \t]*(?:\)|/)", re.IGNORECASE
)
# Linear time: the nested form [-=_]{3,}(?:[ ]*[-=_]+)* backtracks exponentially on a long
# rule followed by text ("------ Change the Political Landscape ------"); same matches.
_UNDERLINE = re.compile(r"[-=_]{3}(?:[-=_ ]*[-=_])?|(?:-[ ]){2,}-?")
_ENDS_SENTENCE = re.compile(r"(?:[.!?:;)\]\"'”’/]|X{3,}|x{5,})$")
_STARTS_MARKER = re.compile(r"\s*(?:¶|\d{1,3}\s?\.)")
_LAST_WORD = re.compile(r"([A-Za-z]+)\W*$")
_MONTHS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
_LINKING = "on in at since by of and or until till before after from to the fy year years"
_REFERENCES = "resolution resolutions unscr unscrs no number"
_DATE_WORDS = frozenset(f"{_MONTHS} {_LINKING} {_REFERENCES}".split())
_LONG_LINE = 100  # longer lines come from cables without hard wraps: a newline ends a paragraph
_HEADING_MAX = 80


class Placement(IntEnum):
    """Where a marker sits, from the weakest to the strongest sign of a paragraph start."""

    MID_SENTENCE = 0
    AFTER_SENTENCE = 1
    AFTER_BREAK = 2  # blank line, underline, heading line, or start of the text


@dataclass(frozen=True, slots=True)
class Candidate:
    """A possible paragraph marker: a ``¶`` glyph + token, or a bare number at a line start."""

    pos: int
    token: str
    glyph: bool

    @property
    def number(self) -> int | None:
        return int(self.token) if self.token.isascii() and self.token.isdigit() else None


@dataclass(frozen=True, slots=True)
class Paragraph:
    """An accepted paragraph start. ``how``: sequence, repeat, skip, restart or unmarked.

    ``anchored`` is False for a bare ``N.`` with no ``¶`` (an unmarked split, or any
    paragraph of a cable that has no glyphs at all).
    """

    pos: int
    number: int
    how: str
    anchored: bool = True


@dataclass(frozen=True, slots=True)
class Rejection:
    candidate: Candidate
    reason: str


@dataclass(slots=True)
class Resolution:
    """The outcome for one text: accepted paragraphs and rejected markers, in text order."""

    paragraphs: list[Paragraph]
    rejected: list[Rejection]


def glyph_candidates(text: str) -> list[Candidate]:
    """``¶N.`` / ``¶B.`` markers (WikiLeaks anchors, or the plain-text dumps' inline glyphs)."""
    return [Candidate(m.start(), m.group(1), True) for m in _GLYPH_MARKER.finditer(text)]


def bare_candidates(text: str) -> list[Candidate]:
    """``N.`` at a line start: the only markers of cables that carry no ``¶`` at all."""
    return [Candidate(m.start(1), m.group(1), False) for m in _BARE_MARKER.finditer(text)]


def resolve(text: str, candidates: list[Candidate]) -> Resolution:
    """Split ``candidates`` into accepted paragraph starts and rejected markers."""
    res = Resolution([], [])
    numeric: list[Candidate] = []
    for c in candidates:
        if c.number is None:
            res.rejected.append(Rejection(c, "letter"))
        elif not _plausible(c):
            res.rejected.append(Rejection(c, "not a paragraph number"))
        else:
            numeric.append(c)
    _walk(text, numeric, res)
    if numeric and all(c.glyph for c in numeric):
        _find_unmarked(text, res, {c.pos for c in candidates})
    res.paragraphs.sort(key=lambda p: p.pos)
    res.rejected.sort(key=lambda r: r.candidate.pos)
    return res


def _plausible(c: Candidate) -> bool:
    n = c.number
    return n is not None and 0 < n <= MAX_PARAGRAPH and not c.token.startswith("0")


def _walk(text: str, cands: list[Candidate], res: Resolution) -> None:
    places = [placement(text, c.pos) for c in cands]
    marked = [portion_marked(text, c) for c in cands]
    unmarked_doc = not any(marked)  # then restarts cannot be told apart by their marks
    taken_later = _last_proper_use(cands, places)
    last = 0
    nested: int | None = None  # last number of a list inside the current paragraph
    for i, c in enumerate(cands):
        n = c.number or 0
        if nested is not None:
            inner = n in (1, nested) or nested < n <= nested + 3
            if inner and not marked[i]:
                nested = n
                res.rejected.append(Rejection(c, "list inside a paragraph"))
                continue
            nested = None
        how, reason = _judge(text, c, places[i], last, marked[i], unmarked_doc)
        if how == "sequence" and reason:  # mid-sentence: keep only if no later proper use
            how = "" if taken_later.get(n, -1) > i else how
        if how:
            res.paragraphs.append(Paragraph(c.pos, n, how, c.glyph))
            last = n
        else:
            res.rejected.append(Rejection(c, reason))
            if reason == "list inside a paragraph":
                nested = n


def _judge(
    text: str, c: Candidate, place: Placement, last: int, marked: bool, unmarked_doc: bool
) -> tuple[str, str]:
    """Return ``(how, "")`` to accept a candidate, ``("", reason)`` to reject it.

    ``("sequence", reason)`` means: accept unless the number is used properly later on.
    """
    n = c.number or 0
    mid = place == Placement.MID_SENTENCE and not marked
    if n == last + 1:
        if mid and _after_date_word(text, c.pos):
            return "", "mid-sentence number after a month or preposition (a date?)"
        if mid:
            return "sequence", "mid-sentence number that a later paragraph takes (a contents list?)"
        return "sequence", ""
    if n == last:
        return ("repeat", "") if not mid else ("", "mid-sentence repeat")
    if n > last:
        return ("skip", "") if not mid else ("", "mid-sentence number breaks the sequence")
    if mid:
        return "", "mid-sentence number breaks the sequence"
    if marked or (unmarked_doc and place == Placement.AFTER_BREAK):
        return "restart", ""
    return "", "list inside a paragraph"


def _last_proper_use(cands: list[Candidate], places: list[Placement]) -> dict[int, int]:
    """Number N -> last index where N follows a break right after N-1 (the real ¶N).

    A mid-sentence N followed later by such a proper N is a contents line, not ¶N.
    """
    out: dict[int, int] = {}
    for j in range(1, len(cands)):
        n = cands[j].number or 0
        if n > 1 and places[j] == Placement.AFTER_BREAK and cands[j - 1].number == n - 1:
            out[n] = j
    return out


def _find_unmarked(text: str, res: Resolution, taken: set[int]) -> None:
    """Add ``K.`` line starts with no anchor where the anchored sequence skips K."""
    bare = [c for c in bare_candidates(text) if c.pos not in taken and _plausible(c)]
    if not bare:
        return
    accepted = sorted(res.paragraphs, key=lambda p: p.pos)
    bounds = [(0, 0)] + [(p.pos, p.number) for p in accepted] + [(len(text), MAX_PARAGRAPH + 1)]
    for (lo, a), (hi, b) in itertools.pairwise(bounds):
        edge = a == 0 or b > MAX_PARAGRAPH  # before the first / after the last paragraph
        expected = a + 1
        for c in bare:
            n = c.number or 0
            if not (lo < c.pos < hi and expected <= n < b and n <= expected + 2):
                continue
            place, marked = placement(text, c.pos), portion_marked(text, c)
            strong = marked or (place == Placement.AFTER_BREAK and not edge)
            if strong and place != Placement.MID_SENTENCE and (not edge or n == expected):
                res.paragraphs.append(Paragraph(c.pos, n, "unmarked", False))
                expected = n + 1


def portion_marked(text: str, c: Candidate) -> bool:
    """Does the marker carry a classification portion mark: ``N. (C)``, ``N.(S/NF)``?"""
    after = c.pos + len(c.token) + (1 if c.glyph else 0)
    return bool(_PORTION_MARK.match(text, after, after + 40))


def placement(text: str, pos: int) -> Placement:
    """How strongly the position of a marker at ``pos`` says "a paragraph starts here"."""
    line_start = text.rfind("\n", 0, pos) + 1
    before = text[line_start:pos]
    if before.strip():  # marker inside a line (inline glyphs of some text dumps)
        end = before.rstrip()
        return Placement.AFTER_SENTENCE if _ENDS_SENTENCE.search(end) else Placement.MID_SENTENCE
    if line_start == 0:
        return Placement.AFTER_BREAK
    prev_start = text.rfind("\n", 0, line_start - 1) + 1
    prev = text[prev_start : line_start - 1].strip()
    if not prev or _UNDERLINE.fullmatch(prev):
        return Placement.AFTER_BREAK
    above = text[text.rfind("\n", 0, max(prev_start - 1, 0)) + 1 : max(prev_start - 1, 0)]
    if _is_heading(prev, above, prev_start == 0):
        return Placement.AFTER_BREAK
    if _ENDS_SENTENCE.search(prev) or len(prev) > _LONG_LINE:
        return Placement.AFTER_SENTENCE
    return Placement.MID_SENTENCE


def _is_heading(line: str, above: str, at_start: bool) -> bool:
    """A short stand-alone line (blank or underline above it) that is not a paragraph."""
    if len(line) > _HEADING_MAX or _STARTS_MARKER.match(line) or line.endswith(","):
        return False
    standalone = at_start or not above.strip() or bool(_UNDERLINE.fullmatch(above.strip()))
    return standalone and not _ends_with_date_word(line)


def _after_date_word(text: str, pos: int) -> bool:
    line_start = text.rfind("\n", 0, pos) + 1
    before = text[line_start:pos]
    if not before.strip() and line_start > 0:
        before = text[text.rfind("\n", 0, line_start - 1) + 1 : line_start - 1]
    return _ends_with_date_word(before)


def _ends_with_date_word(line: str) -> bool:
    """Does the line stop on a month or a linking word ("...in December", "...on")?"""
    line = line.rstrip()
    m = _LAST_WORD.search(line)
    return m is not None and line[-1:].isalpha() and m.group(1).lower() in _DATE_WORDS
