"""Small SQL helpers: ``IN (...)`` lists of any length, and all-or-nothing transactions."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from qa.errors import QAError

log = logging.getLogger(__name__)

CHUNK = 500  # items per ``IN (...)`` list: well under SQLite's limit on bound parameters


def rows_in_chunks(
    db: sqlite3.Connection, sql: str, items: Sequence[Any], *, before: Sequence[Any] = ()
) -> Iterator[Any]:
    """The rows of ``sql`` run once per CHUNK of ``items``, in order.

    ``sql`` holds ``{marks}`` where the ``?`` list goes; ``before`` are parameters bound
    ahead of the items (``WHERE model = ? AND key IN ({marks})``).
    """
    for start in range(0, len(items), CHUNK):
        chunk = list(items[start : start + CHUNK])
        yield from db.execute(sql.format(marks=",".join("?" * len(chunk))), [*before, *chunk])


def run_in_chunks(db: sqlite3.Connection, sql: str, items: Sequence[Any]) -> None:
    """Run a statement over ``items`` (see ``rows_in_chunks``), for its effect."""
    for _ in rows_in_chunks(db, sql, items):
        pass


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """An explicit ``BEGIN IMMEDIATE`` transaction: all of it lands, or none of it."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        # SQLite may already have rolled back (disk full, I/O error); never let a failing
        # ROLLBACK hide the error that caused it.
        if db.in_transaction:
            try:
                db.execute("ROLLBACK")
            except (sqlite3.Error, QAError):
                log.debug("rollback failed", exc_info=True)
        raise
    db.execute("COMMIT")


@contextmanager
def snapshot(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read transaction (``BEGIN DEFERRED``): its statements see one committed state,
    and it takes no write lock. Inside the caller's transaction, that one."""
    if db.in_transaction:
        yield db
        return
    db.execute("BEGIN")
    try:
        yield db
    finally:
        if db.in_transaction:
            db.execute("COMMIT")
