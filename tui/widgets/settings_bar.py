"""The always-visible line of settings: mode, follow-ups, card view, active filters."""

from __future__ import annotations

from textual import events
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from qa.text import one_line
from tui.session import Settings


def settings_content(settings: Settings, compact: bool = False) -> Content:
    """``mode hybrid │ follow-ups on │ cards full │ filters: doc 07MOSCOW5292 · …``
    (filters last: they are the part that may run past the edge and be cut)."""
    parts: list[str | tuple[str, str]] = [
        ("mode ", "$text-muted"),
        (settings.mode, "bold $text-accent"),
        (" │ follow-ups ", "$text-muted"),
        ("on" if settings.follow_up else "off", "bold"),
        (" │ cards ", "$text-muted"),
        ("compact" if compact else "full", "bold"),
        (" │ filters: ", "$text-muted"),
    ]
    active = settings.active_filters()
    if not active:
        parts.append(("none", "$text-muted"))
    for i, (label, value) in enumerate(active):
        if i:
            parts.append((" · ", "$text-muted"))
        parts += [(f"{label} ", "$text-muted"), (one_line(value), "bold $text-warning")]
    return Content.assemble(*parts)


class SettingsBar(Static):
    """Shows ``settings`` and the card view (``compact``, ctrl+g); a click asks to edit
    them (``SettingsBar.EditRequested``)."""

    DEFAULT_CSS = """
    SettingsBar { height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    SettingsBar:hover { background: $boost; }
    """

    settings: reactive[Settings] = reactive(Settings, always_update=True)
    compact: reactive[bool] = reactive(False)

    class EditRequested(Message):
        """The user clicked the settings bar."""

    def watch_settings(self, settings: Settings) -> None:
        self.update(settings_content(settings, self.compact))

    def watch_compact(self, compact: bool) -> None:
        self.update(settings_content(self.settings, compact))

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.EditRequested())
