"""Terminal-safe text, shared by the CLI and the TUI.

Corpus text is data: before it reaches a terminal its escape sequences and control
characters are removed (``terminal_safe``), so a cable cannot recolour, retitle or move
the cursor of the reader's terminal. Not to be confused with ``qa.views.clean``, which
strips cable markings before indexing. Nothing here imports more than ``re``, so the UI
can use it before its first frame.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|[\x00-\x08\x0b-\x1f\x7f]"
)
_BLOCK_BREAK = re.compile(r"\n\s*\n")


def terminal_safe(text: str) -> str:
    """Text with terminal escape sequences and control characters removed."""
    return _CONTROL.sub("", text)


def reflow(text: str) -> str:
    """Join a cable's hard-wrapped lines; keep blank-line paragraph breaks."""
    blocks = _BLOCK_BREAK.split(text)
    return "\n\n".join(" ".join(block.split()) for block in blocks if block.strip())


def one_line(text: str) -> str:
    """Metadata on one line: escapes removed, runs of whitespace collapsed."""
    return " ".join(terminal_safe(text).split())
