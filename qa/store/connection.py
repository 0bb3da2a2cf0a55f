"""Opening the index database: identity and schema checks, and SQLite errors made plain.

A database damaged *inside* (garbage over some pages) opens fine and only fails when a
query reaches the bad page, anywhere in the code; every query therefore goes through a
cursor that turns such failures into ``QAError`` subclasses ("damaged, rebuild": exit 5)
instead of tracebacks.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ParamSpec, Self, TypeVar

from qa.errors import IndexBusyError, IndexDamagedError, NoIndexError, QAError
from qa.store import schema
from qa.store.sql import transaction

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _translate(exc: sqlite3.Error, path: str) -> QAError | None:
    """The user-facing error for an SQLite failure, or None for a programming error."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    message = str(exc)
    if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB) or (
        primary == sqlite3.SQLITE_ERROR and message.startswith(("no such table", "no such column"))
    ):
        return IndexDamagedError(
            f"{path}: the index database is damaged ({message}); rebuild with `qa index --rebuild`"
        )
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return IndexBusyError(f"{path}: the index database is locked by another process")
    if primary == sqlite3.SQLITE_FULL:
        return QAError(f"{path}: the disk is full ({message}); free some space and try again")
    if primary in (
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PERM,
        sqlite3.SQLITE_READONLY,
    ):
        return QAError(f"{path}: cannot use the index database ({message})")
    return None


class _Cursor(sqlite3.Cursor):
    """A cursor whose every call that reaches SQLite translates its failures."""

    def _guard(self, call: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """``call(*args, **kwargs)`` with SQLite failures raised as ``QAError``."""
        try:
            return call(*args, **kwargs)
        except sqlite3.Error as exc:
            error = _translate(exc, getattr(self.connection, "path", "index database"))
            if error is not None:
                raise error from exc
            raise

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        return self._guard(super().execute, sql, parameters)

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> Self:
        return self._guard(super().executemany, sql, seq_of_parameters)

    def fetchone(self) -> Any:
        return self._guard(super().fetchone)

    def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._guard(super().fetchmany, self.arraysize if size is None else size)

    def fetchall(self) -> list[Any]:
        return self._guard(super().fetchall)

    def __next__(self) -> Any:
        return self._guard(super().__next__)


class _Connection(sqlite3.Connection):
    """The index connection: every query goes through ``_Cursor``."""

    path = "index database"  # the file, for messages (set by ``connect``)

    def cursor(self, factory: Any = _Cursor) -> Any:
        """A cursor whose errors are translated like every other query's."""
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor(_Cursor).execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        return self.cursor(_Cursor).executemany(sql, parameters)


def connect(path: Path, *, create: bool = False, readonly: bool = False) -> sqlite3.Connection:
    """Open (and if asked create and migrate) the index database.

    Raises ``NoIndexError`` when it does not exist and ``IndexDamagedError`` when the
    file is not a Pilcrow database (foreign or corrupted SQLite, truncated file). Nothing
    is written to a file before it is known to be ours (or new).
    """
    if not path.exists() and not create:
        raise NoIndexError(
            f"no index at {path.parent}: build it with `qa index --index {path.parent}`"
        )
    try:
        if readonly:
            db = sqlite3.connect(
                f"file:{path}?mode=ro",
                uri=True,
                check_same_thread=False,
                isolation_level=None,
                factory=_Connection,
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                path,
                check_same_thread=False,
                timeout=30,
                isolation_level=None,
                factory=_Connection,
            )
    except sqlite3.Error as exc:
        raise QAError(f"{path}: cannot open the index database ({exc})") from exc
    db.path = str(path)
    db.row_factory = sqlite3.Row
    try:
        _check_identity(db, path, readonly)
        db.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version < schema.VERSION:
                _migrate(db, version)
    except BaseException:
        db.close()
        raise
    return db


def _check_identity(db: sqlite3.Connection, path: Path, readonly: bool) -> None:
    """Refuse a file that is not a readable Pilcrow database of a schema we know."""
    try:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        has_tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except (sqlite3.DatabaseError, IndexDamagedError) as exc:
        cause = exc.__cause__ if isinstance(exc, IndexDamagedError) else exc
        raise IndexDamagedError(
            f"{path}: not a readable index database ({cause}); rebuild with `qa index --rebuild`"
        ) from exc
    empty = app_id == 0 and version == 0 and not has_tables  # new, or created and killed
    if not empty and app_id != schema.APPLICATION_ID:
        raise IndexDamagedError(
            f"{path}: a foreign SQLite database, not a Pilcrow index; "
            "remove it or rebuild with `qa index --rebuild`"
        )
    if empty and readonly:
        raise NoIndexError(f"index at {path.parent} is empty: run `qa index`")
    if version > schema.VERSION:
        raise IndexDamagedError(
            f"{path}: written by a newer Pilcrow (schema {version}); "
            "upgrade Pilcrow or run `qa index --rebuild`"
        )
    if version < schema.VERSION and readonly:
        raise IndexDamagedError(f"{path}: schema {version} is old; run `qa index` to upgrade")


def _migrate(db: sqlite3.Connection, version: int) -> None:
    """All pending migrations in one transaction: a reader sees the old schema or the new."""
    with transaction(db):
        schema.apply(db, version)
    log.info("migrated index schema from version %d to %d", version, schema.VERSION)
    if schema.compacts(version):
        _vacuum(db)


def _vacuum(db: sqlite3.Connection) -> None:
    """Give the pages a migration freed back to the file system, then empty the WAL
    (which a VACUUM fills with the whole file). Only ever a size matter: when it cannot
    run (the disk is full) the migrated file is left as it is. The WAL is truncated now
    unless a reader holds it, never waiting for one (a busy wait would stall the run for
    the whole timeout); then SQLite empties it when the last connection closes."""
    started = time.monotonic()
    try:
        db.execute("VACUUM")
        timeout = int(db.execute("PRAGMA busy_timeout").fetchone()[0])
        db.execute("PRAGMA busy_timeout = 0")
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            db.execute(f"PRAGMA busy_timeout = {timeout}")
    except (sqlite3.Error, QAError) as exc:
        log.warning("could not compact the migrated index (%s); it works as it is", exc)
        return
    log.info("compacted the migrated index in %.1f s", time.monotonic() - started)


def verify(db: sqlite3.Connection) -> None:
    """``PRAGMA quick_check``; raises IndexDamagedError unless the database file is whole."""
    result = db.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        # One line for the user: SQLite lists every bad page, a line each.
        found = [line for line in str(result).splitlines() if line and not line.startswith("***")]
        what = found[0] if found else str(result).strip()
        what += f", and {len(found) - 1} more problems" if len(found) > 1 else ""
        raise IndexDamagedError(
            f"{getattr(db, 'path', 'index database')}: the index database is damaged "
            f"({what}); rebuild with `qa index --rebuild`"
        )


def set_aside(path: Path) -> Path:
    """Move a damaged or foreign database (and its WAL files) out of the way; return where.

    Used by ``qa index --rebuild``: the file is renamed, never deleted, in case it is
    something the user wants back.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    path.rename(target)
    return target
