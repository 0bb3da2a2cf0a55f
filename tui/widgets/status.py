"""The status line: model state on the left, index summary on the right."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Label

from tui.state import IndexState, Lifecycle, ModelState

if TYPE_CHECKING:
    from qa.models import IndexInfo

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def short_model(name: str) -> str:
    """``sentence-transformers/all-MiniLM-L6-v2`` → ``all-MiniLM-L6-v2``."""
    return name.rstrip("/").rsplit("/", 1)[-1] or name


def short_time(stamp: str) -> str:
    """``2025-06-01T12:00:00+0200`` → ``2025-06-01 12:00``."""
    return stamp[:16].replace("T", " ") if stamp else "never"


def index_summary(info: IndexInfo) -> str:
    return (
        f"{info.documents:,} documents · {info.passages:,} passages · "
        f"{short_model(info.model)} · updated {short_time(info.updated_at)}"
    )


def lifecycle_text(lifecycle: Lifecycle, spin: str) -> tuple[str, str]:
    """``(text, style)`` of the state on the left of the status line."""
    if lifecycle.index is IndexState.OPENING:
        return f"{spin}opening index…", "$text-muted"
    if lifecycle.index is not IndexState.OPEN:
        return "✖ no index", "$text-error"
    if lifecycle.model is ModelState.READY:
        return "● ready", "$text-success"
    if lifecycle.model is ModelState.FAILED:
        return "✖ the model could not load", "$text-error"
    return f"{spin}loading model…", "$text-warning"


class StatusBar(Horizontal):
    """``⠋ loading model…`` / ``● ready`` / ``searching…`` | ``2 documents · 21 passages · …``.

    ``lifecycle`` says where the index and its model stand; ``busy`` is a short
    description of running work (``searching``) or ``""``.
    """

    DEFAULT_CSS = """
    StatusBar { height: 1; }
    StatusBar #model-state { width: auto; padding: 0 1; }
    StatusBar #index-summary {
        width: 1fr; text-align: right; padding: 0 1; color: $text-muted;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    lifecycle: reactive[Lifecycle] = reactive(Lifecycle)
    busy: reactive[str] = reactive("")
    detail: reactive[str] = reactive("")
    info: reactive[IndexInfo | None] = reactive(None)
    show_spinner: bool = True

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._frame = 0
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Label(id="model-state")
        yield Label(id="index-summary")

    def on_mount(self) -> None:
        self._timer = self.set_interval(0.1, self._tick, pause=True)
        self._refresh_all()

    def _tick(self) -> None:
        self._frame = (self._frame + 1) % len(SPINNER)
        self._refresh_state()

    def _spinning(self) -> bool:
        return self.show_spinner and (self.lifecycle.waiting or bool(self.busy))

    def watch_lifecycle(self) -> None:
        self._refresh_all()

    def watch_busy(self) -> None:
        self._refresh_all()

    def watch_detail(self) -> None:
        self._refresh_state()

    def watch_info(self) -> None:
        self._refresh_summary()

    def _refresh_all(self) -> None:
        if self._timer is not None:
            if self._spinning():
                self._timer.resume()
            else:
                self._timer.pause()
        self._refresh_state()
        self._refresh_summary()

    def state_text(self) -> Content:
        spin = SPINNER[self._frame] + " " if self._spinning() else ""
        text, style = lifecycle_text(self.lifecycle, spin)
        if self.busy and self.lifecycle.settled:
            text, style = f"{spin}{self.busy}…", "$text-accent"
        parts: list[str | tuple[str, str]] = [(text, f"bold {style}")]
        if self.detail:
            parts.append(("  " + self.detail, "$text-muted"))
        return Content.assemble(*parts)

    def _refresh_state(self) -> None:
        if self.is_mounted:
            self.query_one("#model-state", Label).update(self.state_text())

    def _refresh_summary(self) -> None:
        if self.is_mounted:
            text = index_summary(self.info) if self.info else ""
            self.query_one("#index-summary", Label).update(Content(text))
