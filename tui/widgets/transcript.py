"""The conversation: one ``TurnView`` per question, each answer as ``ResultCard``s.

The transcript keeps a *citation cursor*: one selected card, moved with ctrl+n/ctrl+p
(or Up/Down when a card has focus), so the question box can keep the focus while the
reader walks the citations. Clicking a card selects and opens it.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from qa.models import Hit
from qa.search.answer import CitedAnswer
from qa.text import one_line
from tui.render import (
    CITATION_STYLE,
    MUTED_STYLE,
    card_content,
    compact_card_content,
    trimmed,
)
from tui.session import Turn


class ResultCard(Static, can_focus=True):
    """One cited passage. Posts ``Chosen`` on click or Enter, ``Focused`` on focus.
    ``compact`` shows only the citation and the best sentence (ctrl+g, for all cards)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,o", "choose", "Open", show=False),
        Binding("down,j", "screen.move_citation(1)", "Next", show=False),
        Binding("up,k", "screen.move_citation(-1)", "Previous", show=False),
        Binding("c,y", "screen.copy_citation", "Copy", show=False),
    ]

    class Chosen(Message):
        def __init__(self, card: ResultCard) -> None:
            super().__init__()
            self.card = card

    class Focused(Message):
        def __init__(self, card: ResultCard) -> None:
            super().__init__()
            self.card = card

    compact: reactive[bool] = reactive(False, init=False)

    def __init__(self, hit: Hit, turn_id: int) -> None:
        super().__init__(card_content(hit), classes="card")
        self.hit = hit
        self.turn_id = turn_id

    def on_mount(self) -> None:
        """A card added while the transcript is compact starts compact."""
        transcript = next((a for a in self.ancestors if isinstance(a, Transcript)), None)
        if transcript is not None:
            self.compact = transcript.compact

    def watch_compact(self, compact: bool) -> None:
        self.set_class(compact, "-compact")
        self.update(compact_card_content(self.hit) if compact else card_content(self.hit))

    @property
    def citation(self) -> str:
        return self.hit.citation

    def action_choose(self) -> None:
        self.post_message(self.Chosen(self))

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Chosen(self))

    def on_focus(self) -> None:
        self.post_message(self.Focused(self))


def question_content(turn: Turn) -> Content:
    """The question as asked, trimmed when huge (the turn, history and export keep it all)."""
    return Content.assemble(("❯ ", "bold $text-primary"), (trimmed(turn.question), "bold"))


def searched_content(turn: Turn) -> Content:
    """What was actually searched, and with which mode and filters."""
    parts: list[str | tuple[str, str]] = []
    if turn.combined:
        parts += [("follow-up, searched: ", "$text-muted"), (trimmed(turn.searched), "italic")]
        parts.append(("\n", ""))
    described = [turn.settings.mode] + [f"{k} {v}" for k, v in turn.settings.active_filters()]
    parts.append((" · ".join(one_line(d) for d in described), "$text-muted"))
    return Content.assemble(*parts)


def answer_content(answer: CitedAnswer) -> Content:
    """The cited answer line: each sentence as the source has it (whitespace collapsed,
    escapes removed, never markup), its citation styled after it; or why there is none."""
    parts: list[str | tuple[str, str]] = [("Answer ", "bold")]
    if not answer.parts:
        parts.append((answer.note, MUTED_STYLE))
    for i, part in enumerate(answer.parts):
        parts.append(("" if i == 0 else " ") + one_line(part.text))
        parts.append((" " + one_line(part.shown_citation), CITATION_STYLE))
    return Content.assemble(*parts)


class TurnView(Vertical):
    """A question, what was searched, the cited answer line, then the answer cards (or a
    message)."""

    DEFAULT_CSS = """
    TurnView { height: auto; }
    TurnView .answer { padding-left: 2; margin-top: 1; }
    TurnView .note { color: $text-muted; }
    TurnView .note.-error { color: $text-error; }
    TurnView .note.-warning { color: $text-warning; }
    """

    def __init__(self, turn: Turn, waiting: bool) -> None:
        super().__init__(classes="turn", id=f"turn-{turn.id}")
        self.turn = turn
        self._waiting = waiting

    def compose(self) -> ComposeResult:
        yield Static(question_content(self.turn), classes="question")
        yield Static(searched_content(self.turn), classes="searched")
        note = "waiting for the model to load…" if self._waiting else "searching…"
        yield Static(note, classes="note", markup=False)

    @property
    def cards(self) -> list[ResultCard]:
        return list(self.query(ResultCard))

    def searching(self) -> None:
        self.query_one(".note", Static).update("searching…")

    async def show_answer(self, turn: Turn, timings: bool) -> None:
        """Replace the note with the outcome and mount one card per hit."""
        hits = turn.hits or []
        note = self.query_one(".note", Static)
        if not hits:
            note.update("No passage matches this question with these filters.")
            return
        took = f" in {turn.took_ms:.0f} ms" if timings and turn.took_ms is not None else ""
        text = f"{len(hits)} passages{took} — ctrl+o opens the selected one"
        if not turn.relevant:
            note.add_class("-warning")
            text = (
                "Nothing in the index looks relevant to this question; the closest passages"
                f" are shown anyway ({len(hits)}{took})."
            )
        note.update(Content(text))
        if turn.answer is not None:
            await self.mount(Static(answer_content(turn.answer), classes="answer"), before=note)
        await self.mount_all([ResultCard(hit, self.turn.id) for hit in hits])

    def show_error(self, message: str) -> None:
        note = self.query_one(".note", Static)
        note.add_class("-error")
        note.update(Content(f"No answer: {message}"))


WELCOME = Content.assemble(
    ("Ask a question about the documents, the way you would ask a colleague:", "bold"),
    "\n\n",
    ("How much is Kazakhstan asking in damages for the Proton rocket accident?", "italic"),
    "\n\nAnswers come as cited paragraphs (",
    ("07MOSCOW5292 ¶3", CITATION_STYLE),
    "). A follow-up such as ",
    ("and what did China say?", "italic"),
    " continues the topic (ctrl+t turns that off). ctrl+n / ctrl+p select a citation,"
    " ctrl+o or a click opens it beside the answer, ctrl+f sets filters, f1 lists every key.",
)


class Transcript(VerticalScroll):
    """All turns, newest at the bottom, with the citation cursor."""

    DEFAULT_CSS = """
    Transcript { height: 1fr; }
    Transcript #welcome { color: $text-muted; padding: 1 2; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.selected: ResultCard | None = None
        self.compact = False

    def set_compact(self, compact: bool) -> None:
        """Show every card, present and future, compact or in full."""
        self.compact = compact
        for card in self.cards:
            card.compact = compact
        self.keep_selected_in_view()

    def keep_selected_in_view(self) -> None:
        """After the layout changes (source pane opened or closed, compact toggled) the
        cards re-wrap to new heights: scroll, once they have, so the selected card shows."""
        self.call_after_refresh(self._scroll_to_selected)

    def _scroll_to_selected(self) -> None:
        if self.selected is not None and self.selected.is_attached:
            self.scroll_to_widget(self.selected, animate=False)

    def compose(self) -> ComposeResult:
        yield Static(WELCOME, id="welcome")

    async def add_turn(self, turn: Turn, waiting: bool) -> TurnView:
        view = TurnView(turn, waiting)
        self.query_one("#welcome").display = False
        await self.mount(view)
        self.scroll_end(animate=False)
        return view

    def turn_view(self, turn_id: int) -> TurnView | None:
        found = self.query(f"#turn-{turn_id}")
        return found.first(TurnView) if found else None

    @property
    def cards(self) -> list[ResultCard]:
        return list(self.query(ResultCard))

    def select(self, card: ResultCard | None, *, scroll: bool = True) -> None:
        """Move the citation cursor to ``card``."""
        if self.selected is not None and self.selected is not card:
            self.selected.remove_class("-selected")
        self.selected = card
        if card is not None:
            card.add_class("-selected")
            if scroll:
                self.scroll_to_widget(card, animate=False)

    def move(self, step: int) -> ResultCard | None:
        """Select the next (``step`` 1) or previous (-1) card; wraps at neither end."""
        cards = self.cards
        if not cards:
            return None
        if self.selected not in cards:
            target = cards[0] if step > 0 else cards[-1]
        else:
            index = cards.index(self.selected) + step
            target = cards[max(0, min(len(cards) - 1, index))]
        self.select(target)
        return target

    async def clear(self) -> None:
        self.selected = None
        await self.query(TurnView).remove()
        self.query_one("#welcome").display = True
