"""Find the quoted passages of a draft, with their offsets (pure: no I/O, no index).

What counts as a quote:

- text between double quotes, straight (``"``) or curly (``“ … ”``), within one
  paragraph of the draft (a blank line ends an unclosed quote, which is then dropped);
  a quote that runs on into the next paragraph, newspaper style (no closing mark, the
  next paragraph opening with a quote mark), ends at its paragraph's end;
- each paragraph of a Markdown block quote (consecutive lines starting with ``>``; a
  line that is only ``>`` separates paragraphs), whether or not it is also in quotes.

Single quotes are never delimiters: ``’`` is the apostrophe of ``state’s`` far more often
than a quote mark, and nested quotes inside a double-quoted passage stay part of it.

Quotes of fewer than ``MIN_WORDS`` words are set aside (``ignored``): two or three words
(scare quotes, a title, "self-confident") match somewhere in any large archive, so
checking them would only report noise. Ellipses and bracketed insertions do not count as
words.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

MIN_WORDS = 4

_OPEN = "“"
_CLOSE = "”"
_STRAIGHT = '"'
_BLOCK_LINE = re.compile(r"^[ ]{0,3}>[ ]?(.*?)[ \t]*$")
_BLANK_LINES = re.compile(r"\n[ \t]*\n")
# Editorial marks that are not words of the quote: ellipses and [bracketed] text.
_NOT_WORDS = re.compile(r"\[[^\[\]]*\]|…|\.(?:\s?\.){2,}")
_WORD = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Quote:
    """One quoted passage. ``draft[start:end]`` spans it, inside its quote marks.

    ``text`` is what is checked: for an inline quote ``draft[start:end]`` as it stands;
    for a block quote the lines' text without their ``>`` markers, joined by spaces.
    """

    text: str
    start: int
    end: int
    block: bool = False

    @property
    def words(self) -> int:
        """Words of the quote itself, not counting ellipses and bracketed insertions."""
        return word_count(self.text)


@dataclass(frozen=True, slots=True)
class Found:
    """The quotes of a draft in order, and the ones too short to check."""

    quotes: tuple[Quote, ...]
    ignored: tuple[Quote, ...]


def word_count(text: str) -> int:
    """Words with at least one letter or digit, editorial marks left out."""
    return sum(1 for token in _NOT_WORDS.sub(" ", text).split() if _WORD.search(token))


def find_quotes(draft: str, *, min_words: int = MIN_WORDS) -> Found:
    """Every quote of ``draft`` in the order it appears (block and inline interleaved)."""
    blocks, covered = _block_quotes(draft)
    inline = [q for q in _inline_quotes(draft) if not _inside(q, covered)]
    every = sorted([*blocks, *inline], key=lambda q: q.start)
    kept = tuple(q for q in every if q.words >= min_words)
    return Found(kept, tuple(q for q in every if q.words < min_words))


def _inside(quote: Quote, spans: list[tuple[int, int]]) -> bool:
    return any(start <= quote.start < end for start, end in spans)


def _block_quotes(draft: str) -> tuple[list[Quote], list[tuple[int, int]]]:
    """Block-quote paragraphs, and the spans of the draft the block quotes cover."""
    quotes: list[Quote] = []
    covered: list[tuple[int, int]] = []
    part: list[tuple[int, str]] = []  # (offset of the text in the draft, text) per line
    block_start: int | None = None
    offset = 0
    for line in draft.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        match = _BLOCK_LINE.match(bare)
        if match is None:
            quotes.extend(_block_quote(part))
            part = []
            if block_start is not None:
                covered.append((block_start, offset))
                block_start = None
        else:
            block_start = offset if block_start is None else block_start
            if match.group(1).strip():
                part.append((offset + match.start(1), match.group(1)))
            else:
                quotes.extend(_block_quote(part))
                part = []
        offset += len(line)
    quotes.extend(_block_quote(part))
    if block_start is not None:
        covered.append((block_start, offset))
    return quotes, covered


def _block_quote(lines: list[tuple[int, str]]) -> list[Quote]:
    """One block-quote paragraph as a quote, outer quote marks dropped."""
    if not lines:
        return []
    start = lines[0][0] + len(lines[0][1]) - len(lines[0][1].lstrip())
    end = lines[-1][0] + len(lines[-1][1].rstrip())
    text = " ".join(text.strip() for _, text in lines)
    if len(text) >= 2 and text[0] in (_OPEN, _STRAIGHT) and text[-1] in (_CLOSE, _STRAIGHT):
        text, start, end = text[1:-1].strip(), start + 1, end - 1
    return [Quote(text, start, end, block=True)] if text else []


def _inline_quotes(draft: str) -> list[Quote]:
    """Double-quoted passages, paragraph by paragraph."""
    quotes: list[Quote] = []
    bounds = [0, *(m.end() for m in _BLANK_LINES.finditer(draft)), len(draft)]
    for start, end in itertools.pairwise(bounds):
        quotes.extend(_quotes_in(draft, start, end))
    return quotes


def _quotes_in(draft: str, start: int, end: int) -> list[Quote]:
    """Quotes between ``start`` and ``end`` (one paragraph): pair the marks left to right.

    ``“`` always opens (a second one restarts an unclosed quote), ``”`` closes, and a
    straight quote closes an open quote or opens one.
    """
    quotes: list[Quote] = []
    opened: int | None = None
    for i in range(start, end):
        char = draft[i]
        if char == _OPEN or (char == _STRAIGHT and opened is None):
            opened = i + 1
        elif char in (_CLOSE, _STRAIGHT) and opened is not None:
            quotes.extend(_quote(draft, opened, i))
            opened = None
    if opened is not None and draft[end:].lstrip()[:1] in (_OPEN, _STRAIGHT):
        quotes.extend(_quote(draft, opened, end))  # runs on into the next paragraph
    return quotes


def _quote(draft: str, start: int, end: int) -> list[Quote]:
    """The quote ``draft[start:end]`` with surrounding whitespace trimmed (none if empty)."""
    text = draft[start:end]
    stripped = text.strip()
    if not stripped:
        return []
    start += len(text) - len(text.lstrip())
    return [Quote(stripped, start, start + len(stripped))]
