"""SQLite, the source of truth: documents, passages, the FTS index, embeddings, manifest.

Everything a reader needs to trust a citation lives here; the FAISS file is derived from
the ``embeddings`` table and can always be rebuilt from it. The database runs in WAL mode
so readers (``qa ask``, the TUI) see the last committed generation while ``qa index``
writes the next one.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import IndexBusyError, IndexDamagedError, NoIndexError, QAError
from qa.models import DocKind, Document, Filters, Passage

log = logging.getLogger(__name__)

APPLICATION_ID = 0x50494C43  # "PILC": tells our database from a foreign SQLite file


def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Run statements one by one (``executescript`` would commit our open transaction)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""


def _m1(db: sqlite3.Connection) -> None:
    _run_script(
        db,
        """
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            doc_id TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            title TEXT NOT NULL,
            date TEXT NOT NULL DEFAULT '',
            origin TEXT NOT NULL DEFAULT '',
            classification TEXT NOT NULL DEFAULT '',
            tags TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL UNIQUE,
            file_hash TEXT NOT NULL,
            body TEXT NOT NULL
        );
        CREATE TABLE passages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            label TEXT NOT NULL,
            paragraph INTEGER,
            heading TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            text_hash TEXT NOT NULL,
            search_text TEXT NOT NULL,
            context TEXT NOT NULL DEFAULT '',
            view_hashes TEXT NOT NULL
        );
        CREATE INDEX passages_document ON passages(document_id, seq);
        CREATE VIRTUAL TABLE passages_fts USING fts5(
            search_text, context,
            content='passages', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN
            INSERT INTO passages_fts(rowid, search_text, context)
            VALUES (new.id, new.search_text, new.context);
        END;
        CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN
            INSERT INTO passages_fts(passages_fts, rowid, search_text, context)
            VALUES ('delete', old.id, old.search_text, old.context);
        END;
        CREATE TABLE embeddings (
            model TEXT NOT NULL,
            text_hash TEXT NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (model, text_hash)
        ) WITHOUT ROWID;
        CREATE TABLE manifest (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE INDEX documents_date ON documents(date);
        """,
    )


def _m2(db: sqlite3.Connection) -> None:
    # size:mtime_ns:inode of the file when it was last hashed; lets a no-op re-index skip
    # reading files whose stat is unchanged (as git's index does). '' = unknown: hash it.
    db.execute("ALTER TABLE documents ADD COLUMN file_stat TEXT NOT NULL DEFAULT ''")


def _m3(db: sqlite3.Connection) -> None:
    # Document frequency per FTS term, a snapshot of fts5vocab: asking fts5vocab reads the
    # term's whole posting list (6 ms a term at a million passages), this is one seek.
    db.execute("CREATE TABLE lexicon (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID")


def _m4(db: sqlite3.Connection) -> None:
    # One vector per highlightable sentence of a passage (late chunking, qa/sentences.py),
    # int8 with a float32 scale per sentence; keyed like the embedding cache so that a
    # re-index reuses them for unchanged passages.
    db.execute(
        """CREATE TABLE sentence_vectors (
            model TEXT NOT NULL,
            key TEXT NOT NULL,
            spans BLOB NOT NULL,
            scales BLOB NOT NULL,
            vectors BLOB NOT NULL,
            PRIMARY KEY (model, key)
        ) WITHOUT ROWID"""
    )


MIGRATIONS = [_m1, _m2, _m3, _m4]
"""Numbered schema migrations; migration i brings ``user_version`` from i to i+1."""


@dataclass(frozen=True, slots=True)
class StoredPassage:
    """A passage row ready to insert: the parsed passage plus what indexing derived."""

    passage: Passage
    text_hash: str
    search_text: str
    context: str
    view_hashes: tuple[str, ...]


def _translate(exc: sqlite3.Error, path: str) -> QAError | None:
    """The user-facing error for an SQLite failure, or None for a programming error.

    A database damaged *inside* (garbage over some pages) opens fine and only fails when
    a query reaches the bad page, anywhere in the code; this mapping turns that into
    "damaged, rebuild" (exit 5) instead of a traceback.
    """
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
    """A cursor whose SQLite failures surface as ``QAError`` (see ``_translate``)."""

    def _fail(self, exc: sqlite3.Error) -> None:
        error = _translate(exc, getattr(self.connection, "path", "index database"))
        if error is not None:
            raise error from exc

    def execute(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return super().execute(*args, **kwargs)
        except sqlite3.Error as exc:
            self._fail(exc)
            raise

    def executemany(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return super().executemany(*args, **kwargs)
        except sqlite3.Error as exc:
            self._fail(exc)
            raise

    def fetchone(self):  # type: ignore[no-untyped-def]
        try:
            return super().fetchone()
        except sqlite3.Error as exc:
            self._fail(exc)
            raise

    def fetchmany(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return super().fetchmany(*args, **kwargs)
        except sqlite3.Error as exc:
            self._fail(exc)
            raise

    def fetchall(self):  # type: ignore[no-untyped-def]
        try:
            return super().fetchall()
        except sqlite3.Error as exc:
            self._fail(exc)
            raise

    def __next__(self):  # type: ignore[no-untyped-def]
        try:
            return super().__next__()
        except sqlite3.Error as exc:
            self._fail(exc)
            raise


class _Connection(sqlite3.Connection):
    """The index connection: every query goes through ``_Cursor``."""

    path = "index database"

    def cursor(self, factory=_Cursor):  # type: ignore[no-untyped-def, override]
        return super().cursor(factory)

    def execute(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self.cursor().execute(*args, **kwargs)

    def executemany(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return self.cursor().executemany(*args, **kwargs)


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
    db.path = str(path)  # type: ignore[attr-defined]
    db.row_factory = sqlite3.Row
    try:
        _check_identity(db, path, readonly)
        db.execute("PRAGMA foreign_keys = ON")
        if not readonly:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version < len(MIGRATIONS):
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
    if not empty and app_id != APPLICATION_ID:
        raise IndexDamagedError(
            f"{path}: a foreign SQLite database, not a Pilcrow index; "
            "remove it or rebuild with `qa index --rebuild`"
        )
    if empty and readonly:
        raise NoIndexError(f"index at {path.parent} is empty: run `qa index`")
    if version > len(MIGRATIONS):
        raise IndexDamagedError(
            f"{path}: written by a newer Pilcrow (schema {version}); "
            "upgrade Pilcrow or run `qa index --rebuild`"
        )
    if version < len(MIGRATIONS) and readonly:
        raise IndexDamagedError(f"{path}: schema {version} is old; run `qa index` to upgrade")


def _migrate(db: sqlite3.Connection, version: int) -> None:
    """All pending migrations in one transaction: a reader sees the old schema or the new."""
    with transaction(db):
        for number in range(version, len(MIGRATIONS)):
            MIGRATIONS[number](db)
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    log.info("migrated index schema from version %d to %d", version, len(MIGRATIONS))


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


def verify(db: sqlite3.Connection) -> None:
    """``PRAGMA quick_check``; raises IndexDamagedError unless the database file is whole."""
    result = db.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise IndexDamagedError(
            f"{getattr(db, 'path', 'index database')}: the index database is damaged "
            f"({result}); rebuild with `qa index --rebuild`"
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


# -- manifest ---------------------------------------------------------------------------


def read_manifest(db: sqlite3.Connection) -> dict[str, str]:
    return {row["key"]: row["value"] for row in db.execute("SELECT key, value FROM manifest")}


def write_manifest(db: sqlite3.Connection, values: dict[str, str]) -> None:
    db.executemany(
        "INSERT INTO manifest(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        list(values.items()),
    )


# -- documents and passages -------------------------------------------------------------


def file_hashes(db: sqlite3.Connection) -> dict[str, tuple[int, str, str, str]]:
    """``source -> (row id, doc_id, file hash, file stat)`` for change detection."""
    return {
        row["source"]: (row["id"], row["doc_id"], row["file_hash"], row["file_stat"])
        for row in db.execute("SELECT id, doc_id, source, file_hash, file_stat FROM documents")
    }


def record_file_stats(db: sqlite3.Connection, stats: dict[int, str]) -> None:
    """Remember the stat of files whose content was hashed unchanged (``touch``-ed)."""
    db.executemany(
        "UPDATE documents SET file_stat = ? WHERE id = ?",
        [(stat, row_id) for row_id, stat in stats.items()],
    )


def doc_ids_in_use(
    db: sqlite3.Connection, doc_ids: Sequence[str], *, except_rows: Sequence[int] = ()
) -> set[str]:
    """Which of ``doc_ids`` stored documents hold, other than the rows ``except_rows``."""
    found: set[str] = set()
    skip = set(except_rows)
    for chunk in _chunks(list(doc_ids), 500):
        marks = ",".join("?" * len(chunk))
        for row_id, doc_id in db.execute(
            f"SELECT id, doc_id FROM documents WHERE doc_id IN ({marks})", chunk
        ):
            if row_id not in skip:
                found.add(doc_id)
    return found


def passage_ids_of(db: sqlite3.Connection, document_ids: Sequence[int]) -> list[int]:
    ids: list[int] = []
    for chunk in _chunks(document_ids, 500):
        marks = ",".join("?" * len(chunk))
        ids += [
            row[0]
            for row in db.execute(f"SELECT id FROM passages WHERE document_id IN ({marks})", chunk)
        ]
    return ids


def delete_documents(db: sqlite3.Connection, document_ids: Sequence[int]) -> None:
    for chunk in _chunks(document_ids, 500):
        marks = ",".join("?" * len(chunk))
        db.execute(f"DELETE FROM passages WHERE document_id IN ({marks})", chunk)
        db.execute(f"DELETE FROM documents WHERE id IN ({marks})", chunk)


def insert_document(
    db: sqlite3.Connection,
    doc: Document,
    file_hash: str,
    passages: Sequence[StoredPassage],
    file_stat: str = "",
) -> list[int]:
    """Insert one document and its passages; returns the new passage ids in order."""
    cur = db.execute(
        "INSERT INTO documents(doc_id, kind, title, date, origin, classification, tags, source,"
        " file_hash, body, file_stat) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            doc.doc_id,
            doc.kind.value,
            doc.title,
            doc.date,
            doc.origin,
            doc.classification,
            " ".join(doc.tags),
            doc.source,
            file_hash,
            doc.body,
            file_stat,
        ),
    )
    document_id = cur.lastrowid
    ids: list[int] = []
    for seq, sp in enumerate(passages):
        p = sp.passage
        cur = db.execute(
            'INSERT INTO passages(document_id, seq, label, paragraph, heading, text, start, "end",'
            " text_hash, search_text, context, view_hashes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                document_id,
                seq,
                p.label,
                p.paragraph,
                p.heading,
                p.text,
                p.start,
                p.end,
                sp.text_hash,
                sp.search_text,
                sp.context,
                " ".join(sp.view_hashes),
            ),
        )
        assert cur.lastrowid is not None
        ids.append(cur.lastrowid)
    return ids


def counts(db: sqlite3.Connection) -> tuple[int, int]:
    """``(documents, passages)``."""
    docs = db.execute("SELECT count(*) FROM documents").fetchone()[0]
    passages = db.execute("SELECT count(*) FROM passages").fetchone()[0]
    return docs, passages


def all_view_hashes(db: sqlite3.Connection) -> Iterator[tuple[int, list[str]]]:
    for row in db.execute("SELECT id, view_hashes FROM passages ORDER BY id"):
        yield row[0], row[1].split()


def sentence_sources(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    """What sentence vectors are computed from, for every stored passage."""
    yield from db.execute(
        "SELECT p.document_id, p.text, p.search_text, p.heading, d.title, p.text_hash,"
        " p.view_hashes FROM passages p JOIN documents d ON d.id = p.document_id ORDER BY p.id"
    )


def sample_view_hashes(db: sqlite3.Connection, n: int) -> list[tuple[int, list[str]]]:
    """About ``n`` passages spread evenly over the id range (deterministic).

    One rowid seek per sample, not a scan: at a million passages a scan reads the table.
    """
    top = db.execute("SELECT max(id) FROM passages").fetchone()[0] or 0
    step = max(1, top // max(1, n))
    found: dict[int, list[str]] = {}
    for target in range(step, top + 1, step):
        row = db.execute(
            "SELECT id, view_hashes FROM passages WHERE id >= ? ORDER BY id LIMIT 1", (target,)
        ).fetchone()
        if row is not None:
            found[row[0]] = row[1].split()
        if len(found) >= n:
            break
    return list(found.items())


_DOC_COLUMNS = "doc_id, kind, title, date, origin, classification, tags, source, body"


def _document_from_row(row: sqlite3.Row) -> Document:
    return Document(
        doc_id=row["doc_id"],
        kind=DocKind(row["kind"]),
        title=row["title"],
        body=row["body"],
        source=row["source"],
        date=row["date"],
        origin=row["origin"],
        classification=row["classification"],
        tags=tuple(row["tags"].split()),
    )


def get_document(db: sqlite3.Connection, doc_id: str) -> Document | None:
    """The stored document with its passages, matching the ID case-insensitively."""
    row = db.execute(
        f"SELECT id, {_DOC_COLUMNS} FROM documents WHERE doc_id = ? COLLATE NOCASE", (doc_id,)
    ).fetchone()
    if row is None:
        return None
    doc = _document_from_row(row)
    doc.passages = [
        Passage(
            label=p["label"],
            paragraph=p["paragraph"],
            text=p["text"],
            start=p["start"],
            end=p["end"],
            heading=p["heading"],
        )
        for p in db.execute(
            'SELECT label, paragraph, text, start, "end", heading FROM passages '
            "WHERE document_id = ? ORDER BY seq",
            (row["id"],),
        )
    ]
    return doc


def document_ids(db: sqlite3.Connection) -> list[str]:
    return [row[0] for row in db.execute("SELECT doc_id FROM documents ORDER BY doc_id")]


def passage_rows(db: sqlite3.Connection, passage_ids: Sequence[int]) -> dict[int, sqlite3.Row]:
    """Display data for passages, by id (one query per 500 ids)."""
    rows: dict[int, sqlite3.Row] = {}
    for chunk in _chunks(passage_ids, 500):
        marks = ",".join("?" * len(chunk))
        for row in db.execute(
            "SELECT p.id, p.label, p.paragraph, p.text, p.heading, p.search_text, d.doc_id,"
            " d.title, d.date, d.origin, d.classification, d.source, d.tags"
            f" FROM passages p JOIN documents d ON d.id = p.document_id WHERE p.id IN ({marks})",
            chunk,
        ):
            rows[row["id"]] = row
    return rows


def passage_hashes(
    db: sqlite3.Connection, passage_ids: Sequence[int]
) -> dict[int, tuple[str, list[str]]]:
    """``id -> (text hash, view hashes)``: what a passage's sentence-vector key is made of."""
    out: dict[int, tuple[str, list[str]]] = {}
    for chunk in _chunks(passage_ids, 500):
        marks = ",".join("?" * len(chunk))
        for row in db.execute(
            f"SELECT id, text_hash, view_hashes FROM passages WHERE id IN ({marks})", chunk
        ):
            out[row[0]] = (row[1], row[2].split())
    return out


def passage_leads(db: sqlite3.Connection, passage_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """``id -> (heading, first characters of the search text)``, what ranking rules read."""
    out: dict[int, tuple[str, str]] = {}
    for chunk in _chunks(passage_ids, 500):
        marks = ",".join("?" * len(chunk))
        for row in db.execute(
            f"SELECT id, heading, substr(search_text, 1, 80) FROM passages WHERE id IN ({marks})",
            chunk,
        ):
            out[row[0]] = (row[1], row[2])
    return out


# -- lexicon (document frequencies for BM25 query planning) -------------------------------

LEXICON_DRIFT = 0.05  # refresh the snapshot when the passage count moved by more than this


def lexicon_stale(passages: int, churn: int, manifest: dict[str, str]) -> bool:
    """True when the snapshot may be off: never taken, or the passage count moved, or
    ``churn`` passages were inserted and deleted since, by more than LEXICON_DRIFT."""
    taken = manifest.get("lexicon_passages", "")
    if not taken.isdigit():
        return True
    limit = LEXICON_DRIFT * max(int(taken), 1)
    return abs(passages - int(taken)) > limit or churn > limit


def refresh_lexicon(db: sqlite3.Connection) -> int:
    """Replace the lexicon with FTS5's own counts (one pass over the FTS index).

    Call inside the transaction that commits a generation; returns the passage count it
    describes, which the manifest records (``lexicon_passages``).
    """
    db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_rows"
        " USING fts5vocab(main, 'passages_fts', 'row')"
    )
    db.execute("DELETE FROM lexicon")
    db.execute("INSERT INTO lexicon(term, df) SELECT term, doc FROM temp.fts_rows")
    return int(db.execute("SELECT count(*) FROM passages").fetchone()[0])


def lexicon_frequencies(db: sqlite3.Connection, terms: Sequence[str]) -> dict[str, int]:
    """Snapshot document frequencies; a term unknown to the snapshot counts 0."""
    found: dict[str, int] = {}
    for chunk in _chunks(list(terms), 500):
        marks = ",".join("?" * len(chunk))
        for term, df in db.execute(f"SELECT term, df FROM lexicon WHERE term IN ({marks})", chunk):
            found[term] = int(df)
    return {t: found.get(t, 0) for t in terms}


# -- filters ----------------------------------------------------------------------------


def filter_sql(filters: Filters) -> tuple[str, list[object]]:
    """A WHERE fragment over ``documents d`` for the given filters (``1`` when none)."""
    clauses: list[str] = []
    params: list[object] = []
    if filters.origin:
        clauses.append("d.origin LIKE ?")
        params.append(f"%{filters.origin}%")
    if filters.since:
        clauses.append("d.date >= ?")
        params.append(filters.since)
    if filters.until:
        clauses.append("substr(d.date, 1, 10) <= ?")
        params.append(filters.until)
    if filters.classification:
        clauses.append("d.classification LIKE ?")
        params.append(f"{filters.classification}%")
    if filters.tag:
        clauses.append("(' ' || d.tags || ' ') LIKE ?")
        params.append(f"% {filters.tag.upper()} %")
    if filters.doc_id:
        clauses.append("d.doc_id = ? COLLATE NOCASE")
        params.append(filters.doc_id)
    return (" AND ".join(clauses) or "1"), params


def filtered_passage_ids(db: sqlite3.Connection, filters: Filters) -> np.ndarray:
    where, params = filter_sql(filters)
    rows = db.execute(
        f"SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id WHERE {where}",
        params,
    ).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


# -- embeddings cache -------------------------------------------------------------------


def cached_hashes(db: sqlite3.Connection, model: str, hashes: Iterable[str]) -> set[str]:
    return _present(db, "SELECT text_hash FROM embeddings", model, hashes)


def _present(db: sqlite3.Connection, select: str, model: str, keys: Iterable[str]) -> set[str]:
    """Which ``keys`` a ``select ... FROM table`` of (model, key) rows holds for ``model``."""
    column = select.split()[1]
    found: set[str] = set()
    for chunk in _chunks(list(keys), 500):
        marks = ",".join("?" * len(chunk))
        found.update(
            row[0]
            for row in db.execute(
                f"{select} WHERE model = ? AND {column} IN ({marks})", [model, *chunk]
            )
        )
    return found


def put_embeddings(
    db: sqlite3.Connection, model: str, hashes: Sequence[str], vectors: np.ndarray
) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO embeddings(model, text_hash, vector) VALUES (?, ?, ?)",
        [
            (model, h, np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for h, v in zip(hashes, vectors, strict=True)
        ],
    )


def cached_dims(db: sqlite3.Connection, model: str) -> list[int]:
    """The distinct vector lengths cached for ``model`` (normally one, or none)."""
    rows = db.execute(
        "SELECT DISTINCT length(vector) / 4 FROM embeddings WHERE model = ?", (model,)
    ).fetchall()
    return sorted(int(row[0]) for row in rows)


def cached_dim(db: sqlite3.Connection, model: str) -> int | None:
    """The length of one cached vector of ``model`` (cheap), or None when none is cached."""
    row = db.execute(
        "SELECT length(vector) / 4 FROM embeddings WHERE model = ? LIMIT 1", (model,)
    ).fetchone()
    return None if row is None else int(row[0])


def drop_embeddings_not_of_dim(db: sqlite3.Connection, model: str, dim: int) -> int:
    """Delete cached vectors of ``model`` whose length is not ``dim``; returns how many."""
    cur = db.execute(
        "DELETE FROM embeddings WHERE model = ? AND length(vector) != ?", (model, dim * 4)
    )
    return int(cur.rowcount)


def get_embeddings(
    db: sqlite3.Connection, model: str, hashes: Sequence[str], dim: int
) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for chunk in _chunks(list(dict.fromkeys(hashes)), 500):
        marks = ",".join("?" * len(chunk))
        for row in db.execute(
            f"SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash IN ({marks})",
            [model, *chunk],
        ):
            vec = np.frombuffer(row[1], dtype=np.float32)
            if vec.shape != (dim,):
                raise IndexDamagedError(
                    f"embedding cache entry {row[0]} has {vec.size} values, expected {dim}; "
                    "rebuild with `qa index --rebuild`"
                )
            out[row[0]] = vec
    return out


# -- sentence vectors (highlighting) -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SentenceVectors:
    """The highlightable sentences of one passage: spans into its text, unit vectors."""

    spans: list[tuple[int, int]]
    vectors: np.ndarray  # float32, one row per span


def cached_sentence_keys(db: sqlite3.Connection, model: str, keys: Iterable[str]) -> set[str]:
    return _present(db, "SELECT key FROM sentence_vectors", model, keys)


def put_sentence_vectors(
    db: sqlite3.Connection, model: str, items: Sequence[tuple[str, SentenceVectors]]
) -> None:
    """Store sentence vectors as int8 with a per-sentence scale (a quarter of float32)."""
    rows = []
    for key, item in items:
        vectors = np.asarray(item.vectors, dtype=np.float32).reshape(len(item.spans), -1)
        peak = np.abs(vectors).max(axis=1) if vectors.size else np.zeros(0, np.float32)
        scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        quantised = np.rint(vectors / scales[:, None]).clip(-127, 127).astype(np.int8)
        rows.append(
            (
                model,
                key,
                np.asarray(item.spans, dtype=np.int32).reshape(-1).tobytes(),
                scales.tobytes(),
                quantised.tobytes(),
            )
        )
    db.executemany(
        "INSERT OR REPLACE INTO sentence_vectors(model, key, spans, scales, vectors)"
        " VALUES (?, ?, ?, ?, ?)",
        rows,
    )


def drop_sentence_vectors_not_of_dim(db: sqlite3.Connection, model: str, dim: int) -> int:
    """Delete stored sentence vectors of ``model`` whose rows are not ``dim`` long."""
    cur = db.execute(
        "DELETE FROM sentence_vectors"
        " WHERE model = ? AND length(vectors) != length(scales) / 4 * ?",
        (model, dim),
    )
    return int(cur.rowcount)


def get_sentence_vectors(
    db: sqlite3.Connection, model: str, keys: Sequence[str], dim: int
) -> dict[str, SentenceVectors]:
    """Stored sentence vectors by key; entries of the wrong shape are left out (not trusted)."""
    out: dict[str, SentenceVectors] = {}
    for chunk in _chunks(list(dict.fromkeys(keys)), 500):
        marks = ",".join("?" * len(chunk))
        for key, spans_blob, scales_blob, vectors_blob in db.execute(
            "SELECT key, spans, scales, vectors FROM sentence_vectors"
            f" WHERE model = ? AND key IN ({marks})",
            [model, *chunk],
        ):
            spans = np.frombuffer(spans_blob, dtype=np.int32)
            scales = np.frombuffer(scales_blob, dtype=np.float32)
            quantised = np.frombuffer(vectors_blob, dtype=np.int8)
            n = scales.size
            if n == 0 or spans.size != 2 * n or quantised.size != n * dim:
                log.debug("sentence vectors %s have the wrong shape; ignored", key)
                continue
            vectors = quantised.reshape(n, dim).astype(np.float32) * scales[:, None]
            pairs = spans.reshape(n, 2).tolist()
            out[key] = SentenceVectors([(int(a), int(b)) for a, b in pairs], vectors)
    return out


def _chunks(items: Sequence, size: int) -> Iterator[list]:  # type: ignore[type-arg]
    for i in range(0, len(items), size):
        yield list(items[i : i + size])
