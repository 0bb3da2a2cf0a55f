"""Messages the workers post back to the chat screen (``post_message`` is thread-safe).

Workers never touch widgets: they compute in a thread and post one of these; the screen
handles it on the event loop. Failures are not messages: they surface as the worker's
ERROR state and are handled in ``ChatScreen.on_worker_state_changed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

from qa.models import Document, Hit

if TYPE_CHECKING:
    from qa.index import IndexSummary
    from qa.models import Answer, IndexInfo
    from qa.search.searcher import Searcher
    from tui.session import Verification


@dataclass
class IndexOpened(Message):
    """The index is open; its summary is ready for the status line."""

    searcher: Searcher
    info: IndexInfo


@dataclass
class ModelReady(Message):
    """The embedding model has loaded; queued questions can run."""


@dataclass
class IndexChanged(Message):
    """Another process committed a new index generation, now in use."""

    info: IndexInfo


@dataclass
class SearchDone(Message):
    """The answer to one turn."""

    turn_id: int
    answer: Answer
    took_ms: float


@dataclass
class DocumentReady(Message):
    """A document fetched for the source pane, with the hit that cites it; ``indexed``:
    which cables its references name are in the index."""

    document: Document | None
    hit: Hit
    indexed: frozenset[str] = frozenset()


@dataclass
class ReferenceReady(Message):
    """A cable named by a reference of the shown one, fetched for the source pane (None:
    not in the index)."""

    doc_id: str
    document: Document | None
    indexed: frozenset[str] = frozenset()


@dataclass
class BuildStarted(Message):
    total: int
    description: str


@dataclass
class BuildAdvanced(Message):
    n: int


@dataclass
class BuildWarning(Message):
    text: str


@dataclass
class BuildDone(Message):
    summary: IndexSummary


@dataclass
class ExportDone(Message):
    path: Path
    turns: int


@dataclass
class VerifyDone(Message):
    """A draft's quotes checked (F3), for the transcript and the export."""

    verification: Verification
