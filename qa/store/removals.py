"""Passages removed since the base vector file was written (``vector_removals``).

A commit that drops passages without rewriting the base vector file records their ids
here, in its own transaction; readers exclude their vectors from every older file
(``qa.vectors.segments``). Passage ids are never reused (``AUTOINCREMENT``), so one list
serves the base and every delta. The commit that rewrites the base empties it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np


def record_removed(db: sqlite3.Connection, passage_ids: Sequence[int]) -> int:
    """Add ``passage_ids`` to the list; returns how many it holds now."""
    db.executemany(
        "INSERT OR IGNORE INTO vector_removals(passage_id) VALUES (?)",
        [(int(pid),) for pid in passage_ids],
    )
    return count_removed(db)


def count_removed(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT count(*) FROM vector_removals").fetchone()[0])


def removed_passages(db: sqlite3.Connection) -> np.ndarray:
    """Every listed passage id, ascending, as int64."""
    rows = db.execute("SELECT passage_id FROM vector_removals ORDER BY passage_id").fetchall()
    return np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))


def clear_removed(db: sqlite3.Connection) -> None:
    """Empty the list (the base just written holds none of those passages)."""
    db.execute("DELETE FROM vector_removals")
