"""The ``qa`` command: index, ask, show, refs, verify, paths, audit, eval, completion
(``tui`` and ``serve`` from the UI).

One module per group of commands, each registering on the group in ``group.py``; shared
option stacks in ``options.py``; how things are shown in ``output.py``. Heavy imports
(torch, FAISS, Textual) happen inside commands, so ``qa --help`` stays fast.
"""

from __future__ import annotations

from qa.cli import (  # noqa: F401  (register the commands)
    asking,
    completion,
    evaluation,
    indexing,
    info,
    references,
    verifying,
)
from qa.cli.group import cli

__all__ = ["cli"]
