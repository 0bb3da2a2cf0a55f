"""The database schema, as numbered migrations from an empty file to the current version.

Migration i brings ``PRAGMA user_version`` from i to i+1; ``APPLICATION_ID`` marks the
file as ours. ``apply`` runs whatever is pending inside the caller's transaction (see
``qa.store.connection.connect``), so a reader sees the old schema or the new one; a
migration that frees much of the file (``COMPACTING``) is followed by a VACUUM, which
SQLite cannot run inside a transaction (``compacts``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator

import numpy as np

from qa.store.codec import dequantise, packed_width, quantise, quantise4
from qa.views import clean

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


def _m6(db: sqlite3.Connection) -> None:
    # Compact storage (issue #12). Embeddings become int8 with a float32 scale (the
    # sentence vectors' codec, ``qa.store.codec``), and both vector tables rowid tables
    # with a unique index on their key: a WITHOUT ROWID row spills past ~1,002 bytes to
    # an overflow page of its own (every 1,536-byte embedding did, and most sentence
    # rows), a rowid row only past ~4,061. Passage text is no longer stored: it is
    # documents.body[start:end] (``documents.PASSAGE_TEXT``). Row ids are kept, so the
    # vector ids (passage id * 16 + window) of the committed vector file stay valid.
    # documents_files covers what every run reads first (``file_hashes``), so a no-op
    # run scans a narrow index instead of every body page (1.4 s of 6.3 at 20k cables).
    _run_script(
        db,
        """
        ALTER TABLE embeddings RENAME TO embeddings_v5;
        CREATE TABLE embeddings(model TEXT NOT NULL,text_hash TEXT NOT NULL,
        scale REAL NOT NULL,vector BLOB NOT NULL);
        """,
    )
    db.executemany(
        "INSERT INTO embeddings(model,text_hash,scale,vector) VALUES (?,?,?,?)",
        _reencoded(db.execute("SELECT model,text_hash,vector FROM embeddings_v5")),
    )
    _run_script(
        db,
        """
        DROP TABLE embeddings_v5;
        CREATE UNIQUE INDEX embeddings_key ON embeddings(model,text_hash);
        ALTER TABLE sentence_vectors RENAME TO sentence_vectors_v5;
        CREATE TABLE sentence_vectors(model TEXT NOT NULL,key TEXT NOT NULL,
        spans BLOB NOT NULL,scales BLOB NOT NULL,vectors BLOB NOT NULL);
        INSERT INTO sentence_vectors SELECT * FROM sentence_vectors_v5;
        DROP TABLE sentence_vectors_v5;
        CREATE UNIQUE INDEX sentence_vectors_key ON sentence_vectors(model,key);
        ALTER TABLE passages DROP COLUMN text;
        CREATE INDEX documents_files ON documents(source,file_hash,file_stat,doc_id);
        """,
    )


def _m7(db: sqlite3.Connection) -> None:
    # Schema 7: the passages removed since the base vector file was written. A small
    # commit appends a delta vector file instead of rewriting the base; the vectors of the
    # passages it drops stay in the older files and readers skip them by this list, which
    # the commit that next rewrites the base (``qa.vectors.segments``) empties.
    db.execute("CREATE TABLE IF NOT EXISTS vector_removals(passage_id INTEGER PRIMARY KEY)")


def _m8(db: sqlite3.Connection) -> None:
    # Sentence vectors as 4-bit codes (``qa.store.codec.quantise4``), half of int8's bytes:
    # they only choose the sentence a hit highlights. A row is int8 when its codes are one
    # byte a component of its model's dimension (that of the model's cached embeddings,
    # int8 since schema 6); a row of a model with no cached embedding is left as it is
    # (its readers, finding the wrong shape, embed its sentences when asked).
    dims = dict(db.execute("SELECT model, max(length(vector)) FROM embeddings GROUP BY model"))
    db.create_function("pilcrow_int4", 3, _int4_codes, deterministic=True)
    db.create_function("pilcrow_int4_scales", 3, _int4_scales, deterministic=True)
    for model, dim in dims.items():
        db.execute(
            "UPDATE sentence_vectors SET vectors = pilcrow_int4(scales, vectors, ?),"
            " scales = pilcrow_int4_scales(scales, vectors, ?) WHERE model = ?"
            " AND length(vectors) = length(scales) / 4 * ?",
            (dim, dim, model, dim),
        )


def _m9(db: sqlite3.Connection) -> None:
    # The search text is no longer stored (it was 13% of the database): FTS5 becomes
    # contentless, and the writer feeds it ``views.clean`` of each passage's slice of the
    # body, as it adds and deletes passages (``qa.store.fulltext``); readers that need the
    # search text compute it the same way. The index is rebuilt from that same
    # computation, not from the stored column, so later deletes name exactly its tokens
    # (they are the stored column's wherever that was made by today's ``clean``).
    db.create_function("pilcrow_clean", 1, clean, deterministic=True)
    _run_script(
        db,
        """
        DROP TRIGGER passages_ai;
        DROP TRIGGER passages_ad;
        DROP TABLE passages_fts;
        CREATE VIRTUAL TABLE passages_fts USING fts5(search_text,context,content='',
        tokenize='unicode61 remove_diacritics 2');
        INSERT INTO passages_fts(rowid,search_text,context)
        SELECT p.id,pilcrow_clean(substr(d.body,p.start+1,p."end"-p.start)),p.context
        FROM passages p JOIN documents d ON d.id=p.document_id;
        ALTER TABLE passages DROP COLUMN search_text;
        """,
    )


def _int4(scales: bytes, codes: bytes, dim: int) -> tuple[bytes, bytes]:
    """An int8 sentence-vector row (``scales``, ``codes``) as ``(scales, codes)`` of
    4-bit codes. SQLite evaluates every SET expression on the old row, so the two
    functions below each re-encode it (a one-off migration: simplicity over speed)."""
    n = len(scales) // 4
    rows = dequantise(
        np.frombuffer(scales, np.float32), np.frombuffer(codes, np.int8).reshape(n, dim)
    )
    new_scales, packed = quantise4(rows)
    assert packed.shape == (n, packed_width(dim))
    return new_scales.tobytes(), packed.tobytes()


def _int4_codes(scales: bytes, codes: bytes, dim: int) -> bytes:
    return _int4(scales, codes, dim)[1]


def _int4_scales(scales: bytes, codes: bytes, dim: int) -> bytes:
    return _int4(scales, codes, dim)[0]


_REENCODE_BATCH = 4096  # cached vectors re-encoded per numpy pass


def _reencoded(rows: sqlite3.Cursor) -> Iterator[tuple[str, str, float, bytes]]:
    """Schema-5 cache rows (float32 blobs) as schema-6 rows, in batches. A blob that is
    not float32 (damaged) keeps its length in components with scale 0 and zero codes,
    which reads back as damaged, as it was: the run's checks drop it and embed again."""
    while batch := rows.fetchmany(_REENCODE_BATCH):
        sound = [r for r in batch if isinstance(r[2], bytes) and r[2] and len(r[2]) % 4 == 0]
        for model, text_hash, blob in batch:
            if not (isinstance(blob, bytes) and blob and len(blob) % 4 == 0):
                size = len(blob) // 4 if isinstance(blob, bytes) else 0
                yield model, text_hash, 0.0, bytes(size)
        by_length: dict[int, list[tuple[str, str, bytes]]] = {}
        for row in sound:
            by_length.setdefault(len(row[2]), []).append(row)
        for length, group in by_length.items():
            data = np.frombuffer(b"".join(r[2] for r in group), np.float32)
            scales, codes = quantise(data.reshape(len(group), length // 4))
            for (model, text_hash, _), scale, code in zip(group, scales, codes, strict=True):
                yield model, text_hash, float(scale), code.tobytes()


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _m1,
    _m2,
    _m3,
    _m4,
    _m5,
    _m6,
    _m7,
    _m8,
    _m9,
]
"""Numbered schema migrations; migration i brings ``user_version`` from i to i+1."""

VERSION = len(MIGRATIONS)  # the schema this Pilcrow writes and reads

# Schemas whose migration leaves much of the file free (6: the vectors re-encoded at a
# quarter of their size, passage text dropped; 8: sentence vectors halved; 9: search
# text dropped): the file is VACUUMed after it.
COMPACTING = (6, 8, 9)


def compacts(version: int) -> bool:
    """Whether migrating a file of schema ``version`` (not a new one) to VERSION frees
    enough of it to be worth a VACUUM afterwards."""
    return version > 0 and any(version < target <= VERSION for target in COMPACTING)


def apply(db: sqlite3.Connection, version: int) -> None:
    """Run the migrations after ``version`` and stamp the file as ours, at VERSION."""
    for number in range(version, VERSION):
        MIGRATIONS[number](db)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute(f"PRAGMA user_version = {VERSION}")
