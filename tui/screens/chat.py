"""The main screen: status, settings, transcript (or empty state), source pane, question box.

``ChatScreen`` holds the layout and the handlers; what it waits for is data in
``tui.state`` (the ``QuestionQueue``: one search at a time, so a question typed while the
model loads is answered as soon as it is ready). The index and its model are driven by
the base class ``tui.screens.lifecycle.IndexLifecycle``; all slow work runs in the thread
workers of ``tui.screens.workers``, which post ``tui.messages`` back, each failure reaching
a ``*_failed`` hook (``search_failed`` here, the index's in the base class).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer
from textual.worker import Worker

from qa.models import Hit
from qa.search.answer import cited_answer
from tui.export import conversation_markdown, default_export_path
from tui.messages import DocumentReady, ExportDone, ReferenceReady, SearchDone, VerifyDone
from tui.screens.export import ExportScreen
from tui.screens.filters import FiltersScreen
from tui.screens.lifecycle import IndexLifecycle
from tui.screens.verify import VerifyScreen
from tui.session import Conversation, Settings, Turn
from tui.state import ModelState, QuestionQueue
from tui.widgets.empty import EmptyState
from tui.widgets.question import QuestionInput
from tui.widgets.settings_bar import SettingsBar
from tui.widgets.source import ReferenceLink, SourcePane
from tui.widgets.status import StatusBar
from tui.widgets.transcript import ResultCard, Transcript
from tui.widgets.verify_report import VerifyReport

if TYPE_CHECKING:
    from qa.search.searcher import Searcher

CITE = Binding.Group("Cite")
PLACEHOLDER = "Ask a question… (enter asks · ↑↓ history · f1 help)"


class ChatScreen(IndexLifecycle):
    """Questions in, cited passages out; see ``docs/tui.md`` for the design."""

    # Unannotated: Screen declares them as instance variables (``ClassVar[...] | None``).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]  # noqa: RUF012

    # The footer shows few, short keys so that it fits 80 columns with ^q and f1 at its end
    # (f5 only while there is no index, the citation keys only while there is one); the
    # rest are in the help screen (f1), the settings line shows ctrl+t's state.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f5", "build", "Build index"),
        Binding("ctrl+n", "move_citation(1)", "Next citation", group=CITE),
        Binding("ctrl+p", "move_citation(-1)", "Previous citation", group=CITE),
        Binding("ctrl+o", "open_citation", "Open"),
        Binding("ctrl+y", "copy_citation", "Copy"),
        Binding("ctrl+s", "export", "Export"),
        Binding("ctrl+f", "filters", "Filter"),
        Binding("ctrl+g", "toggle_compact", "Compact"),
        Binding("ctrl+r", "cycle_mode", "Mode", show=False),
        Binding("ctrl+t", "toggle_follow_up", "Follow", show=False),
        Binding("ctrl+l", "clear", "Clear", show=False),
        # Not ctrl+e: the question box's Input takes it (end of line).
        Binding("f3", "verify", "Verify quotes", show=False),
        Binding("escape", "back", "Back", show=False),
    ]
    NEEDS_INDEX = frozenset(
        {"move_citation", "open_citation", "copy_citation", "export", "toggle_compact", "clear"}
    )

    def __init__(self, index_dir: Path, corpus_dir: Path, *, show_timings: bool = True) -> None:
        super().__init__(index_dir, corpus_dir)
        self.show_timings = show_timings
        self.conversation = Conversation()
        self.questions = QuestionQueue()
        self._settings = Settings()
        self._search_worker: Worker[None] | None = None

    # -- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield SettingsBar(id="settings")
        with Horizontal(id="main"):
            yield EmptyState(id="empty")
            yield Transcript(id="transcript")
            yield SourcePane(id="source")
        yield QuestionInput(placeholder=PLACEHOLDER, id="question")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.query_one(SettingsBar).settings = self._settings
        self.query_one(QuestionInput).focus()  # then IndexLifecycle.on_mount opens the index

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Without an index the transcript's keys do nothing: hide them (the footer then
        has room for f5)."""
        if action in self.NEEDS_INDEX:
            return self.lifecycle.accepts_questions
        return super().check_action(action, parameters)

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def source(self) -> SourcePane:
        return self.query_one(SourcePane)

    @property
    def searching(self) -> bool:
        """A search is running (its turn is ``questions.searching``)."""
        return self.questions.searching is not None

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self._settings = settings
        self.query_one(SettingsBar).settings = settings

    # -- asking ---------------------------------------------------------------------------

    @on(QuestionInput.Submitted, "#question")
    async def question_submitted(self, event: QuestionInput.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            return
        box = self.query_one(QuestionInput)
        if not self.lifecycle.accepts_questions:
            self.notify(
                "There is no index yet: press F5 to build it, or run "
                f"`{self.query_one(EmptyState).command}`.",
                severity="warning",
            )
            return
        turn = self.conversation.new_turn(event.value, self.settings)
        box.remember(turn.question)
        box.value = ""
        await self.transcript.add_turn(turn, waiting=not self._can_search())
        self.questions.add(turn.id)
        self._pump()

    def _can_search(self) -> bool:
        return self.searcher is not None and self.lifecycle.can_search

    def model_settled(self) -> None:
        self._pump()

    def _pump(self) -> None:
        """Start the next queued search if none is running and the model is ready."""
        if self.lifecycle.model is ModelState.FAILED:
            for waiting in self.questions.drain():
                self._fail_turn(waiting, self.status.detail)
        if self.searcher is None or not self.lifecycle.can_search:
            return
        while (turn_id := self.questions.start_next()) is not None:
            turn = self.conversation.get(turn_id)
            if turn is not None:
                self._start_search(self.searcher, turn)
                return
            self.questions.finish()  # cleared meanwhile: take the next one

    def _start_search(self, searcher: Searcher, turn: Turn) -> None:
        view = self.transcript.turn_view(turn.id)
        if view is not None:
            view.searching()
        self.status.busy = "searching"
        self._search_worker = self.run_search(searcher, turn)

    def _fail_turn(self, turn_id: int, message: str) -> None:
        turn = self.conversation.get(turn_id)
        view = self.transcript.turn_view(turn_id)
        if turn is not None and view is not None:
            turn.error = message
            view.show_error(message)

    async def on_search_done(self, message: SearchDone) -> None:
        self.questions.finish()
        self._search_worker = None
        self.status.busy = ""
        turn = self.conversation.get(message.turn_id)
        view = self.transcript.turn_view(message.turn_id)
        answer = message.answer
        if turn is not None and view is not None:
            turn.hits, turn.took_ms = answer.hits, message.took_ms
            turn.relevant, turn.best_similarity = answer.relevant, answer.best_similarity
            turn.answer = cited_answer(answer)
            await view.show_answer(turn, self.show_timings)
            if view.cards:
                self.transcript.select(view.cards[0], scroll=False)
            self.transcript.call_after_refresh(
                self.transcript.scroll_to_widget, view, animate=False, top=True
            )
        self._pump()

    def search_failed(self, worker: Worker[Any], message: str) -> None:
        if worker is not self._search_worker:
            return
        self._search_worker = None
        turn_id = self.questions.finish()
        self.status.busy = ""
        if turn_id is not None:
            self._fail_turn(turn_id, message)
        self.notify(message, title="Search failed", severity="error", markup=False)
        self._pump()

    # -- citations and the source pane ----------------------------------------------------

    def action_move_citation(self, step: int) -> None:
        focused_card = isinstance(self.focused, ResultCard)
        card = self.transcript.move(step)
        if card is None:
            self.notify("No citations yet: ask a question first.", severity="warning")
            return
        if focused_card:
            card.focus(scroll_visible=False)
        if self.has_class("-source-open"):  # reading sources: follow the cursor
            self.open_citation(card.hit)

    def _selected_card(self) -> ResultCard | None:
        if isinstance(self.focused, ResultCard):
            return self.focused
        card = self.transcript.selected
        if card is None:
            self.notify("No citation selected: ask a question first.", severity="warning")
        return card

    def action_open_citation(self) -> None:
        card = self._selected_card()
        if card is not None:
            self.open_citation(card.hit)

    def open_citation(self, hit: Hit) -> None:
        if self.searcher is not None:
            self.load_document(self.searcher, hit)

    def action_copy_citation(self) -> None:
        card = self._selected_card()
        if card is not None:
            self.app.copy_to_clipboard(card.citation)
            self.notify(f"Copied {card.citation}", title="Clipboard", markup=False)

    @on(ResultCard.Chosen)
    def _card_chosen(self, message: ResultCard.Chosen) -> None:
        self.transcript.select(message.card, scroll=False)
        self.open_citation(message.card.hit)

    @on(ResultCard.Focused)
    def _card_focused(self, message: ResultCard.Focused) -> None:
        self.transcript.select(message.card, scroll=False)

    async def on_document_ready(self, message: DocumentReady) -> None:
        if message.document is None:
            self.notify(
                f"{message.hit.doc_id} is no longer in the index.", severity="warning", markup=False
            )
            return
        await self.source.show(message.document, message.hit, message.indexed)
        if not self.has_class("-source-open"):
            self.add_class("-source-open")
            self.transcript.keep_selected_in_view()  # it re-wraps narrower

    @on(ReferenceLink.Chosen)
    def _reference_chosen(self, message: ReferenceLink.Chosen) -> None:
        if self.searcher is not None:
            self.load_reference(self.searcher, message.doc_id)

    async def on_reference_ready(self, message: ReferenceReady) -> None:
        if message.document is None:
            self.notify(
                f"{message.doc_id} is not in this corpus.", severity="warning", markup=False
            )
            return
        await self.source.show(message.document, None, message.indexed)

    def action_back(self) -> None:
        if self.has_class("-source-open"):
            self.remove_class("-source-open")
            self.transcript.keep_selected_in_view()
            if self.transcript.selected is not None and isinstance(self.focused, ResultCard):
                self.transcript.selected.focus()
                return
        self.query_one(QuestionInput).focus()

    # -- settings, export, clear ----------------------------------------------------------

    def action_filters(self) -> None:
        def done(settings: Settings | None) -> None:
            if settings is not None and settings != self.settings:
                self.settings = settings
                self.notify("Applies to the next question.", title="Search settings")

        self.app.push_screen(FiltersScreen(self.settings), done)

    @on(SettingsBar.EditRequested)
    def _edit_settings(self) -> None:
        self.action_filters()

    def action_cycle_mode(self) -> None:
        self.settings = self.settings.next_mode()

    def action_toggle_follow_up(self) -> None:
        self.settings = replace(self.settings, follow_up=not self.settings.follow_up)

    def action_toggle_compact(self) -> None:
        compact = not self.transcript.compact
        self.transcript.set_compact(compact)
        self.query_one(SettingsBar).compact = compact

    def action_export(self) -> None:
        turns = list(self.conversation.turns)
        checks = list(self.conversation.verifications)  # quote checks (F3) after the turns
        if not turns and not checks:
            self.notify("Nothing to export yet.", severity="warning")
            return

        def done(path: Path | None) -> None:
            if path is not None:
                text = conversation_markdown(turns, index=str(self.index_dir))
                text += "".join("\n" + check.markdown() for check in checks)
                self.write_export(path, text, len(turns) + len(checks))

        self.app.push_screen(ExportScreen(default_export_path(), len(turns) + len(checks)), done)

    def action_verify(self) -> None:
        if self.searcher is None:
            self.notify("There is no index to check quotes against yet.", severity="warning")
            return
        searcher = self.searcher
        last = self.conversation.verifications[-1].name if self.conversation.verifications else ""

        def done(path: Path | None) -> None:
            if path is not None:
                self.verify_draft(path, searcher)

        self.app.push_screen(VerifyScreen(last), done)

    async def on_verify_done(self, message: VerifyDone) -> None:
        self.conversation.verifications.append(message.verification)
        self.transcript.query_one("#welcome").display = False
        await self.transcript.mount(VerifyReport(message.verification))
        self.transcript.scroll_end(animate=False)

    def on_export_done(self, message: ExportDone) -> None:
        self.notify(
            f"{message.turns} turns written to {message.path}", title="Exported", markup=False
        )

    async def action_clear(self) -> None:
        self.conversation.clear()
        self.questions.clear()
        self.remove_class("-source-open")
        await self.transcript.query(VerifyReport).remove()
        await self.transcript.clear()
        self.query_one(QuestionInput).focus()
