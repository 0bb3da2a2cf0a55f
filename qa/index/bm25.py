"""Whether a run keeps the BM25 index (``qa.bm25``) beside FTS5, and how it stays in step.

FTS5 answers every index exactly at ~2 µs per matching row: within ~15 ms up to a few
hundred thousand passages, ~120 ms at the release's three million. So a run keeps a
tantivy index (block-max WAND, ``qa.bm25.engine``) once the index holds
``BM25_MIN_PASSAGES`` or has one already, as ``PILCROW_BM25`` says: ``auto`` (the
default), ``tantivy`` (any size, where it is installed) or ``fts5`` (never).

The index is brought in step with the committed generation when the run starts (a killed
run's one change undone, anything else rebuilt), changed inside each commit's
transaction just before its COMMIT, and built after the run's last commit when due and
missing (a first build of the release builds it once, at the end, rather than part by
part). A rebuild drops it first. Trouble with it costs speed, never an answer: readers
search FTS5 whenever it is not in step, and the next run rebuilds it.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from qa import bm25, locations, store
from qa.index.hooks import checkpoint
from qa.index.report import Progress
from qa.store import Manifest

log = logging.getLogger(__name__)

BM25_MIN_PASSAGES = 300_000


class BM25Keeper:
    """One run's dealings with the BM25 index: ``start``, ``commit`` per commit, ``finish``.

    ``kept`` is True while the index is in step and changed with each commit; a failed
    change turns it off for the rest of the run (``finish`` then rebuilds it).
    """

    def __init__(self, index_dir: Path, setting: str | None = None) -> None:
        self.setting = setting or locations.bm25_setting()
        self.usable = self.setting != "fts5" and bm25.available()
        self.directory = locations.bm25_path(index_dir)
        self.kept = False

    def start(self, db: sqlite3.Connection, progress: Progress, *, rebuild: bool) -> None:
        """Under the write lock, before the first commit: bring an existing index in step
        with the committed generation (a rebuild removes it: built again at the end)."""
        if not self.usable or not self.directory.exists():
            return
        if rebuild:
            shutil.rmtree(self.directory, ignore_errors=True)
            return
        from qa.bm25 import engine

        try:
            outcome = engine.bring_in_step(db, self.directory)
        except Exception as exc:  # derived data: FTS5 answers meanwhile
            progress.warn(f"{self.directory}: BM25 index not usable ({exc}); searching FTS5")
            return
        if outcome != "in step":
            log.info("%s: BM25 index %s", self.directory, outcome)
        self.kept = True

    def commit(
        self,
        db: sqlite3.Connection,
        base: Manifest,
        committing: Manifest,
        dropped: Sequence[int],
        added: Sequence[int],
    ) -> None:
        """Inside the commit's transaction, after its rows and manifest are written and
        before its COMMIT: the same change to the BM25 index, committed there."""
        if not self.kept:
            return
        from qa.bm25 import engine

        try:
            rows = engine.rows_of(db, list(added))
            engine.apply(
                self.directory,
                engine.commit_of(base),
                engine.commit_of(committing),
                list(dropped),
                rows,
            )
        except Exception as exc:
            log.warning("%s: BM25 index not updated (%s); rebuilt later", self.directory, exc)
            self.kept = False
        checkpoint("bm25")

    def finish(self, db: sqlite3.Connection, progress: Progress) -> None:
        """After the run's last commit: build the index when it is due and not in step."""
        if not self.usable or self.kept:
            return
        passages = store.counts(db)[1]
        due = self.setting == "tantivy" or passages >= BM25_MIN_PASSAGES
        if not (due or self.directory.exists()):
            return
        from qa.bm25 import engine

        progress.start(passages, "BM25 index")
        try:
            cores = len(os.sched_getaffinity(0)) or 1  # a whole build: every core
            engine.bring_in_step(db, self.directory, threads=cores, progress=progress.advance)
        except Exception as exc:
            progress.warn(f"{self.directory}: BM25 index not built ({exc}); searching FTS5")
        finally:
            progress.finish()
        checkpoint("bm25_built")
