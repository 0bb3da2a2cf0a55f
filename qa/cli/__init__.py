"""The ``qa`` command: index, ask, show, paths, audit, eval (and ``tui`` from the UI package).

One module per group of commands, each registering on the group in ``group.py``; shared
option stacks in ``options.py``; how things are shown in ``output.py``. Heavy imports
(torch, FAISS, Textual) happen inside commands, so ``qa --help`` stays fast.
"""

from __future__ import annotations

from qa.cli import asking, evaluation, indexing, info  # noqa: F401  (register the commands)
from qa.cli.group import cli

__all__ = ["cli"]
