"""The Pilcrow terminal UI: ask questions of an index, read the cited paragraphs in place.

The App is thin: configuration (index, corpus), theme, global keys and the help screen.
The chat itself lives in ``tui.screens.chat.ChatScreen``.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from qa import locations
from tui.screens.chat import ChatScreen
from tui.screens.help import HelpScreen

DARK_THEME = "textual-dark"
LIGHT_THEME = "textual-light"


class PilcrowApp(App[None]):
    """``PilcrowApp(index_dir)``; ``show_timings=False`` keeps screenshots deterministic."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # also for subclasses elsewhere
    TITLE = "Pilcrow"
    COMMAND_PALETTE_BINDING = "ctrl+backslash"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help"),
        Binding("f2", "toggle_theme", "Theme", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        index_dir: Path | None = None,
        corpus_dir: Path | None = None,
        *,
        show_timings: bool = True,
    ) -> None:
        super().__init__()
        self.index_dir = index_dir or locations.index_dir()
        self.corpus_dir = corpus_dir or locations.corpus_dir()
        self.show_timings = show_timings
        self.theme = DARK_THEME

    def get_default_screen(self) -> Screen[None]:
        return ChatScreen(self.index_dir, self.corpus_dir, show_timings=self.show_timings)

    @property
    def chat(self) -> ChatScreen:
        """The main screen (also while a modal is on top of it)."""
        return next(s for s in self.screen_stack if isinstance(s, ChatScreen))

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
        else:
            self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT_THEME if self.current_theme.dark else DARK_THEME
