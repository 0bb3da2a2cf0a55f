"""Ctrl+S: choose where to write the Markdown export (``exports/pilcrow-….md`` by default)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class ExportScreen(ModalScreen[Path | None]):
    """Dismisses with the chosen path (Enter) or ``None`` (Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=True)]
    AUTO_FOCUS = "#export-path"

    def __init__(self, default: Path, turns: int) -> None:
        super().__init__()
        self._default = default
        self._turns = turns

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box", classes="dialog"):
            yield Label(f"Export {self._turns} turns to Markdown", classes="dialog-title")
            yield Input(str(self._default), id="export-path")
            yield Label("enter writes the file · escape cancels", classes="hint")

    @on(Input.Submitted, "#export-path")
    def _submit(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        self.dismiss(Path(value) if value else None)

    def action_cancel(self) -> None:
        self.dismiss(None)
