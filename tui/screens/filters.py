"""Ctrl+F: set the metadata filters, the search mode and follow-ups for the next questions."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.validation import Function, Validator
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet

from qa.models import FILTER_FIELDS, FilterField, Filters, Mode
from tui.session import MODES, Settings


def validators(field: FilterField) -> list[Validator]:
    """The field's own check (``FilterField.value``, the CLI's too), shown as you type."""
    if not (field.is_date or field.is_marking):
        return []

    def valid(value: str) -> bool:
        try:
            field.value(value)
        except ValueError:
            return False
        return True

    hint = "use YYYY, YYYY-MM or YYYY-MM-DD" if field.is_date else "use SECRET, NOFORN, S/NF..."
    return [Function(valid, hint)]


class FiltersScreen(ModalScreen[Settings | None]):
    """Dismisses with the new settings (Apply / Enter) or ``None`` (Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=True)]
    AUTO_FOCUS = "#filter-origin"

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self._settings = settings

    def compose(self) -> ComposeResult:
        filters = self._settings.filters
        with VerticalScroll(id="filters-box", classes="dialog"):
            yield Label("Filters and search mode", classes="dialog-title")
            with Grid(id="filters-grid"):
                for field in FILTER_FIELDS:
                    yield Label(field.prompt, classes="field-label")
                    yield Input(
                        getattr(filters, field.name) or "",
                        placeholder=field.placeholder,
                        id=f"filter-{field.name}",
                        validators=validators(field),
                        valid_empty=True,
                        compact=True,
                    )
                yield Label("Mode", classes="field-label")
                with RadioSet(id="mode", compact=True):
                    for mode in MODES:
                        yield RadioButton(
                            mode.value, value=mode == self._settings.mode, name=mode.value
                        )
                yield Label("Follow-ups", classes="field-label")
                yield Checkbox(
                    "combine short or referring questions with the topic",
                    self._settings.follow_up,
                    id="follow-up",
                    compact=True,
                )
            with Horizontal(classes="buttons"):
                yield Button("Apply", id="apply", variant="primary", compact=True)
                yield Button("Clear filters", id="clear", compact=True)
                yield Button("Cancel", id="cancel", compact=True)
            yield Label("enter applies · escape cancels · tab moves", classes="hint")

    def settings(self) -> Settings | None:
        """The settings as entered, or ``None`` (with the bad field focused) if invalid."""
        values: dict[str, str | None] = {}
        for field in FILTER_FIELDS:
            entry = self.query_one(f"#filter-{field.name}", Input)
            value = " ".join(entry.value.split())
            try:
                values[field.name] = field.value(value) if value else None
            except ValueError as exc:
                self.notify(f"{field.name}: {exc}", severity="error", markup=False)
                entry.focus()
                return None
        pressed = self.query_one("#mode", RadioSet).pressed_button
        mode = Mode(pressed.name) if pressed is not None and pressed.name else self._settings.mode
        return replace(
            self._settings,
            filters=Filters(**values),
            mode=mode,
            follow_up=self.query_one("#follow-up", Checkbox).value,
        )

    def _apply(self) -> None:
        settings = self.settings()
        if settings is not None:
            self.dismiss(settings)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._apply()

    @on(Button.Pressed, "#apply")
    def _apply_pressed(self) -> None:
        self._apply()

    @on(Button.Pressed, "#clear")
    def _clear(self) -> None:
        for field in FILTER_FIELDS:
            self.query_one(f"#filter-{field.name}", Input).value = ""

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
