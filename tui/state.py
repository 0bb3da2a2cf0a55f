"""What the chat screen waits for, as data: the index and model lifecycle, the question queue.

The index and the embedding model are two different things with their own states: the
index is opened (or found missing, or built), and only an open index has a model to load.
``Lifecycle`` holds both and names the questions the screen asks of them (may a question
be asked? searched now? may the index be built here?). ``QuestionQueue`` answers questions
in the order asked, one search at a time, so a question typed while the model loads is
searched as soon as it is ready. No Textual here: the rules are unit-tested in milliseconds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from enum import Enum


class IndexState(Enum):
    """Where the index stands."""

    OPENING = "opening"  # the open worker is running
    OPEN = "open"  # a searcher is in use
    MISSING = "missing"  # no usable index (none, or damaged): the empty state explains
    BUILDING = "building"  # still missing, and the empty state's build is running


class ModelState(Enum):
    """Where the embedding model of the open index stands."""

    UNLOADED = "unloaded"  # no index open yet, or none at all
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class Lifecycle:
    """The index's state and its model's; each transition returns a new value."""

    index: IndexState = IndexState.OPENING
    model: ModelState = ModelState.UNLOADED

    def opened(self, model_loaded: bool) -> Lifecycle:
        """The index is open; its model is ready already or starts loading now."""
        return Lifecycle(IndexState.OPEN, ModelState.READY if model_loaded else ModelState.LOADING)

    def missing(self) -> Lifecycle:
        """No usable index (also after a build, until the new index is open)."""
        return Lifecycle(IndexState.MISSING, ModelState.UNLOADED)

    def building(self) -> Lifecycle:
        return replace(self, index=IndexState.BUILDING)

    def model_loaded(self) -> Lifecycle:
        return replace(self, model=ModelState.READY)

    def model_failed(self) -> Lifecycle:
        return replace(self, model=ModelState.FAILED)

    @property
    def accepts_questions(self) -> bool:
        """A question may be asked (and queued): there is, or soon may be, an index."""
        return self.index in (IndexState.OPENING, IndexState.OPEN)

    @property
    def can_search(self) -> bool:
        return self.index is IndexState.OPEN and self.model is ModelState.READY

    @property
    def can_build(self) -> bool:
        """The empty state's build may start (no index, and no build running)."""
        return self.index is IndexState.MISSING

    @property
    def waiting(self) -> bool:
        """The index is opening or its model loading: the status line spins."""
        return self.index is IndexState.OPENING or (
            self.index is IndexState.OPEN
            and self.model in (ModelState.UNLOADED, ModelState.LOADING)
        )

    @property
    def settled(self) -> bool:
        """The index is open and its model has loaded or failed for good."""
        return self.index is IndexState.OPEN and self.model in (ModelState.READY, ModelState.FAILED)


class QuestionQueue:
    """Turn ids waiting for a search, oldest first, and the one being searched."""

    def __init__(self) -> None:
        self._waiting: deque[int] = deque()
        self.searching: int | None = None

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, turn_id: int) -> None:
        self._waiting.append(turn_id)

    def start_next(self) -> int | None:
        """The next turn to search, now marked as searching; ``None`` while one runs."""
        if self.searching is not None or not self._waiting:
            return None
        self.searching = self._waiting.popleft()
        return self.searching

    def finish(self) -> int | None:
        """The search ended (answered or failed); returns the turn it was for."""
        turn_id, self.searching = self.searching, None
        return turn_id

    def drain(self) -> list[int]:
        """Every waiting turn, removed (they cannot be searched: the model failed)."""
        waiting = list(self._waiting)
        self._waiting.clear()
        return waiting

    def clear(self) -> None:
        """Forget the waiting turns; a running search finishes, for a turn now gone."""
        self._waiting.clear()
