"""Keep third-party libraries quiet while a model is loaded or converted.

The core never configures logging (the CLI does, with ``-v``): these context managers
touch only the named library's own logger and switches, for the length of one call, and
put back what was there before, so no other logger or thread loses a message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_library(package: str, level: int = logging.ERROR) -> Iterator[None]:
    """Drop ``package``'s log records below ``level`` while the block runs.

    Both kinds: records of its own loggers (``package.*``), and those it sends straight
    to the root logger with ``logging.warning(...)`` (onnxruntime's quantiser does), told
    apart by the file they come from. If the root logger has no handler, it gets a
    ``NullHandler`` meanwhile, so such calls cannot run ``logging.basicConfig`` for the
    whole process.
    """
    own = logging.getLogger(package)
    root = logging.getLogger()
    marker = f"{os.sep}{package}{os.sep}"

    def keep(record: logging.LogRecord) -> bool:
        return record.levelno >= level or marker not in record.pathname

    previous = own.level
    placeholder = None if root.handlers else logging.NullHandler()
    own.setLevel(level)
    root.addFilter(keep)
    if placeholder is not None:
        root.addHandler(placeholder)
    try:
        yield
    finally:
        if placeholder is not None:
            root.removeHandler(placeholder)
        root.removeFilter(keep)
        own.setLevel(previous)


@contextmanager
def no_transformers_progress_bars() -> Iterator[None]:
    """Hide transformers' "Loading weights" bars on stderr while the block runs."""
    from transformers.utils import logging as transformers_logging

    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            transformers_logging.enable_progress_bar()
