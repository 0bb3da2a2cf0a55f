"""Schema 6 (issue #12): each vector stored once, compactly and in its page; no text twice.

The cache's int8 codec reads back within its documented bound (``qa.store.codec``) as
unit vectors and keeps damage visible; typical embedding and sentence-vector rows need
no overflow page; a passage's text is its slice of the body, non-ASCII included; and a
schema-5 index migrates in place, keeping its ids, its vector file and its answers.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa import store
from qa.check import _passages_unlike_indexed, check_index
from qa.factory import open_searcher, shared_embedder
from qa.index.repair import stored_views
from qa.locations import db_path, model_name
from qa.models import DocKind, Document, Passage, SentenceVectors, StoredPassage
from qa.store import schema
from qa.store.codec import min_cosine
from qa.views import clean, text_hash

MODEL = "test/model"
QUESTION = "What did the Russian official say about the missile defence plans?"


def _unit(n: int, dim: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _fresh_db(tmp_path: Path) -> sqlite3.Connection:
    return store.connect(tmp_path / "pilcrow.sqlite", create=True)


# -- the codec ---------------------------------------------------------------------------


def test_cached_embeddings_read_back_within_the_int8_bound_as_unit_vectors(
    tmp_path: Path,
) -> None:
    """The bound (qa/store/codec.py): with s = peak / 127, each component within s of
    the original (s / 2 rounding, plus the renormalisation's small shift), cosine at
    least sqrt(1 - r^2) with r = sqrt(d) s / 2; spiky vectors (one large component,
    so a coarse step) included."""
    dim = 384
    original = _unit(600, dim)
    original[:20, 0] += 3.0  # peaks near 0.95: the coarsest steps a unit vector gets
    original /= np.linalg.norm(original, axis=1, keepdims=True)
    hashes = [f"h{i}" for i in range(len(original))]
    db = _fresh_db(tmp_path)
    with store.transaction(db):
        store.put_embeddings(db, MODEL, hashes, original)
    read = store.get_embeddings(db, MODEL, hashes, dim)
    back = np.stack([read[h] for h in hashes])
    step = np.abs(original).max(axis=1) / 127
    assert back.dtype == np.float32
    assert np.abs(np.linalg.norm(back, axis=1) - 1.0).max() < 1e-5  # unit, as readers check
    assert np.all(np.abs(back - original).max(axis=1) <= step)
    cosines = np.einsum("ij,ij->i", back, original)
    assert np.all(cosines >= min_cosine(step, dim) - 1e-6)
    assert cosines[20:].min() > 0.9998  # the dense vectors a model gives: peaks ~0.1-0.3
    assert store.unsound_embeddings(db, MODEL) == []
    assert dict(store.iter_embeddings(db, MODEL)).keys() == read.keys()
    assert (store.cached_dims(db, MODEL), store.cached_dim(db, MODEL)) == ([dim], dim)
    db.close()


def test_a_re_encoded_vector_is_stored_the_same(tmp_path: Path) -> None:
    """Reading a vector back and caching it again stores the same codes (a migrated or
    copied cache does not drift)."""
    db = _fresh_db(tmp_path)
    with store.transaction(db):
        store.put_embeddings(db, MODEL, ["a"], _unit(1, 384))
    first = db.execute("SELECT scale, vector FROM embeddings").fetchone()
    again = store.get_embeddings(db, MODEL, ["a"], 384)["a"]
    with store.transaction(db):
        store.put_embeddings(db, MODEL, ["a"], again[None, :])
    second = db.execute("SELECT scale, vector FROM embeddings").fetchone()
    assert first["vector"] == second["vector"]
    db.close()


@pytest.mark.parametrize(
    ("what", "scale", "codes"),
    [
        ("zeroed codes", 0.01, bytes(384)),
        ("a code of -128, never written", 0.01, b"\x80" + bytes([127]) * 383),
        ("scale 0 (a non-finite vector)", 0.0, bytes([127]) * 384),
        ("a scale twice too large", 2 * 1 / 127 / np.sqrt(384), bytes([127]) * 384),
        ("a negative scale", -1 / 127 / np.sqrt(384), bytes([127]) * 384),
    ],
)
def test_damaged_cache_rows_read_back_as_damage(
    tmp_path: Path, what: str, scale: float, codes: bytes
) -> None:
    db = _fresh_db(tmp_path)
    with store.transaction(db):
        store.put_embeddings(db, MODEL, ["good"], _unit(1, 384))
        db.execute("INSERT INTO embeddings VALUES (?, 'bad', ?, ?)", (MODEL, scale, codes))
        db.execute("INSERT INTO embeddings VALUES (?, 'text', 1.0, 'not a blob')", (MODEL,))
    assert sorted(store.unsound_embeddings(db, MODEL)) == ["bad", "text"], what
    assert not store.unit_rows(store.get_embeddings(db, MODEL, ["bad"], 384)["bad"][None, :])[0]
    db.close()


def test_non_finite_vectors_are_cached_as_damage(tmp_path: Path) -> None:
    db = _fresh_db(tmp_path)
    vectors = _unit(2, 8)
    vectors[1, 3] = np.nan
    with store.transaction(db):
        store.put_embeddings(db, MODEL, ["ok", "nan"], vectors)
    assert store.unsound_embeddings(db, MODEL) == ["nan"]
    db.close()


# -- the layout --------------------------------------------------------------------------


def _overflow_pages(db: sqlite3.Connection, table: str) -> int:
    return int(
        db.execute(
            "SELECT count(*) FROM dbstat WHERE name = ? AND pagetype = 'overflow'", (table,)
        ).fetchone()[0]
    )


def _sentences(n: int, dim: int, seed: int) -> SentenceVectors:
    spans = [(i * 80, i * 80 + 79) for i in range(n)]
    return SentenceVectors(spans, _unit(n, dim, seed))


def test_typical_vector_rows_need_no_overflow_page(tmp_path: Path) -> None:
    """A 384-d embedding is ~460 bytes, a passage's sentence vectors ~200 bytes a
    sentence: rows up to ~4,061 bytes stay in their b-tree page (a WITHOUT ROWID table
    spilled every row past ~1,002). Up to 10 sentences, and 1,024-d embeddings, fit."""
    db = _fresh_db(tmp_path)
    with store.transaction(db):
        store.put_embeddings(db, MODEL, [f"e{i}" for i in range(300)], _unit(300, 384))
        store.put_embeddings(db, "big/model", [f"b{i}" for i in range(50)], _unit(50, 1024))
        items = [
            (f"k{n}-{i}", _sentences(n, 384, n * 100 + i)) for n in range(1, 11) for i in range(20)
        ]
        store.put_sentence_vectors(db, MODEL, items)
    sizes = [row[0] for row in db.execute("SELECT length(vectors) FROM sentence_vectors")]
    assert max(sizes) == 1920  # 10 sentences of 384 components, 4 bits each
    assert _overflow_pages(db, "embeddings") == 0
    assert _overflow_pages(db, "sentence_vectors") == 0
    back = store.get_sentence_vectors(db, MODEL, ["k3-0"], 384)["k3-0"]
    assert back.spans == items[40][1].spans
    peaks = np.abs(items[40][1].vectors).max(axis=1, keepdims=True)
    assert np.all(np.abs(back.vectors - items[40][1].vectors) <= peaks / 14 + 1e-6)
    db.close()


# -- passage text from the body ----------------------------------------------------------

# Curly quotes, an accent, a non-breaking space, a paragraph sign, an em dash and a
# character outside the BMP (four UTF-8 bytes, one code point, one SQLite character).
_BODY = (
    "¶1. (C) “Señor Pérez’s” view\u00a0— noted.\n\n"
    "¶2. (SBU) Café talks 🙂 resumed; the délégation left.\n\n"
    "¶3. Plain ASCII closes it."
)


def _document() -> tuple[Document, list[StoredPassage]]:
    passages = []
    for n, paragraph in enumerate(_BODY.split("\n\n"), 1):
        start = _BODY.index(paragraph)
        passages.append(Passage(f"¶{n}", n, paragraph, start, start + len(paragraph)))
    doc = Document(
        doc_id="09TEST1", kind=DocKind.CABLE, title="T", body=_BODY, source="09TEST1.html"
    )
    doc.passages = passages
    rows = [StoredPassage(p, text_hash(p.text), p.text, "", (text_hash(p.text),)) for p in passages]
    return doc, rows


def test_passage_text_is_read_from_the_body_non_ascii_included(tmp_path: Path) -> None:
    db = _fresh_db(tmp_path)
    doc, rows = _document()
    with store.transaction(db):
        ids = store.insert_document(db, doc, "hash", rows)
    columns = {row["name"] for row in db.execute("PRAGMA table_info(passages)")}
    assert "text" not in columns  # stored once, in documents.body
    wanted = [p.text for p in doc.passages]
    assert "🙂" in wanted[1] and "“Señor" in wanted[0]
    hits = store.hit_rows(db, ids)
    assert [hits[i]["text"] for i in ids] == wanted
    stored = store.get_document(db, "09TEST1")
    assert stored is not None and [p.text for p in stored.passages] == wanted
    assert [row["text"] for row in store.sentence_sources(db)] == wanted
    assert _passages_unlike_indexed(db) == 0
    db.execute('UPDATE passages SET "end" = "end" - 1 WHERE id = ?', (ids[1],))
    assert _passages_unlike_indexed(db) == 1  # the slice is no longer what was indexed
    db.close()


def test_a_passage_that_is_not_its_slice_of_the_body_is_refused(tmp_path: Path) -> None:
    db = _fresh_db(tmp_path)
    doc, rows = _document()
    bad = rows[0].passage
    rows[0] = replace(rows[0], passage=replace(bad, text=bad.text + "x"))
    with pytest.raises(ValueError, match="is not body"), store.transaction(db):
        store.insert_document(db, doc, "hash", rows)
    assert store.counts(db) == (0, 0)
    db.close()


def test_the_seed_index_shows_each_passage_as_its_slice_of_the_body(seed_index: Path) -> None:
    db = store.connect(db_path(seed_index), readonly=True)
    try:
        for doc_id in ("07MOSCOW5292", "china-finds-eager-space-partners"):
            doc = store.get_document(db, doc_id)
            assert doc is not None
            ids = store.passage_ids_of(
                db,
                [db.execute("SELECT id FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()[0]],
            )
            hits = store.hit_rows(db, ids)
            shown = [hits[i]["text"] for i in ids]
            assert shown == [doc.body[p.start : p.end] for p in doc.passages]
            assert [text_hash(t) for t in shown] == [hits[i]["text_hash"] for i in ids]
        article = store.get_document(db, "china-finds-eager-space-partners")
        assert article is not None and any("“" in p.text or "’" in p.text for p in article.passages)
    finally:
        db.close()


# -- the migration -----------------------------------------------------------------------


def as_schema_5(index: Path, cache: dict[tuple[str, str], np.ndarray] | None = None) -> None:
    """Rewrite a schema-6 index as schema 5 laid it out: passage text stored, float32
    embeddings (``cache``, by (model, hash): default the cache as read back) and
    sentence vectors in WITHOUT ROWID tables, ``user_version`` 5."""
    if cache is None:
        db = store.connect(db_path(index))
        models = [row[0] for row in db.execute("SELECT DISTINCT model FROM embeddings")]
        cache = {(m, h): v for m in models for h, v in store.iter_embeddings(db, m)}
        db.close()
    as_schema_8_text(index)
    raw = sqlite3.connect(db_path(index))
    with raw:
        raw.execute("ALTER TABLE passages ADD COLUMN text TEXT NOT NULL DEFAULT ''")
        raw.execute(
            "UPDATE passages SET text = (SELECT substr(d.body, passages.start + 1,"
            ' passages."end" - passages.start) FROM documents d WHERE d.id = passages.document_id)'
        )
        raw.execute("DROP TABLE embeddings")
        raw.execute(
            "CREATE TABLE embeddings (model TEXT NOT NULL, text_hash TEXT NOT NULL,"
            " vector BLOB NOT NULL, PRIMARY KEY (model, text_hash)) WITHOUT ROWID"
        )
        raw.executemany(
            "INSERT INTO embeddings VALUES (?, ?, ?)",
            [(m, h, np.asarray(v, np.float32).tobytes()) for (m, h), v in cache.items()],
        )
        raw.execute("ALTER TABLE sentence_vectors RENAME TO sentence_vectors_6")
        raw.execute(
            "CREATE TABLE sentence_vectors (model TEXT NOT NULL, key TEXT NOT NULL,"
            " spans BLOB NOT NULL, scales BLOB NOT NULL, vectors BLOB NOT NULL,"
            " PRIMARY KEY (model, key)) WITHOUT ROWID"
        )
        raw.execute("INSERT INTO sentence_vectors SELECT * FROM sentence_vectors_6")
        raw.execute("DROP TABLE sentence_vectors_6")
        raw.execute("DROP INDEX documents_files")
    raw.execute("PRAGMA user_version = 5")
    raw.close()


SCHEMA_8_FTS = [  # the full-text table and triggers of schemas 1-8
    "CREATE VIRTUAL TABLE passages_fts USING fts5(search_text, context, content='passages',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER passages_ai AFTER INSERT ON passages BEGIN"
    " INSERT INTO passages_fts(rowid, search_text, context)"
    " VALUES (new.id, new.search_text, new.context); END",
    "CREATE TRIGGER passages_ad AFTER DELETE ON passages BEGIN"
    " INSERT INTO passages_fts(passages_fts, rowid, search_text, context)"
    " VALUES ('delete', old.id, old.search_text, old.context); END",
]


def as_schema_8_text(index: Path) -> None:
    """Put back what schema 9 dropped: the stored search text, the external-content FTS5
    table and its triggers (sentence vectors stay 4-bit: migration 8 leaves them so)."""
    raw = sqlite3.connect(db_path(index))
    raw.create_function("pilcrow_clean", 1, clean)
    with raw:
        raw.execute("ALTER TABLE passages ADD COLUMN search_text TEXT NOT NULL DEFAULT ''")
        raw.execute(
            "UPDATE passages SET search_text = (SELECT pilcrow_clean(substr(d.body,"
            ' passages.start + 1, passages."end" - passages.start)) FROM documents d'
            " WHERE d.id = passages.document_id)"
        )
        raw.execute("DROP TABLE passages_fts")
        for statement in SCHEMA_8_FTS:
            raw.execute(statement)
        raw.execute("INSERT INTO passages_fts(passages_fts) VALUES ('rebuild')")
    raw.execute("PRAGMA user_version = 8")
    raw.close()


def _model_cache(index: Path) -> dict[tuple[str, str], np.ndarray]:
    """The float32 vectors the model gives for the index's views: what a schema-5 cache
    held (the int8 cache as read back is within the codec's bound of them)."""
    db = store.connect(db_path(index), readonly=True)
    try:
        model = store.read_manifest(db).model
        views = stored_views(db, {h for _, hs in store.all_view_hashes(db) for h in hs})
    finally:
        db.close()
    hashes = sorted(views)
    vectors = np.asarray(shared_embedder(model_name()).embed([views[h] for h in hashes]))
    return {(model, h): v for h, v in zip(hashes, vectors, strict=True)}


def _answer(index: Path) -> list[tuple[str, str, tuple[int, int] | None]]:
    searcher = open_searcher(index)
    try:
        return [(h.citation, h.text, h.highlight) for h in searcher.ask(QUESTION).hits]
    finally:
        searcher.close()


def _rows(index: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    db = sqlite3.connect(db_path(index))
    try:
        passages = db.execute("SELECT id, document_id, seq, label FROM passages ORDER BY id")
        documents = db.execute("SELECT id, doc_id FROM documents ORDER BY id")
        return [tuple(r) for r in passages], [tuple(r) for r in documents]
    finally:
        db.close()


def test_a_schema_5_index_migrates_in_place_and_answers_the_same(
    seed_index: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    before = _answer(index)
    assert before
    as_schema_5(index, _model_cache(index))
    (vector_file,) = index.glob("vectors-*.faiss")
    file_bytes, rows = vector_file.read_bytes(), _rows(index)
    raw = sqlite3.connect(db_path(index))
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 5
    assert _overflow_pages(raw, "embeddings") > 0  # what schema 5 did to every vector
    raw.close()

    db = store.connect(db_path(index))  # what `qa index` does first: migrate
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION == 9
        assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0  # VACUUMed
        assert _overflow_pages(db, "embeddings") == 0
        assert store.unsound_embeddings(db, store.read_manifest(db).model) == []
    finally:
        db.close()
    assert _rows(index) == rows  # every document and passage id kept
    assert vector_file.read_bytes() == file_bytes  # the vector file untouched, still valid
    assert _answer(index) == before
    report = check_index(index)
    assert report.ok, report.problems


def test_migration_keeps_a_damaged_cache_entry_damaged(seed_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    as_schema_5(index)
    raw = sqlite3.connect(db_path(index))
    with raw:
        (bad,) = raw.execute("SELECT text_hash FROM embeddings LIMIT 1").fetchone()
        raw.execute(
            "UPDATE embeddings SET vector = zeroblob(length(vector)) WHERE text_hash = ?", (bad,)
        )
        (odd,) = raw.execute("SELECT text_hash FROM embeddings LIMIT 1 OFFSET 1").fetchone()
        raw.execute("UPDATE embeddings SET vector = x'000102' WHERE text_hash = ?", (odd,))
    raw.close()
    db = store.connect(db_path(index))
    try:
        model = store.read_manifest(db).model
        assert sorted(store.unsound_embeddings(db, model)) == sorted([bad, odd])
    finally:
        db.close()
