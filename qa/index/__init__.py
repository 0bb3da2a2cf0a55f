"""Corpus folder → index generation, incrementally and crash-safely.

One run (``run``): take the write lock (``lock``); decide source by source what is new,
changed, deleted or unchanged, and how a big run splits into parts (``plan``, pure);
parse only what changed (``sources``, ``rows``); embed only view texts the cache has not
seen for this model (``embedding``); then, in one SQLite transaction, swap the documents'
rows and point the manifest at a freshly written vector file of the next generation
(``commit``). A crash anywhere before that commit leaves the previous generation
untouched; a crash after it leaves the new one complete. ``report`` holds what a run
tells its caller; ``hooks`` the named points where crash tests stop or kill a real
``qa index`` (``PILCROW_TEST_KILL_AT``; ``PILCROW_EMBED_BATCH`` makes the embedding cache
commit more often, so there are several batches to kill between).
"""

from __future__ import annotations

from qa.index.lock import write_lock
from qa.index.report import IndexSummary, Progress, SilentProgress
from qa.index.run import RunOptions, index_sources, update_index
from qa.index.sources import FileSource, Source, file_sources

__all__ = [
    "FileSource",
    "IndexSummary",
    "Progress",
    "RunOptions",
    "SilentProgress",
    "Source",
    "file_sources",
    "index_sources",
    "update_index",
    "write_lock",
]
