"""The status line: model state on the left, index summary on the right."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Label

if TYPE_CHECKING:
    from qa.retrieve import IndexInfo

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


class StatusBar(Horizontal):
    """``⠋ loading model…`` / ``● ready`` / ``searching…`` | ``2 documents · 21 passages · …``.

    ``state`` is one of ``opening``, ``loading``, ``ready``, ``failed``, ``no-index``;
    ``busy`` is a short description of running work (``searching``) or ``""``.
    """

    DEFAULT_CSS = """
    StatusBar { height: 1; }
    StatusBar #model-state { width: auto; padding: 0 1; }
    StatusBar #index-summary {
        width: 1fr; text-align: right; padding: 0 1; color: $text-muted;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    state: reactive[str] = reactive("opening")
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
        return self.show_spinner and (self.state in ("opening", "loading") or bool(self.busy))

    def watch_state(self) -> None:
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
        texts = {
            "opening": (f"{spin}opening index…", "$text-muted"),
            "loading": (f"{spin}loading model…", "$text-warning"),
            "ready": ("● ready", "$text-success"),
            "failed": ("✖ the model could not load", "$text-error"),
            "no-index": ("✖ no index", "$text-error"),
        }
        text, style = texts.get(self.state, (self.state, ""))
        if self.busy and self.state in ("ready", "failed"):
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
