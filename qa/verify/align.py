"""Word-level alignment of a quote against one paragraph (pure: numpy, no index).

Both sides are cut into words the same way (dashes ``--``, ``—`` and ``–`` separate words,
a lone ``-`` joins them), and words are compared by a *key*: case folded, punctuation
at either end dropped, curly apostrophes made straight. Equal keys align for free; the
alignment reports how their surfaces differ (``case``, ``punctuation``), and every word
that does not align as ``changed``, ``dropped`` (in the source, left out of the quote)
or ``added`` (in the quote, not in the source).

Editorial marks inside a quote are honoured: an ellipsis (``…``, ``...``, ``[…]``)
skips any run of the source's words, in order; a bracketed insertion (``[the minister]``,
``[sic]``) stands for up to ``INSERT_WORDS`` of the source's words, or none; a bracketed
letter glued to a word (``[T]he``) is that word with its case left free.

The alignment is semi-global (the quote whole, the source from any word to any word)
by dynamic programming, one numpy row per quote token: the cost of a 25-word quote
against a 300-word paragraph is a few hundred microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

INSERT_WORDS = 6  # source words a bracketed insertion may stand for
# Costs of the alignment. A changed word costs less than adding one and dropping another
# (so one change is one difference), and an added quote word more than a dropped source
# word, so that of two equal-cost stories ("two words dropped inside" or "two quote words
# added at the edge") the one that matches more of the quote wins.
CHANGE, ADD, DROP = 4, 3, 2

_SOURCE_WORD = re.compile(r"(?:[^\s—–-]|(?<!-)-(?!-))+")
_QUOTE_TOKEN = re.compile(
    r"(?P<gap>\[\s*(?:…|\.(?:\s?\.){2,})\s*\]|…|\.(?:\s?\.){2,})"
    r"|\[(?P<letter>\w{1,2})\](?P<rest>(?:[^\s\[\]…—–-]|(?<!-)-(?!-))+)"
    r"|(?P<insert>\[[^\[\]]{0,80}\])"
    r"|(?P<word>(?:[^\s\[\]…—–.-]|(?<!-)-(?!-)|\.(?!\.))+)"
)
_QUOTE_MARKS = str.maketrans({c: "'" for c in "\"'‘’“”`´"})
_EDGE = re.compile(r"^\W+|\W+$", re.UNICODE)
_EMPHASIS = re.compile(r"^[*_`]+|[*_`]+$")
_NEGATIONS = frozenset(
    ("not", "no", "never", "nor", "neither", "none", "nobody", "nothing", "nowhere", "cannot")
)


class Kind(StrEnum):
    WORD = "word"
    GAP = "gap"  # an ellipsis: any run of source words
    INSERT = "insert"  # [bracketed]: up to INSERT_WORDS source words


@dataclass(frozen=True, slots=True)
class Token:
    """One piece of a quote; ``free_case`` for a word whose case the writer bracketed."""

    kind: Kind
    text: str = ""
    free_case: bool = False


@dataclass(frozen=True, slots=True)
class Difference:
    """How the quote differs from its source at one word.

    ``kind``: ``case``, ``punctuation``, ``changed``, ``dropped`` (source word left out
    of the quote, no ellipsis) or ``added`` (a quote word the source does not have).
    """

    kind: str
    quote: str | None
    source: str | None

    @property
    def alters_meaning(self) -> bool:
        """A word edit touching a number or a negation: never a "near" quote."""
        if self.kind in ("case", "punctuation"):
            return False
        words = [w for w in (self.quote, self.source) if w]
        return any(_is_number(w) or _is_negation(w) for w in words)

    def to_json(self) -> dict[str, str | None]:
        return {"kind": self.kind, "quote": self.quote, "source": self.source}


@dataclass(frozen=True, slots=True)
class Alignment:
    """The best alignment of a quote in one paragraph.

    ``span``: character offsets in the paragraph of the source words aligned (None when
    none are). ``matched``: quote words whose key was found in order.
    """

    words: int
    matched: int
    differences: tuple[Difference, ...]
    span: tuple[int, int] | None

    @property
    def edits(self) -> int:
        """Words changed, dropped or added (case and punctuation are not edits)."""
        return sum(d.kind not in ("case", "punctuation") for d in self.differences)

    @property
    def share(self) -> float:
        """The share of the quote's words found in order, 0..1."""
        return self.matched / self.words if self.words else 0.0

    @property
    def verbatim(self) -> bool:
        return self.words > 0 and not self.differences

    @property
    def near(self) -> bool:
        """Close enough to count as the source's words: case and punctuation freely, and
        at most one word edit per ten words (at least one), none on a number or negation."""
        if self.words == 0 or self.verbatim:
            return False
        meaning = any(d.alters_meaning for d in self.differences)
        return not meaning and self.edits <= max(1, self.words // 10)


def word_key(word: str) -> str:
    """What two words must share to align: case folded, end punctuation dropped."""
    return _EDGE.sub("", word.translate(_QUOTE_MARKS)).casefold()


def quote_tokens(quote: str) -> list[Token]:
    """The quote's words, ellipses and insertions, in order (punctuation-only words dropped)."""
    tokens: list[Token] = []
    for m in _QUOTE_TOKEN.finditer(quote):
        if m.group("gap"):
            if not tokens or tokens[-1].kind != Kind.GAP:
                tokens.append(Token(Kind.GAP))
        elif m.group("letter"):
            tokens.append(Token(Kind.WORD, m.group("letter") + m.group("rest"), free_case=True))
        elif m.group("insert") is not None:
            tokens.append(Token(Kind.INSERT, m.group("insert")))
        elif word_key(m.group("word")):
            tokens.append(Token(Kind.WORD, m.group("word")))
    return tokens


def source_words(text: str) -> list[re.Match[str]]:
    """The paragraph's words with their offsets (punctuation-only runs dropped)."""
    return [m for m in _SOURCE_WORD.finditer(text) if word_key(m.group())]


def align(quote: str | Sequence[Token], paragraph: str) -> Alignment:
    """The lowest-cost alignment of ``quote`` against any stretch of ``paragraph``."""
    tokens = quote_tokens(quote) if isinstance(quote, str) else list(quote)
    words = source_words(paragraph)
    vocabulary: dict[str, int] = {}
    source_ids = np.array(
        [vocabulary.setdefault(word_key(w.group()), len(vocabulary)) for w in words],
        dtype=np.int32,
    )
    quote_ids = [vocabulary.get(word_key(t.text), -1) for t in tokens]
    table = _table(tokens, quote_ids, source_ids)
    end = int(np.argmin(table[-1]))
    pairs, start = _trace(tokens, quote_ids, source_ids, table, end)
    span = (words[start].start(), words[end - 1].end()) if end > start else None
    return Alignment(
        words=sum(t.kind == Kind.WORD for t in tokens),
        matched=sum(
            1 for q, s in pairs if q is not None and s is not None and quote_ids[q] == source_ids[s]
        ),
        differences=tuple(_differences(tokens, quote_ids, source_ids, words, pairs)),
        span=span,
    )


def _table(tokens: list[Token], quote_ids: list[int], source_ids: np.ndarray) -> np.ndarray:
    """``table[i, j]``: least cost of the first ``i`` quote tokens ending before source
    word ``j``. Row 0 is all zeros (the quote may start anywhere); a changed, added or
    dropped word costs CHANGE, ADD or DROP; an ellipsis row is the running minimum of
    the row above, an insertion row the minimum over the INSERT_WORDS before."""
    n = len(source_ids)
    columns = np.arange(n + 1, dtype=np.int32) * DROP
    table = np.zeros((len(tokens) + 1, n + 1), dtype=np.int32)
    for i, token in enumerate(tokens, start=1):
        above = table[i - 1]
        if token.kind == Kind.GAP:
            table[i] = np.minimum.accumulate(above)
        elif token.kind == Kind.INSERT:
            row = above.copy()
            for shift in range(1, min(INSERT_WORDS, n) + 1):
                np.minimum(row[shift:], above[:-shift], out=row[shift:])
            table[i] = row
        else:
            reach = above + ADD  # the quote word added
            changed = (source_ids != quote_ids[i - 1]).astype(np.int32) * CHANGE
            np.minimum(reach[1:], above[:-1] + changed, out=reach[1:])
            # then any run of dropped source words, DROP each: a running minimum
            table[i] = np.minimum.accumulate(reach - columns) + columns
    return table


Pairs = list[tuple[int | None, int | None]]  # (quote token, source word); None: no partner


def _trace(
    tokens: list[Token], quote_ids: list[int], source_ids: np.ndarray, table: np.ndarray, end: int
) -> tuple[Pairs, int]:
    """Walk the table back from ``end``: the aligned pairs in order, and the start word."""
    pairs: Pairs = []
    i, j = len(tokens), end
    while i > 0:
        token, cost = tokens[i - 1], table[i, j]
        if token.kind != Kind.WORD:
            low = 0 if token.kind == Kind.GAP else max(0, j - INSERT_WORDS)
            j = next(k for k in range(j, low - 1, -1) if table[i - 1, k] == cost)
            i -= 1
        elif j > 0 and cost == table[i - 1, j - 1] + CHANGE * (
            source_ids[j - 1] != quote_ids[i - 1]
        ):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif cost == table[i - 1, j] + ADD:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    pairs.reverse()
    return pairs, j


def _differences(
    tokens: list[Token],
    quote_ids: list[int],
    source_ids: np.ndarray,
    words: list[re.Match[str]],
    pairs: Pairs,
) -> list[Difference]:
    out: list[Difference] = []
    for q, s in pairs:
        quote_word = tokens[q].text if q is not None else None
        source_word = words[s].group() if s is not None else None
        if q is None:
            out.append(Difference("dropped", None, source_word))
        elif s is None:
            out.append(Difference("added", quote_word, None))
        elif quote_ids[q] != source_ids[s]:
            out.append(Difference("changed", quote_word, source_word))
        elif kind := _surface(tokens, q, source_word or ""):
            out.append(Difference(kind, quote_word, source_word))
    return out


def _surface(tokens: list[Token], q: int, source: str) -> str | None:
    """``case`` / ``punctuation`` between words of one key, or None if the same.

    Punctuation at the quote's edges and beside an ellipsis or insertion is the writer's
    (a sentence's full stop, a comma before the closing quote), never a difference; so
    is the case of the quote's first letter, which follows the writer's sentence.
    """
    token = tokens[q]
    quote = _EMPHASIS.sub("", token.text).translate(_QUOTE_MARKS)
    source = source.translate(_QUOTE_MARKS)
    if q == 0 or tokens[q - 1].kind != Kind.WORD:
        quote, source = _lstrip(quote), _lstrip(source)
    if q == len(tokens) - 1 or tokens[q + 1].kind != Kind.WORD:
        quote, source = _rstrip(quote), _rstrip(source)
    free_case = token.free_case or q == 0
    if quote == source or (free_case and quote.lower() == source.lower()):
        return None
    return "case" if quote.lower() == source.lower() else "punctuation"


def _lstrip(word: str) -> str:
    return re.sub(r"^\W+", "", word)


def _rstrip(word: str) -> str:
    return re.sub(r"\W+$", "", word)


def _is_number(word: str) -> bool:
    return any(c.isdigit() for c in word)


def _is_negation(word: str) -> bool:
    key = word_key(word)
    return key in _NEGATIONS or key.endswith("n't")
