"""The chat screen's index and model: open, load, pick up new generations, build if missing.

``IndexLifecycle`` drives ``tui.state.Lifecycle`` from the workers' messages and failures,
and shows it in the layout's ``StatusBar`` and ``EmptyState`` (the chat screen composes
both). It knows nothing of questions: when the model settles (ready, or failed for good)
it calls ``model_settled``, which the chat screen overrides to answer its queue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import on
from textual.worker import Worker

from qa import locations
from qa.errors import NoIndexError
from tui.messages import (
    BuildAdvanced,
    BuildDone,
    BuildStarted,
    BuildWarning,
    IndexChanged,
    IndexOpened,
    ModelReady,
)
from tui.screens.workers import IndexWorkers
from tui.state import Lifecycle
from tui.widgets.empty import EmptyState
from tui.widgets.status import StatusBar

if TYPE_CHECKING:
    from pathlib import Path

    from qa.search.searcher import Searcher

REFRESH_SECONDS = 3.0


class IndexLifecycle(IndexWorkers):
    """Base of the chat screen: the searcher in use and where the index and model stand."""

    def __init__(self, index_dir: Path, corpus_dir: Path) -> None:
        super().__init__(index_dir, corpus_dir)
        self.searcher: Searcher | None = None
        self._lifecycle = Lifecycle()
        self._refresh: Worker[None] | None = None
        self._last_refresh_error = ""

    def on_mount(self) -> None:
        # Paint first: the open worker's imports (numpy, FAISS) would compete for the GIL.
        self.call_after_refresh(self.open_index)
        self.set_interval(REFRESH_SECONDS, self._watch_index)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def lifecycle(self) -> Lifecycle:
        """Where the index and its model stand (shown in the status line)."""
        return self._lifecycle

    @property
    def searching(self) -> bool:
        """A search is running: the chat screen says (no index refresh meanwhile)."""
        return False

    def model_settled(self) -> None:
        """The model became ready or failed: the chat screen answers its queue."""

    def _set_lifecycle(self, lifecycle: Lifecycle) -> None:
        self._lifecycle = lifecycle
        self.status.lifecycle = lifecycle
        self.refresh_bindings()

    # -- opening and loading ----------------------------------------------------------------

    def open_failed(self, worker: Worker[Any], message: str) -> None:
        self.searcher = None
        self._set_lifecycle(self.lifecycle.missing())
        self.status.info = None
        self.add_class("-no-index")
        damaged = not isinstance(worker.error, NoIndexError)
        self.query_one(EmptyState).explain(message, self.corpus_dir, self.index_dir, damaged)

    def on_index_opened(self, message: IndexOpened) -> None:
        self.searcher = message.searcher
        self.status.info = message.info
        self.remove_class("-no-index")
        loaded = message.searcher.embedder_loaded
        self._set_lifecycle(self.lifecycle.opened(model_loaded=loaded))
        if loaded:
            self.model_settled()
        else:
            self.load_model(message.searcher)

    def on_model_ready(self, _: ModelReady) -> None:
        self._set_lifecycle(self.lifecycle.model_loaded())
        self.status.detail = ""
        self.model_settled()

    def model_failed(self, worker: Worker[Any], message: str) -> None:
        self._set_lifecycle(self.lifecycle.model_failed())
        self.status.detail = message
        self.notify(
            message, title="The model could not load", severity="error", timeout=15, markup=False
        )
        self.model_settled()

    # -- generations committed by another process ---------------------------------------------

    def _watch_index(self) -> None:
        """Pick up an index rebuilt by another process (also checked before each search)."""
        busy = self.searching or (self._refresh and not self._refresh.is_finished)
        if self.searcher is not None and self.lifecycle.settled and not busy:
            self._refresh = self.refresh_index(self.searcher)

    def on_index_changed(self, message: IndexChanged) -> None:
        self.status.info = message.info
        if self._last_refresh_error:
            self._last_refresh_error = self.status.detail = ""
        self.notify(
            f"Now searching generation {message.info.generation}: "
            f"{message.info.documents} documents, {message.info.passages} passages.",
            title="Index updated",
        )

    def refresh_failed(self, worker: Worker[Any], message: str) -> None:
        if message != self._last_refresh_error:
            self._last_refresh_error = message
            self.status.detail = "index problem (see the message)"
            self.notify(message, title="Index", severity="warning", timeout=10, markup=False)

    # -- building the index from the empty state -------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "build":
            return self.lifecycle.can_build
        return True

    @on(EmptyState.BuildRequested)
    def action_build(self) -> None:
        if not self.lifecycle.can_build:
            return
        self._set_lifecycle(self.lifecycle.building())
        self.query_one(EmptyState).building(f"Indexing {self.corpus_dir}…", None)
        self.status.detail = "building the index…"
        rebuild = locations.db_path(self.index_dir).exists()  # empty or damaged: start over
        self.build_index(rebuild)

    def on_build_started(self, message: BuildStarted) -> None:
        self.query_one(EmptyState).building(message.description, message.total)

    def on_build_advanced(self, message: BuildAdvanced) -> None:
        self.query_one(EmptyState).advance(message.n)

    def on_build_warning(self, message: BuildWarning) -> None:
        self.notify(message.text, title="Indexing", severity="warning", markup=False)

    def build_failed(self, worker: Worker[Any], message: str) -> None:
        self._set_lifecycle(self.lifecycle.missing())
        self.query_one(EmptyState).build_failed()
        self.status.detail = ""
        self.notify(message, title="Index build failed", severity="error", timeout=10, markup=False)

    def on_build_done(self, message: BuildDone) -> None:
        self._set_lifecycle(self.lifecycle.missing())  # until the new index is open
        self.status.detail = ""
        summary = message.summary
        self.notify(
            f"{summary.documents} documents, {summary.passages} passages "
            f"in {summary.seconds:.1f} s.",
            title="Index built",
        )
        self.open_index()
