"""The database schema, as numbered migrations from an empty file to the current version.

Migration i brings ``PRAGMA user_version`` from i to i+1; ``APPLICATION_ID`` marks the
file as ours. ``apply`` runs whatever is pending inside the caller's transaction (see
``qa.store.connection.connect``), so a reader sees the old schema or the new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

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
    # One vector per highlightable sentence of a passage (late chunking, qa/highlight/),
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


def _m5(db: sqlite3.Connection) -> None:
    # Classification per paragraph (its own marking, normalised; NULL: none), the cable's
    # Classified-by line (NULL read as ''), and its REF items: what it cites (target NULL
    # when the item is not a cable) and, through the index on the target, what cites it.
    # Written tersely: the whole schema must stay on page 1 of the file, so that damage to
    # the later pages is reported as damage (tests/test_reliability_damage.py).
    _run_script(
        db,
        """
        ALTER TABLE passages ADD COLUMN paragraph_class TEXT;
        ALTER TABLE documents ADD COLUMN classified_by TEXT;
        ALTER TABLE documents ADD COLUMN reasons TEXT;
        ALTER TABLE documents ADD COLUMN declassify_on TEXT;
        CREATE TABLE refs(document_id INTEGER NOT NULL,seq INTEGER NOT NULL,letter TEXT,
        target_doc_id TEXT,raw TEXT NOT NULL,PRIMARY KEY(document_id,seq))WITHOUT ROWID;
        CREATE INDEX refs_target ON refs(target_doc_id);
        """,
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_m1, _m2, _m3, _m4, _m5]
"""Numbered schema migrations; migration i brings ``user_version`` from i to i+1."""

VERSION = len(MIGRATIONS)  # the schema this Pilcrow writes and reads


def apply(db: sqlite3.Connection, version: int) -> None:
    """Run the migrations after ``version`` and stamp the file as ours, at VERSION."""
    for number in range(version, VERSION):
        MIGRATIONS[number](db)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute(f"PRAGMA user_version = {VERSION}")
