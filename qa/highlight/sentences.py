"""Sentences of a passage, and where each one lies inside the passage's embedded views.

Highlighting picks the sentence of a hit closest to the question. Embedding every
sentence of the top hits at question time costs ~50 question embeddings; instead the
indexer pools the model's token vectors of each view over each sentence's tokens
("late chunking": the tokens already saw the whole window, so no extra model pass) and
stores one vector per sentence. This module holds the two things both sides must agree
on: the sentence split of the displayed text, and the map from a sentence to character
ranges of the view texts, which are built from the *cleaned* search text (views.py).

Bump ``SENTENCES_VERSION`` whenever the split or the mapping changes: the key of every
passage's sentence vectors changes with it, so stale vectors are never used.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from qa.views import text_hash, window_ranges

SENTENCES_VERSION = "1"

# A sentence ends at . ! or ? followed by space and an upper-case letter, digit or quote;
# short abbreviations such as "U.S." or "Amb." are not ends.
_SENTENCE_END = re.compile(r"(?<![A-Z]\.[A-Z])(?<!\b[A-Z])(?<=[.!?])[\"')\]]?\s+(?=[\"'(A-Z0-9¶])")
MIN_SENTENCE_CHARS = 25
MAX_SENTENCES = 12  # per passage: bounds highlight cost and storage on very long paragraphs

Span = tuple[int, int]


def sentence_spans(text: str) -> list[Span]:
    """``(start, end)`` offsets of the sentences of ``text``, short fragments merged."""
    spans: list[Span] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.start() + len(match.group(0).rstrip())
        spans.append((start, end))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    merged: list[Span] = []
    for s, e in spans:
        s, e = _strip(text, s, e)
        if e <= s:
            continue
        if merged and (
            e - s < MIN_SENTENCE_CHARS or merged[-1][1] - merged[-1][0] < MIN_SENTENCE_CHARS
        ):
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged or [(0, len(text))]


def highlight_spans(text: str) -> list[Span]:
    """The sentences a highlight may choose from (the first ``MAX_SENTENCES``)."""
    return sentence_spans(text)[:MAX_SENTENCES]


def _strip(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentence_key(passage_text_hash: str, view_hashes: Sequence[str]) -> str:
    """What a passage's sentence vectors depend on: its text, its views and this module."""
    return text_hash("\x1f".join([SENTENCES_VERSION, passage_text_hash, *view_hashes]))


def view_ranges(
    text: str, search_text: str, prefix: str, spans: Sequence[Span], views: int
) -> list[list[tuple[int, int, int]]]:
    """For each of the first ``views`` views, ``(sentence, start, end)`` ranges of its text.

    Every word of the search text is a substring of the displayed text, in order
    (cleaning only deletes and folds whitespace), so a forward scan places each word in
    the displayed text and hence in a sentence. The view layout is that of
    ``views.views_of``: ``"<prefix>: "`` then a window of words joined by single
    spaces. Overlapping windows repeat words, so a sentence may have ranges in two views.
    """
    words = search_text.split()
    starts = [s for s, _ in spans]
    sentence_of_word: list[int] = []
    cursor = 0
    for word in words:
        found = text.find(word, cursor)
        if found < 0:  # cannot happen for text cleaned by views.clean; stop placing
            break
        cursor = found + len(word)
        index = bisect.bisect_right(starts, found) - 1
        inside = index >= 0 and found < spans[index][1]
        sentence_of_word.append(index if inside else -1)
    body_offset = len(prefix) + 2 if prefix else 0
    out: list[list[tuple[int, int, int]]] = []
    for first, last in window_ranges(len(words))[:views]:
        ranges: list[tuple[int, int, int]] = []
        offset = body_offset
        for w in range(first, min(last, len(sentence_of_word))):
            end = offset + len(words[w])
            sentence = sentence_of_word[w]
            if sentence >= 0:
                if ranges and ranges[-1][0] == sentence:
                    ranges[-1] = (sentence, ranges[-1][1], end)
                else:
                    ranges.append((sentence, offset, end))
            offset = end + 1
        out.append(ranges)
    return out
