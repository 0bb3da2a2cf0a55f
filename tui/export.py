"""The conversation → a Markdown file with every question, citation and passage.

Each turn is rendered by the core's ``qa.markdown.turn_markdown`` (the same Markdown
``qa ask --format markdown`` prints): corpus text as block quotes (escapes removed), the
highlighted sentence bold. The file is written whole (temporary file, then rename) so an
export never leaves half a file behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from qa.fsutil import write_atomic
from qa.markdown import answer_markdown, search_line, turn_markdown
from qa.text import one_line
from tui.session import Turn

__all__ = [
    "EXPORT_DIR",
    "answer_markdown",
    "conversation_markdown",
    "default_export_name",
    "default_export_path",
    "write_markdown",
]

EXPORT_DIR = Path("exports")  # under the current folder; git-ignored in the checkout


def default_export_name(now: float | None = None) -> str:
    """``pilcrow-YYYYmmdd-HHMMSS.md`` (local time), so exports sort by when they were made."""
    return time.strftime("pilcrow-%Y%m%d-%H%M%S.md", time.localtime(now))


def default_export_path(now: float | None = None) -> Path:
    """``exports/pilcrow-YYYYmmdd-HHMMSS.md``: a folder of their own, not loose files in
    the repository root (``/exports/`` is in ``.gitignore``); created on first export."""
    return EXPORT_DIR / default_export_name(now)


def conversation_markdown(turns: Iterable[Turn], index: str = "") -> str:
    """All turns as Markdown: question, what was searched, each cited passage in full."""
    lines = ["# Pilcrow conversation", ""]
    if index:
        lines += [f"Index: `{index}`", ""]
    for number, turn in enumerate(turns, 1):
        lines += _turn_markdown(number, turn)
    return "\n".join(lines).rstrip() + "\n"


def _turn_markdown(number: int, turn: Turn) -> list[str]:
    """Turn ``number``: what was searched (the follow-up's combined text too), then the
    core's rendering of its answer."""
    searched: list[str] = []
    if turn.combined:
        searched.append(f"Searched (follow-up): {one_line(turn.searched)}  ")
    searched.append(search_line(turn.settings.mode, turn.settings.filters))
    title = f"{number}. {one_line(turn.question)}"
    return turn_markdown(title, searched, turn.hits or [], turn.answer, turn.relevant, turn.error)


def write_markdown(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; returns the absolute path written."""
    path = path.expanduser()
    if path.is_dir():
        path = path / default_export_name()
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return path
