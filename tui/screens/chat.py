"""The main screen: status, settings, transcript (or empty state), source pane, question box.

All slow work runs in thread workers (open the index, load the model, search, fetch a
document, refresh, build, export); they post ``tui.messages`` back and every failure is
handled in ``on_worker_state_changed``. Questions go through a queue, one search at a
time, so a question typed while the model loads is answered as soon as it is ready.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from qa import locations
from qa.errors import NoIndexError
from qa.models import Hit
from tui.export import conversation_markdown, default_export_path
from tui.messages import (
    BuildAdvanced,
    BuildDone,
    BuildStarted,
    BuildWarning,
    DocumentReady,
    ExportDone,
    IndexChanged,
    IndexOpened,
    ModelReady,
    SearchDone,
)
from tui.screens.export import ExportScreen
from tui.screens.filters import FiltersScreen
from tui.screens.workers import IndexWorkers, describe
from tui.session import Conversation, Settings
from tui.widgets.empty import EmptyState
from tui.widgets.question import QuestionInput
from tui.widgets.settings_bar import SettingsBar
from tui.widgets.source import SourcePane
from tui.widgets.status import StatusBar
from tui.widgets.transcript import ResultCard, Transcript

if TYPE_CHECKING:
    from qa.retrieve import Searcher

REFRESH_SECONDS = 3.0
CITE = Binding.Group("Cite")
PLACEHOLDER = "Ask a question… (enter asks · ↑↓ history · f1 help)"


class ChatScreen(IndexWorkers):
    """Questions in, cited passages out; see ``docs/tui.md`` for the design."""

    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [
        (0, "-narrow"),
        (110, "-wide"),
    ]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]] | None] = [(0, "-short"), (30, "-tall")]

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f5", "build", "Build index"),
        Binding("ctrl+n", "move_citation(1)", "Next citation", group=CITE),
        Binding("ctrl+p", "move_citation(-1)", "Previous citation", group=CITE),
        Binding("ctrl+o", "open_citation", "Open"),
        Binding("ctrl+y", "copy_citation", "Copy"),
        Binding("ctrl+s", "export", "Export"),
        Binding("ctrl+f", "filters", "Filter"),
        Binding("ctrl+r", "cycle_mode", "Mode", show=False),
        Binding("ctrl+t", "toggle_follow_up", "Follow"),
        Binding("ctrl+l", "clear", "Clear"),
        Binding("escape", "back", "Back", show=False),
    ]

    def __init__(self, index_dir: Path, corpus_dir: Path, *, show_timings: bool = True) -> None:
        super().__init__(index_dir, corpus_dir)
        self.show_timings = show_timings
        self.searcher: Searcher | None = None
        self.model_state = "opening"
        self.conversation = Conversation()
        self._settings = Settings()
        self._queue: deque[int] = deque()
        self._search: tuple[Worker[None], int] | None = None
        self._refresh: Worker[None] | None = None
        self._building = False
        self._last_refresh_error = ""

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
        self.query_one(QuestionInput).focus()
        # Paint first: the open worker's imports (numpy, FAISS) would compete for the GIL.
        self.call_after_refresh(self.open_index)
        self.set_interval(REFRESH_SECONDS, self._watch_index)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def source(self) -> SourcePane:
        return self.query_one(SourcePane)

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self._settings = settings
        self.query_one(SettingsBar).settings = settings

    def _set_model_state(self, state: str) -> None:
        self.model_state = state
        self.status.state = state
        self.refresh_bindings()

    # -- worker failures -----------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures become messages (never tracebacks)."""
        worker = event.worker
        if event.state != WorkerState.ERROR:
            return
        error, message = worker.error, describe(worker.error)
        group = worker.group
        if group == "open":
            self._show_empty(message, damaged=not isinstance(error, NoIndexError))
        elif group == "model":
            self._set_model_state("failed")
            self.status.detail = message
            self.notify(message, title="The model could not load", severity="error", timeout=15)
            self._pump()
        elif group == "search":
            self._search_failed(worker, message)
        elif group == "build":
            self._building = False
            self.query_one(EmptyState).build_failed()
            self.status.detail = ""
            self.notify(message, title="Index build failed", severity="error", timeout=10)
        elif group == "refresh":
            if message != self._last_refresh_error:
                self._last_refresh_error = message
                self.status.detail = "index problem (see the message)"
                self.notify(message, title="Index", severity="warning", timeout=10)
        else:
            self.notify(message, title=group.capitalize(), severity="error")

    def _search_failed(self, worker: Worker[None], message: str) -> None:
        if self._search is None or self._search[0] is not worker:
            return
        turn_id = self._search[1]
        self._search = None
        self.status.busy = ""
        self._fail_turn(turn_id, message)
        self.notify(message, title="Search failed", severity="error")
        self._pump()

    # -- index and model ------------------------------------------------------------------

    def _show_empty(self, reason: str, damaged: bool) -> None:
        self.searcher = None
        self._set_model_state("no-index")
        self.status.info = None
        self.add_class("-no-index")
        self.query_one(EmptyState).explain(reason, self.corpus_dir, self.index_dir, damaged)

    def on_index_opened(self, message: IndexOpened) -> None:
        self.searcher = message.searcher
        self.status.info = message.info
        self.remove_class("-no-index")
        if message.searcher.embedder_loaded:
            self._set_model_state("ready")
            self._pump()
        else:
            self._set_model_state("loading")
            self.load_model(message.searcher)

    def on_model_ready(self, _: ModelReady) -> None:
        self._set_model_state("ready")
        self.status.detail = ""
        self._pump()

    def on_index_changed(self, message: IndexChanged) -> None:
        self.status.info = message.info
        if self._last_refresh_error:
            self._last_refresh_error = self.status.detail = ""
        self.notify(
            f"Now searching generation {message.info.generation}: "
            f"{message.info.documents} documents, {message.info.passages} passages.",
            title="Index updated",
        )

    def _watch_index(self) -> None:
        """Pick up an index rebuilt by another process (also checked before each search)."""
        busy = self._search is not None or (self._refresh and not self._refresh.is_finished)
        if self.searcher is not None and self.model_state in ("ready", "failed") and not busy:
            self._refresh = self.refresh_index(self.searcher)

    # -- asking ---------------------------------------------------------------------------

    @on(QuestionInput.Submitted, "#question")
    async def ask(self, event: QuestionInput.Submitted) -> None:
        event.stop()
        question = " ".join(event.value.split())
        if not question:
            return
        box = self.query_one(QuestionInput)
        if self.model_state == "no-index":
            self.notify(
                "There is no index yet: press F5 to build it, or run "
                f"`{self.query_one(EmptyState).command}`.",
                severity="warning",
            )
            return
        box.remember(question)
        box.value = ""
        turn = self.conversation.ask(question, self.settings)
        await self.transcript.add_turn(turn, waiting=not self._can_search())
        self._queue.append(turn.id)
        self._pump()

    def _can_search(self) -> bool:
        return self.searcher is not None and self.model_state == "ready"

    def _pump(self) -> None:
        """Start the next queued search if none is running and the model is ready."""
        if self.model_state == "failed":
            while self._queue:
                self._fail_turn(self._queue.popleft(), self.status.detail)
        while self._search is None and self._queue and self._can_search():
            turn = self.conversation.get(self._queue.popleft())
            if turn is None:
                continue
            view = self.transcript.turn_view(turn.id)
            if view is not None:
                view.searching()
            self.status.busy = "searching"
            assert self.searcher is not None
            self._search = (self.run_search(self.searcher, turn), turn.id)

    def _fail_turn(self, turn_id: int, message: str) -> None:
        turn = self.conversation.get(turn_id)
        view = self.transcript.turn_view(turn_id)
        if turn is not None and view is not None:
            turn.error = message
            view.show_error(message)

    async def on_search_done(self, message: SearchDone) -> None:
        self._search = None
        self.status.busy = ""
        turn = self.conversation.get(message.turn_id)
        view = self.transcript.turn_view(message.turn_id)
        answer = message.answer
        if turn is not None and view is not None:
            turn.hits, turn.took_ms = answer.hits, message.took_ms
            turn.relevant, turn.best_similarity = answer.relevant, answer.best_similarity
            await view.show_answer(turn, self.show_timings)
            if view.cards:
                self.transcript.select(view.cards[0], scroll=False)
            self.transcript.call_after_refresh(
                self.transcript.scroll_to_widget, view, animate=False, top=True
            )
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
            self.notify(f"Copied {card.citation}", title="Clipboard")

    @on(ResultCard.Chosen)
    def _card_chosen(self, message: ResultCard.Chosen) -> None:
        self.transcript.select(message.card, scroll=False)
        self.open_citation(message.card.hit)

    @on(ResultCard.Focused)
    def _card_focused(self, message: ResultCard.Focused) -> None:
        self.transcript.select(message.card, scroll=False)

    async def on_document_ready(self, message: DocumentReady) -> None:
        if message.document is None:
            self.notify(f"{message.hit.doc_id} is no longer in the index.", severity="warning")
            return
        await self.source.show(message.document, message.hit)
        self.add_class("-source-open")

    def action_back(self) -> None:
        if self.has_class("-source-open"):
            self.remove_class("-source-open")
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

    def action_export(self) -> None:
        turns = list(self.conversation.turns)
        if not turns:
            self.notify("Nothing to export yet.", severity="warning")
            return

        def done(path: Path | None) -> None:
            if path is not None:
                text = conversation_markdown(turns, index=str(self.index_dir))
                self.write_export(path, text, len(turns))

        self.app.push_screen(ExportScreen(default_export_path(), len(turns)), done)

    def on_export_done(self, message: ExportDone) -> None:
        self.notify(f"{message.turns} turns written to {message.path}", title="Exported")

    async def action_clear(self) -> None:
        self.conversation.clear()
        self._queue.clear()
        self.remove_class("-source-open")
        await self.transcript.clear()
        self.query_one(QuestionInput).focus()

    # -- building the index from the empty state -----------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "build":
            return self.model_state == "no-index" and not self._building
        return True

    @on(EmptyState.BuildRequested)
    def action_build(self) -> None:
        if self.model_state != "no-index" or self._building:
            return
        self._building = True
        self.refresh_bindings()
        self.query_one(EmptyState).building(f"Indexing {self.corpus_dir}…", None)
        self.status.detail = "building the index…"
        rebuild = locations.db_path(self.index_dir).exists()  # empty or damaged: start over
        self.build_index(rebuild)

    def on_build_started(self, message: BuildStarted) -> None:
        self.query_one(EmptyState).building(message.description, message.total)

    def on_build_advanced(self, message: BuildAdvanced) -> None:
        self.query_one(EmptyState).advance(message.n)

    def on_build_warning(self, message: BuildWarning) -> None:
        self.notify(message.text, title="Indexing", severity="warning")

    def on_build_done(self, message: BuildDone) -> None:
        self._building = False
        self.status.detail = ""
        summary = message.summary
        self.notify(
            f"{summary.documents} documents, {summary.passages} passages "
            f"in {summary.seconds:.1f} s.",
            title="Index built",
        )
        self.open_index()
