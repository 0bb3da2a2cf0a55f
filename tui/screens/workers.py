"""The chat screen's thread workers: everything slow, off the event loop.

Each worker computes in a thread and posts one of ``tui.messages``; none touches a widget.
A failure surfaces as the worker's ERROR state; ``on_worker_state_changed`` is the one
place that routes it, worded by ``describe``, to the hook of the worker's group
(``open_failed``, ``search_failed``, ...), which the chat screen overrides.
"""

from __future__ import annotations

from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any

from textual import work
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from qa.errors import QAError
from qa.models import Document, Hit
from tui.export import write_markdown
from tui.messages import (
    BuildDone,
    DocumentReady,
    ExportDone,
    IndexChanged,
    IndexOpened,
    ModelReady,
    ReferenceReady,
    SearchDone,
    VerifyDone,
)
from tui.progress import MessageProgress
from tui.session import Turn

if TYPE_CHECKING:
    from qa.search.searcher import Searcher


def describe(error: BaseException | None) -> str:
    """A user-facing message: a QAError's own text, else the exception's type and text."""
    if isinstance(error, QAError):
        return str(error)
    if error is None:
        return "unknown error"
    first = str(error).splitlines()[0] if str(error) else ""
    return f"unexpected {type(error).__name__}: {first}".rstrip(": ")


def _indexed(searcher: Searcher, document: Document | None) -> frozenset[str]:
    """The cables ``document``'s references name that the index holds."""
    if document is None:
        return frozenset()
    return frozenset(searcher.indexed([r.target for r in document.references if r.target]))


class IndexWorkers(Screen[None]):
    """Base of the chat screen: the index it works on and the workers that use it.

    Groups: ``open``, ``model``, ``search``, ``source``, ``refresh``, ``build``, ``export``,
    ``verify``.
    ``qa.factory`` (numpy, FAISS) and torch are imported here, in threads, never before
    the first frame. A failed worker calls the hook of its group; by default each hook
    shows the message as an error notification.
    """

    def __init__(self, index_dir: Path, corpus_dir: Path) -> None:
        super().__init__()
        self.index_dir = index_dir
        self.corpus_dir = corpus_dir

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def open_index(self) -> None:
        from qa.factory import open_searcher

        searcher = open_searcher(self.index_dir)
        self.post_message(IndexOpened(searcher, searcher.info()))

    @work(thread=True, exclusive=True, group="model", exit_on_error=False)
    def load_model(self, searcher: Searcher) -> None:
        searcher.warm().embed(["warm up"])  # the first encode initialises torch kernels
        self.post_message(ModelReady())

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def run_search(self, searcher: Searcher, turn: Turn) -> None:
        if searcher.refresh():
            self.post_message(IndexChanged(searcher.info()))
        settings = turn.settings
        started = perf_counter()
        answer = searcher.ask(
            turn.searched, k=settings.k, mode=settings.mode, filters=settings.filters
        )
        self.post_message(SearchDone(turn.id, answer, (perf_counter() - started) * 1000))

    @work(thread=True, exclusive=True, group="source", exit_on_error=False)
    def load_document(self, searcher: Searcher, hit: Hit) -> None:
        document = searcher.document(hit.doc_id)
        self.post_message(DocumentReady(document, hit, _indexed(searcher, document)))

    @work(thread=True, exclusive=True, group="source", exit_on_error=False)
    def load_reference(self, searcher: Searcher, doc_id: str) -> None:
        document = searcher.document(doc_id)
        self.post_message(ReferenceReady(doc_id, document, _indexed(searcher, document)))

    @work(thread=True, exclusive=True, group="refresh", exit_on_error=False)
    def refresh_index(self, searcher: Searcher) -> None:
        if searcher.refresh():
            self.post_message(IndexChanged(searcher.info()))

    @work(thread=True, exclusive=True, group="build", exit_on_error=False)
    def build_index(self, rebuild: bool) -> None:
        from qa.factory import build_index
        from qa.index import RunOptions

        options = RunOptions(rebuild=rebuild, progress=MessageProgress(self))
        summary = build_index(self.corpus_dir, self.index_dir, options=options)
        self.post_message(BuildDone(summary))

    @work(thread=True, group="export", exit_on_error=False)
    def write_export(self, path: Path, text: str, turns: int) -> None:
        self.post_message(ExportDone(write_markdown(path, text), turns))

    @work(thread=True, exclusive=True, group="verify", exit_on_error=False)
    def verify_draft(self, path: Path, searcher: Searcher) -> None:
        from tui.screens.verify import check_draft

        self.post_message(VerifyDone(check_draft(path, searcher)))

    # -- failures ---------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures become messages (never tracebacks)."""
        if event.state != WorkerState.ERROR:
            return
        worker = event.worker
        hooks = {
            "open": self.open_failed,
            "model": self.model_failed,
            "search": self.search_failed,
            "build": self.build_failed,
            "refresh": self.refresh_failed,
        }
        hooks.get(worker.group, self.work_failed)(worker, describe(worker.error))

    def work_failed(self, worker: Worker[Any], message: str) -> None:
        """Any worker without a hook of its own (``source``, ``export``, ``verify``)."""
        self.notify(message, title=worker.group.capitalize(), severity="error", markup=False)

    def open_failed(self, worker: Worker[Any], message: str) -> None:
        """The index could not be opened; ``worker.error`` says whether it is missing."""
        self.work_failed(worker, message)

    def model_failed(self, worker: Worker[Any], message: str) -> None:
        self.work_failed(worker, message)

    def search_failed(self, worker: Worker[Any], message: str) -> None:
        self.work_failed(worker, message)

    def build_failed(self, worker: Worker[Any], message: str) -> None:
        self.work_failed(worker, message)

    def refresh_failed(self, worker: Worker[Any], message: str) -> None:
        self.work_failed(worker, message)
