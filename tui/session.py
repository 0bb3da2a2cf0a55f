"""The conversation as data: turns, the question history and the search settings.

No Textual here: the chat screen renders this state and the exporter writes it, so both
(and the tests) agree on what was asked, what was searched and what came back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import count
from typing import TYPE_CHECKING

from qa.models import Filters, Hit, Mode
from qa.search.answer import CitedAnswer
from qa.search.query import clean_question
from tui.followup import searched_text

if TYPE_CHECKING:  # qa.verify brings numpy and the searcher: not before the first frame
    from qa.verify import Report

MODES = tuple(Mode)  # the order ctrl+r cycles through and the filters screen lists


@dataclass(frozen=True)
class Settings:
    """How the next question is searched; always shown in the settings bar."""

    mode: Mode = Mode.HYBRID
    filters: Filters = field(default_factory=Filters)
    follow_up: bool = True
    k: int = 5

    def next_mode(self) -> Settings:
        return replace(self, mode=MODES[(MODES.index(self.mode) + 1) % len(MODES)])

    def active_filters(self) -> list[tuple[str, str]]:
        """``[(label, value)]`` of the filters that are set, in ``FILTER_FIELDS`` order."""
        return [(field.label, value) for field, value in self.filters.active()]


@dataclass
class Turn:
    """One question and its answer (``hits``, and ``answer``: the cited answer line built
    from them, ``qa.search.answer``), or why there is none (``error``)."""

    id: int
    question: str
    searched: str
    combined: bool
    topic: str
    settings: Settings
    hits: list[Hit] | None = None
    error: str | None = None
    took_ms: float | None = None
    relevant: bool = True
    best_similarity: float | None = None
    answer: CitedAnswer | None = None

    @property
    def pending(self) -> bool:
        return self.hits is None and self.error is None


@dataclass(frozen=True)
class Verification:
    """A draft's quotes checked against the index (F3): the report, the draft its quote
    offsets count in, and the path as the reader typed it (the heading in the export)."""

    name: str
    draft: str
    report: Report

    def markdown(self) -> str:
        """The report as ``qa verify --markdown`` writes it (``qa.verify.markdown``)."""
        from qa.verify.markdown import report_markdown

        return report_markdown(self.report, self.draft, self.name)


def normalise_question(text: str) -> str:
    """The question as shown, remembered and searched: whitespace runs collapsed (and lone
    surrogates replaced), by the same rule the searcher applies (``qa.search.query``)."""
    return clean_question(text)


class Conversation:
    """Turns in order, plus the topic that follow-up questions attach to."""

    def __init__(self) -> None:
        self.turns: list[Turn] = []
        self.verifications: list[Verification] = []  # drafts checked, in order
        self._ids = count(1)

    def new_turn(self, question: str, settings: Settings) -> Turn:
        """Record a new turn for ``question`` as typed (normalised here, the one place),
        working out what to search (see ``tui.followup``)."""
        question = normalise_question(question)
        topic = self.turns[-1].topic if self.turns else None
        searched, combined = searched_text(question, topic, settings.follow_up)
        turn = Turn(
            id=next(self._ids),
            question=question,
            searched=searched,
            combined=combined,
            topic=topic if combined and topic else question,
            settings=settings,
        )
        self.turns.append(turn)
        return turn

    def get(self, turn_id: int) -> Turn | None:
        return next((t for t in self.turns if t.id == turn_id), None)

    def clear(self) -> None:
        self.turns.clear()
        self.verifications.clear()

    def answered(self) -> Iterator[Turn]:
        return (t for t in self.turns if t.hits)
