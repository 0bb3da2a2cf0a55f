"""The FTS5 index of the passages, fed by the writer: no copy of the search text is stored.

The index is contentless (schema 9): a passage's search text is ``views.clean`` of its
slice of the document body, computed when the passage is added, when it is deleted
(FTS5 must be told the very tokens it indexed to forget them) and when a reader needs it
(the tantivy rescoring, the summary rule). Every insert and delete of passages goes
through here, inside the caller's transaction, so the full-text index stays in step
with the rows.

Deleting needs the text as it was indexed: ``clean`` must not change under an index.
When it does (``VIEWS_VERSION`` bumped), ``rebuild`` re-feeds every passage before
anything is deleted (``qa.index.run``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence

from qa.store.sql import CHUNK, rows_in_chunks
from qa.views import clean, text_hash

# A passage's text, over ``passages p JOIN documents d ON d.id = p.document_id``.
PASSAGE_TEXT = 'substr(d.body, p.start + 1, p."end" - p.start)'
_ROWS = (
    f"SELECT p.id, {PASSAGE_TEXT}, p.context FROM passages p"
    " JOIN documents d ON d.id = p.document_id"
)
_HASHED_ROWS = (
    f"SELECT p.id, {PASSAGE_TEXT}, p.context, p.text_hash FROM passages p"
    " JOIN documents d ON d.id = p.document_id"
)
_ADD = "INSERT INTO passages_fts(rowid, search_text, context) VALUES (?, ?, ?)"
_FORGET = (
    "INSERT INTO passages_fts(passages_fts, rowid, search_text, context) VALUES ('delete', ?, ?, ?)"
)

Row = tuple[int, str, str]  # (passage id, search text, context)


def add(db: sqlite3.Connection, rows: Sequence[Row]) -> None:
    """Index new passages: ``(id, search text, context)`` each."""
    db.executemany(_ADD, rows)


def forget_documents(db: sqlite3.Connection, document_ids: Sequence[int]) -> bool:
    """Remove the passages of these documents from the index (before their rows go).

    A passage whose text is no longer the text it was indexed with (its body or offsets
    changed: damage, ``qa index --check`` reports it) is not named, as its tokens are
    unknown; returns True when there was one: the caller re-feeds the whole index once
    the rows are gone (``rebuild``), never leaving it out of step.
    """
    unknown = False
    ids = list(dict.fromkeys(document_ids))  # a passage named twice would be unindexed twice
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        marks = ",".join("?" * len(chunk))
        found = db.execute(f"{_HASHED_ROWS} WHERE p.document_id IN ({marks})", chunk).fetchall()
        known = [
            (pid, text, context)
            for pid, text, context, stored in found
            if text_hash(text) == stored
        ]
        unknown |= len(known) < len(found)
        db.executemany(_FORGET, [(pid, clean(text), context) for pid, text, context in known])
    return unknown


def clear(db: sqlite3.Connection) -> None:
    """Empty the index (every passage is being deleted)."""
    db.execute("INSERT INTO passages_fts(passages_fts) VALUES ('delete-all')")


def rebuild(db: sqlite3.Connection) -> None:
    """Re-index every stored passage with today's ``clean`` (after it changed)."""
    clear(db)
    batch: list[Row] = []
    for row in all_rows(db):
        batch.append(row)
        if len(batch) >= 4 * CHUNK:
            add(db, batch)
            batch = []
    add(db, batch)


def all_rows(db: sqlite3.Connection) -> Iterator[Row]:
    """``(id, search text, context)`` of every passage, by id (the caller may write to
    the full-text index meanwhile: this reads only the passage and document tables)."""
    cursor = db.execute(f"{_ROWS} ORDER BY p.id")
    while batch := cursor.fetchmany(4 * CHUNK):
        yield from ((int(pid), clean(text), context) for pid, text, context in batch)


def rows_of(db: sqlite3.Connection, passage_ids: Sequence[int]) -> list[Row]:
    """``(id, search text, context)`` of the given passages that exist, in id order."""
    found = rows_in_chunks(db, f"{_ROWS} WHERE p.id IN ({{marks}})", list(passage_ids))
    return sorted((int(pid), clean(text), context) for pid, text, context in found)
