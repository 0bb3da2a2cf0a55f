"""Schemas 8 and 9 (issue #12): sentence vectors as 4-bit codes, no search text stored.

The 4-bit codec reads back within half a step (peak / 14) of each component; migration
8 re-encodes int8 sentence rows in place; the contentless FTS5 index stays in step with
the passage rows through deletes and rebuilds (the same vocabulary, the same BM25 hits
as an index filled afresh), and migration 9 keeps every lexical result.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from qa import store
from qa.locations import db_path
from qa.models import SentenceVectors
from qa.search import lexical
from qa.store import fulltext, schema
from qa.store.codec import dequantise4, packed_width, quantise, quantise4
from tests.test_store_compact import as_schema_8_text

MODEL = "test/model"
QUESTIONS = [
    "Russian official missile defence",
    "Ukraine China agreement joint projects",
    "astronaut space station Beijing",
]


def _rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


@pytest.mark.parametrize("dim", [384, 7, 1])
def test_four_bit_codes_read_back_within_half_a_step(dim: int) -> None:
    rows = _rows(50, dim)
    scales, packed = quantise4(rows)
    assert packed.shape == (50, packed_width(dim)) and packed.dtype == np.uint8
    back = dequantise4(scales, packed, dim)
    peaks = np.abs(rows).max(axis=1, keepdims=True)
    assert np.all(np.abs(back - rows) <= peaks / 14 + 1e-6)
    assert np.allclose(np.abs(back).max(axis=1, keepdims=True), peaks, rtol=1e-6)


def test_non_finite_and_zero_rows_read_back_as_zeros() -> None:
    rows = np.zeros((3, 4), np.float32)
    rows[1, 2] = np.nan
    rows[2] = [1, -2, 3, -7]  # scale 1: codes exact
    scales, packed = quantise4(rows)
    back = dequantise4(scales, packed, 4)
    assert not back[:2].any()
    assert back[2].tolist() == [1, -2, 3, -7]


def test_migration_8_re_encodes_int8_sentence_rows_as_four_bit(tmp_path: Path) -> None:
    db = store.connect(tmp_path / "pilcrow.sqlite", create=True)
    vectors = _rows(3, 384, seed=5)
    int8_scales, int8_codes = quantise(vectors)
    spans = np.array([[0, 10], [11, 20], [21, 30]], np.int32)
    with store.transaction(db):
        store.put_embeddings(db, MODEL, ["h"], _rows(1, 384) / 20)
        db.execute(
            "INSERT INTO sentence_vectors(model, key, spans, scales, vectors) VALUES (?,?,?,?,?)",
            (MODEL, "old", spans.tobytes(), int8_scales.tobytes(), int8_codes.tobytes()),
        )
        store.put_sentence_vectors(db, MODEL, [("new", SentenceVectors([(0, 5)], vectors[:1]))])
        new_before = db.execute("SELECT vectors FROM sentence_vectors WHERE key = 'new'").fetchone()
        schema._m8(db)
    lengths = dict(db.execute("SELECT key, length(vectors) FROM sentence_vectors"))
    assert lengths == {"old": 3 * 192, "new": 192}
    assert db.execute("SELECT vectors FROM sentence_vectors WHERE key = 'new'").fetchone() == (
        new_before  # already 4-bit: left as it was
    )
    back = store.get_sentence_vectors(db, MODEL, ["old"], 384)["old"]
    assert back.spans == [(0, 10), (11, 20), (21, 30)]
    peaks = np.abs(vectors).max(axis=1, keepdims=True)
    assert np.all(np.abs(back.vectors - vectors) <= peaks / 14 + peaks / 254 + 1e-6)
    db.close()


def _vocabulary(db: sqlite3.Connection, table: str) -> list[tuple[object, ...]]:
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS v_{table} USING fts5vocab({table}, instance)")
    return db.execute(
        f"SELECT term, doc, col, offset FROM v_{table} ORDER BY 1, 2, 3, 4"
    ).fetchall()


def _afresh(db: sqlite3.Connection) -> list[tuple[object, ...]]:
    """The vocabulary of an FTS5 table filled from today's passage rows."""
    db.execute(
        "CREATE VIRTUAL TABLE fresh USING fts5(search_text, context, content='',"
        " tokenize='unicode61 remove_diacritics 2')"
    )
    db.executemany(
        "INSERT INTO fresh(rowid, search_text, context) VALUES (?,?,?)", fulltext.all_rows(db)
    )
    return _vocabulary(db, "fresh")


def test_the_full_text_index_follows_deletes_and_rebuilds(seed_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    db = store.connect(db_path(index))
    try:
        cable = db.execute("SELECT id FROM documents WHERE doc_id = '07MOSCOW5292'").fetchone()[0]
        gone = set(store.passage_ids_of(db, [cable]))
        assert gone & {pid for pid, _ in lexical.search(db, "Moscow launch space", 10)}
        with store.transaction(db):
            store.delete_documents(db, [cable])
        assert not gone & {pid for pid, _ in lexical.search(db, "Moscow launch space", 10)}
        indexed = _vocabulary(db, "passages_fts")
        assert indexed and indexed == _afresh(db)
        with store.transaction(db):
            store.rebuild_full_text(db)
        assert _vocabulary(db, "passages_fts") == indexed
        with store.transaction(db):
            store.delete_all_documents(db)
        assert _vocabulary(db, "passages_fts") == []
    finally:
        db.close()


def test_migration_9_keeps_every_lexical_result(seed_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    db = store.connect(db_path(index))
    before = [lexical.search(db, q, 10) for q in QUESTIONS]
    db.close()
    assert all(before)
    as_schema_8_text(index)
    raw = sqlite3.connect(db_path(index))
    assert "search_text" in {row[1] for row in raw.execute("PRAGMA table_info(passages)")}
    raw.close()
    db = store.connect(db_path(index))  # migrates
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
        assert "search_text" not in {row[1] for row in db.execute("PRAGMA table_info(passages)")}
        assert [lexical.search(db, q, 10) for q in QUESTIONS] == before
        assert _vocabulary(db, "passages_fts") == _afresh(db)
    finally:
        db.close()


def test_a_passage_whose_text_changed_since_indexing_is_deleted_cleanly(
    seed_index: Path, tmp_path: Path
) -> None:
    """Damage (offsets edited) leaves the tokens a delete must name unknown: the index is
    re-fed from what stays instead of being told the wrong ones."""
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    db = store.connect(db_path(index))
    try:
        cable = db.execute("SELECT id FROM documents WHERE doc_id = '07MOSCOW5292'").fetchone()[0]
        with store.transaction(db):
            db.execute('UPDATE passages SET "end" = "end" - 5 WHERE document_id = ?', (cable,))
        with store.transaction(db):
            store.delete_documents(db, [cable])
        assert _vocabulary(db, "passages_fts") == _afresh(db)
    finally:
        db.close()
