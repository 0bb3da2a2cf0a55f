"""Shown instead of the transcript when there is no usable index: how to build one."""

from __future__ import annotations

import shlex
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Label, ProgressBar, Static


def index_command(corpus: Path, index: Path) -> str:
    """The exact shell command that builds this index."""
    return f"qa index --corpus {shlex.quote(str(corpus))} --index {shlex.quote(str(index))}"


class EmptyState(Vertical):
    """The reason there is no index, the command to build one, and a build button."""

    DEFAULT_CSS = """
    EmptyState { height: 1fr; align: center middle; }
    EmptyState > * { width: 100%; max-width: 80; }
    EmptyState #empty-message { padding: 1 2; border: round $warning; height: auto; }
    EmptyState #build { margin: 1 0; width: auto; }
    EmptyState #build-progress, EmptyState #build-label { margin: 0 2; display: none; }
    EmptyState.-building #build-progress, EmptyState.-building #build-label { display: block; }
    EmptyState.-building #build { display: none; }
    """

    class BuildRequested(Message):
        """The user asked to build the index here."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.command = ""

    def compose(self) -> ComposeResult:
        yield Static(id="empty-message")
        yield Button("Build the index here (F5)", id="build", variant="primary")
        yield Label(id="build-label")
        yield ProgressBar(id="build-progress", show_eta=True)

    def explain(self, reason: str, corpus: Path, index: Path, damaged: bool = False) -> None:
        """Say why there is no index and how to make one."""
        self.command = index_command(corpus, index) + (" --rebuild" if damaged else "")
        files = corpus_files(corpus)
        where = f"{files} files in {corpus}" if files else f"{corpus} (no files found there yet)"
        if damaged:
            head: list[str | tuple[str, str]] = [
                (f"The index at {index} can't be used:", "bold"),
                "\n\n",
                reason,
                "\n\nRebuild it from a terminal with:\n\n    ",
            ]
        else:
            head = [
                (f"No index yet in {index}/.", "bold"),
                "\n\nBuild it from a terminal with:\n\n    ",
            ]
        text = Content.assemble(
            *head,
            (self.command, "bold $text-accent"),
            f"\n\nor press F5 to build it here from {where}.",
        )
        self.query_one("#empty-message", Static).update(text)
        self.set_class(False, "-building")

    def building(self, description: str, total: int | None) -> None:
        self.add_class("-building")
        self.query_one("#build-label", Label).update(Content(description))
        self.query_one("#build-progress", ProgressBar).update(total=total, progress=0)

    def advance(self, n: int) -> None:
        self.query_one("#build-progress", ProgressBar).advance(n)

    def build_failed(self) -> None:
        self.remove_class("-building")

    @on(Button.Pressed, "#build")
    def _build(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.BuildRequested())


def corpus_files(corpus: Path) -> int:
    """How many candidate files the corpus folder holds (0 if it is missing)."""
    if not corpus.is_dir():
        return 0
    suffixes = {".html", ".htm", ".txt", ".md"}
    return sum(
        1
        for p in corpus.rglob("*")
        if p.suffix.lower() in suffixes and not p.name.startswith(".") and p.is_file()
    )
