"""F1: every key, in one table (a test checks it lists each key binding of the chat)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: list[tuple[str, str]] = [
    ("enter", "ask the question in the box (on a selected card: open it)"),
    ("up / down", "previous / next question from the history (in the question box)"),
    ("ctrl+n / ctrl+p", "select the next / previous citation (the open source pane follows)"),
    ("ctrl+o", "open the selected citation in the source pane (or click a card)"),
    ("ctrl+y", "copy the selected citation to the clipboard"),
    ("ctrl+s", "export the conversation to Markdown (default exports/pilcrow-….md)"),
    ("ctrl+f", "filters and search mode (or click the settings line)"),
    ("ctrl+r", "cycle the search mode: hybrid → dense → lexical"),
    ("ctrl+g", "compact cards: citation and best sentence only (again: full cards)"),
    ("ctrl+t", "follow-ups on/off (on: short or referring questions include the topic)"),
    ("ctrl+l", "clear the conversation"),
    ("f3", "check the quotes of a draft (Markdown or text file) against the index"),
    ("f5", "build the index here (when there is none)"),
    ("escape", "close the source pane, or go back to the question box"),
    ("f1", "this help"),
    ("f2", "switch between the light and the dark theme"),
    ("ctrl+backslash", "command palette (themes, keys, screenshots)"),
    ("ctrl+q", "quit"),
    ("on a card", "up/down or j/k move · enter/o open · c/y copy"),
]


def help_content() -> Content:
    width = max(len(key) for key, _ in KEYS)
    lines = [Content.styled("Pilcrow — keys", "bold $text-accent"), Content("")]
    for key, text in KEYS:
        lines.append(Content.assemble((key.ljust(width + 2), "bold"), text))
    lines += [
        Content(""),
        Content.styled(
            "Follow-ups: a question that starts with and/but/also/what about, is very short,"
            " or refers back (it, they, that…) is searched together with the last full"
            " question; the transcript shows what was searched. See docs/tui.md.",
            "$text-muted",
        ),
        Content(""),
        Content.styled("escape or f1 closes this help", "$text-muted"),
    ]
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    """A modal listing the keys; any of escape, f1 or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,f1,q", "dismiss", "Close", show=True)]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_content(), id="help-text")
