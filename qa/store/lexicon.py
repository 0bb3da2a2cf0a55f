"""The lexicon: a snapshot of FTS5 document frequencies, for BM25 query planning.

Asking ``fts5vocab`` for a term reads the term's whole posting list (6 ms a term at a
million passages); the snapshot answers with one seek. It is refreshed in the commit
of a generation when it may have drifted (see ``lexicon_stale``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from qa.store.manifest import Manifest
from qa.store.sql import rows_in_chunks

LEXICON_DRIFT = 0.05  # refresh the snapshot when the passage count moved by more than this


def lexicon_stale(passages: int, churn: int, manifest: Manifest) -> bool:
    """True when the snapshot may be off: never taken, or the passage count moved, or
    ``churn`` passages were inserted and deleted since, by more than LEXICON_DRIFT."""
    taken = manifest.lexicon_passages
    if not isinstance(taken, int):
        return True
    limit = LEXICON_DRIFT * max(taken, 1)
    return abs(passages - taken) > limit or churn > limit


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
    sql = "SELECT term, df FROM lexicon WHERE term IN ({marks})"
    found = {term: int(df) for term, df in rows_in_chunks(db, sql, list(terms))}
    return {t: found.get(t, 0) for t in terms}
