"""The conversation → a Markdown file with every question, citation and passage.

Corpus text is written as block quotes (escapes removed); the highlighted sentence is
bold. The file is written whole (temporary file, then rename) so an export never leaves
half a file behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from qa.fsutil import write_atomic
from qa.models import Hit
from qa.text import one_line, reflow, terminal_safe
from tui.render import highlight_pieces, metadata_line
from tui.session import Turn


def default_export_path(now: float | None = None) -> Path:
    """``pilcrow-YYYYmmdd-HHMMSS.md`` in the current directory."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return Path(f"pilcrow-{stamp}.md")


def conversation_markdown(turns: Iterable[Turn], index: str = "") -> str:
    """All turns as Markdown: question, what was searched, each cited passage in full."""
    lines = ["# Pilcrow conversation", ""]
    if index:
        lines += [f"Index: `{index}`", ""]
    for number, turn in enumerate(turns, 1):
        lines += _turn_markdown(number, turn)
    return "\n".join(lines).rstrip() + "\n"


def _turn_markdown(number: int, turn: Turn) -> list[str]:
    lines = [f"## {number}. {one_line(turn.question)}", ""]
    settings = turn.settings
    described = [f"mode {settings.mode}"] + [f"{k} {v}" for k, v in settings.active_filters()]
    if turn.combined:
        lines.append(f"Searched (follow-up): {one_line(turn.searched)}  ")
    lines += [f"Search: {', '.join(described)}", ""]
    if turn.error:
        return [*lines, f"_No answer: {one_line(turn.error)}_", ""]
    if not turn.hits:
        return [*lines, "_No passage matched._", ""]
    if not turn.relevant:
        lines += ["_Nothing in the index looked relevant; the closest passages follow._", ""]
    for hit in turn.hits:
        lines.append(f"### {hit.rank}. {hit.citation} — {one_line(hit.title)}")
        lines += ["", f"{metadata_line(hit)} · score {hit.score:.3f}", ""]
        lines += [f"> {line}" if line else ">" for line in _quoted(hit).split("\n")]
        lines.append("")
    return lines


def _quoted(hit: Hit) -> str:
    """The passage reflowed, its highlighted sentence in bold."""
    if hit.highlight is None:
        return reflow(terminal_safe(hit.text))
    lead, middle, trail = highlight_pieces(hit.text, *hit.highlight)
    return lead + (f"**{middle}**" if middle else "") + trail


def write_markdown(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically; returns the absolute path written."""
    path = path.expanduser()
    if path.is_dir():
        path = path / default_export_path()
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)
    return path
