"""Ctrl+F: set the metadata filters, the search mode and follow-ups for the next questions."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.validation import Regex
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet

from qa.models import Filters
from tui.session import MODES, Settings

DATE = r"^$|^\d{4}(-\d{2}(-\d{2})?)?$"
FIELDS = [
    ("origin", "Origin contains", "Embassy Moscow"),
    ("since", "Dated on or after", "YYYY-MM-DD"),
    ("until", "Dated on or before", "YYYY-MM-DD"),
    ("classification", "Classification starts with", "SECRET"),
    ("tag", "Cable TAG", "PREL"),
    ("doc_id", "Only document", "07MOSCOW5292"),
]


def until_bound(value: str) -> str:
    """``2007`` → ``2007-12-31``, ``2007-11`` → ``2007-11-31`` (string comparison)."""
    if re.fullmatch(r"\d{4}", value):
        return value + "-12-31"
    if re.fullmatch(r"\d{4}-\d{2}", value):
        return value + "-31"
    return value


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
                for name, label, placeholder in FIELDS:
                    yield Label(label, classes="field-label")
                    validators = [Regex(DATE)] if name in ("since", "until") else []
                    yield Input(
                        getattr(filters, name) or "",
                        placeholder=placeholder,
                        id=f"filter-{name}",
                        validators=validators,
                        valid_empty=True,
                        compact=True,
                    )
                yield Label("Mode", classes="field-label")
                with RadioSet(id="mode", compact=True):
                    for mode in MODES:
                        yield RadioButton(mode, value=mode == self._settings.mode, name=mode)
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
        for name, _, _ in FIELDS:
            field = self.query_one(f"#filter-{name}", Input)
            value = " ".join(field.value.split())
            result = field.validate(value)
            if result is not None and not result.is_valid:
                self.notify(f"{name}: use YYYY, YYYY-MM or YYYY-MM-DD", severity="error")
                field.focus()
                return None
            values[name] = value or None
        if values["until"]:
            values["until"] = until_bound(values["until"])
        pressed = self.query_one("#mode", RadioSet).pressed_button
        mode = pressed.name if pressed is not None and pressed.name else self._settings.mode
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
        for name, _, _ in FIELDS:
            self.query_one(f"#filter-{name}", Input).value = ""

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
