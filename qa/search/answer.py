"""The cited answer line: a few highlighted sentences of the top hits, verbatim, each cited.

Journalists want the answer in one line they can trust. Nothing here writes a word: the
line is the highlighted sentences (``Hit.highlight``) of the best hits, cut from the
passage text exactly as it stands, each followed by its citation, so every word of it
can be checked at its citation. Pure string work on at most ``k`` hits (microseconds), so
the CLI, the TUI and the Markdown export each build it from the ``Answer`` they hold.

Which hits speak: only when the ``Answer`` is ``relevant`` at all, and only hits whose
score is within one standard deviation of the candidates' scores (``Answer.score_spread``)
of the best eligible hit. That unit is the ranking's own, whatever the mode: fused hybrid
scores are z-scores (one unit is one standard deviation by construction), dense cosines
and BM25 scores are measured against the spread of their own candidate list. On the 40
dev questions (hybrid, k = 10) 16 further hits pass, 14 of them from the question's own
cable; the word budget keeps a second sentence in 3 lines (docs/evaluation.md). A
cable's ``(header)`` (routing lines, subject, references) is never quoted: it states
nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.ingest.markings import opening_end
from qa.models import Answer, Hit, Mode

MAX_WORDS = 60  # the whole line; the first sentence is kept even if it alone is longer
DUPLICATE_OVERLAP = 0.8  # word-set overlap at which a sentence repeats an earlier one
NOTHING_RELEVANT = "Nothing in the index answers this."
NOT_HIGHLIGHTED = "No highlighted sentence to quote."

# What opens a cable paragraph but says nothing: its marker and classification marking
# (``¶3. (SBU)``, ``(S/NF)``: ``markings.opening_end``, the indexer's own reading of it),
# then a ``Summary:`` / ``Comment:`` label. Cutting them keeps the sentence a substring
# of the paragraph.
_LABEL = re.compile(
    r"\s*(?:(?:SUMMARY|Summary|COMMENT|Comment)(?:\s+(?:AND|and)\s+(?:COMMENT|comment))?\s*[:.]\s+)?"
)
# What a highlight may trail after its last full stop and is no part of the sentence: an
# ``END SUMMARY.`` label, or a fragment of up to three words with no stop of its own (a
# signature ``LEWIS``, the next section's heading ``Comment``). The stop must close a word
# of three letters or more, so ``the U.S. Embassy`` is never cut.
_STOP = r"""(?:(?<=\w{3}[.!?])|(?<=\w{3}[.!?]["”’')\]]))"""
_TAIL = re.compile(
    _STOP
    + r"""(?:\s+(?:END|End)\s+(?:OF\s+)?(?:SUMMARY|Summary|COMMENT|Comment|NOTE|Note)\s*\.?
      |\s+[^\s.!?]+(?:\s+[^\s.!?]+){0,2})\s*\Z""",
    re.VERBOSE,
)
# A longer tail in capitals with no stop of its own, after a sentence in mixed case: the
# next section's heading (``POTENTIAL PARTNERSHIP WITH U.S. OIL COMPANIES``).
_CAPS_TAIL = re.compile(_STOP + r"(?:\s+[^\sa-z]+)*?\s+[^\sa-z]*[^\sa-z.!?]\s*\Z")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class AnswerPart:
    """One sentence of the line: ``text == hit.text[start:end]`` of the cited hit."""

    text: str
    citation: str
    start: int
    end: int
    cited_as: str = ""  # the citation with the paragraph's marking, for display (``Hit.cited_as``)

    @property
    def shown_citation(self) -> str:
        """What text output, the TUI and exports print after the sentence."""
        return self.cited_as or self.citation

    def to_json(self) -> dict[str, str]:
        """The documented JSON shape (``"answer"`` in ``qa ask --json``)."""
        return {"text": self.text, "citation": self.citation}


@dataclass(frozen=True, slots=True)
class CitedAnswer:
    """The line's sentences, or (when there are none) the ``note`` saying why."""

    parts: tuple[AnswerPart, ...]
    note: str = ""

    def words(self) -> int:
        return sum(len(part.text.split()) for part in self.parts)


def score_spread(mode: Mode | str, scores: Sequence[float]) -> float:
    """One standard deviation of a ranking's candidate scores, in its own units: 1.0 for
    hybrid (fused scores are z-scores), else the population deviation of ``scores``."""
    if Mode(mode) == Mode.HYBRID:
        return 1.0
    if len(scores) < 2:
        return 0.0
    mean = math.fsum(scores) / len(scores)
    return math.sqrt(math.fsum((s - mean) ** 2 for s in scores) / len(scores))


def cited_answer(answer: Answer) -> CitedAnswer:
    """The answer line of ``answer``: whole highlighted sentences, best hit first, near
    duplicates dropped, at most ``MAX_WORDS`` words (at least one sentence when any hit
    is eligible). Empty, with a note, when nothing is relevant or nothing is highlighted."""
    if not answer.relevant or not answer.hits:
        return CitedAnswer((), NOTHING_RELEVANT)
    parts: list[AnswerPart] = []
    seen: list[set[str]] = []
    words = 0
    for hit in _speaking_hits(answer.hits, answer.score_spread):
        part = _sentence_of(hit)
        if part is None:
            continue
        tokens = set(_WORD.findall(part.text.lower()))
        if any(_overlap(tokens, earlier) >= DUPLICATE_OVERLAP for earlier in seen):
            continue
        count = len(part.text.split())
        if parts and words + count > MAX_WORDS:
            break
        parts.append(part)
        seen.append(tokens)
        words += count
    if parts:
        return CitedAnswer(tuple(parts))
    highlighted = any(h.highlight for h in answer.hits if h.label != "(header)")
    return CitedAnswer((), NOTHING_RELEVANT if highlighted else NOT_HIGHLIGHTED)


def _speaking_hits(hits: Sequence[Hit], spread: float) -> list[Hit]:
    """The highlighted, non-header hits within ``spread`` of the best of them, in rank order."""
    eligible = [h for h in hits if h.highlight is not None and h.label != "(header)"]
    if not eligible:
        return []
    floor = max(h.score for h in eligible) - max(spread, 0.0)
    return [h for h in eligible if h.score >= floor]


def _sentence_of(hit: Hit) -> AnswerPart | None:
    """The hit's highlighted span without its paragraph marker, marking or label."""
    assert hit.highlight is not None
    start, end = hit.highlight
    start, end = max(0, start), min(len(hit.text), end)
    lead = _LABEL.match(hit.text, opening_end(hit.text, start, end), end)
    if lead is not None and _WORD.search(hit.text, lead.end(), end):
        start = lead.end()
    while start < end and hit.text[start].isspace():
        start += 1
    while end > start and hit.text[end - 1].isspace():
        end -= 1
    end = _without_tail(hit.text, start, end)
    if not _WORD.search(hit.text, start, end):
        return None
    return AnswerPart(hit.text[start:end], hit.citation, start, end, hit.cited_as)


def _without_tail(text: str, start: int, end: int) -> int:
    """Where the sentence ``text[start:end]`` ends once a trailing label, signature or
    heading (``_TAIL``, ``_CAPS_TAIL``) is cut off."""
    tail = _TAIL.search(text, start, end)
    if tail is not None:
        return tail.start()
    caps = _CAPS_TAIL.search(text, start, end)
    if caps is not None and any(c.islower() for c in text[start : caps.start()]):
        return caps.start()
    return end


def _overlap(a: set[str], b: set[str]) -> float:
    """Share of the smaller word set found in the other: 1.0 when one sentence's words
    all appear in the other (a summary repeating a paragraph, a re-sent cable)."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))
