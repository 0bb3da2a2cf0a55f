"""The indexer keeps the BM25 index (tantivy) in step with SQLite, through kills too.

Real model, SQLite, FAISS and tantivy; ``PILCROW_BM25=tantivy`` makes these small
indexes keep one (by default only indexes of 300,000 passages do). A change is applied
inside the commit's transaction, not rebuilt; a kill at any commit stage leaves readers
on FTS5's answers until tantivy holds the committed generation again, and the next run
brings it there (undoing a change SQLite never committed).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import qa.index.bm25
from qa import store
from qa.bm25 import engine
from qa.check import check_index
from qa.factory import build_index, open_searcher
from qa.locations import bm25_path, db_path
from qa.models import Mode
from qa.search import lexical
from qa.search.tantivy_lexical import TantivyLexical, search_in_step
from tests.conftest import SAMPLE_CABLES, SEEDS, cable_path

QUESTIONS = [
    "How many Israeli judges are under 24-hour police guard?",
    "Did Beijing want one of its astronauts aboard the space station?",
    "gas prices Ukraine agreement",
]
NEW_WORD = "quillfeatherwise"  # in no document until a test writes it


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(SEEDS, folder)
    for doc_id in SAMPLE_CABLES[:4]:
        shutil.copy(cable_path(doc_id), folder / f"{doc_id}.html")
    return folder


@pytest.fixture
def kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PILCROW_BM25", "tantivy")


def _db(index: Path) -> sqlite3.Connection:
    return store.connect(db_path(index), readonly=True)


def _in_step(index: Path) -> bool:
    db = _db(index)
    try:
        reader = TantivyLexical.open(bm25_path(index))
        commit = engine.commit_of(store.read_manifest(db))
        return reader is not None and reader.in_step(commit)
    finally:
        db.close()


def _same_as_fts5(index: Path, questions: list[str] = QUESTIONS) -> None:
    """What readers get from tantivy (or, out of step, FTS5) is FTS5's top 10."""
    db = _db(index)
    try:
        reader = TantivyLexical.open(bm25_path(index))
        manifest = store.read_manifest(db)
        for question in questions:
            got = search_in_step(reader, db, manifest, question, 10)
            assert [pid for pid, _ in got] == [pid for pid, _ in lexical.search(db, question, 10)]
    finally:
        db.close()


def _add_word(corpus: Path) -> None:
    """A new word in one seed document's paragraph, and one cable deleted."""
    seed = sorted(corpus.glob("*.txt"))[0]
    text = seed.read_text(encoding="utf-8")
    first, _, rest = text.partition("\n\n")
    seed.write_text(f"{first}\n\nThe {NEW_WORD} clause was signed.\n\n{rest}", encoding="utf-8")
    (corpus / f"{SAMPLE_CABLES[0]}.html").unlink()


def test_each_commit_changes_the_bm25_index_in_step(corpus: Path, tmp_path: Path, kept) -> None:  # type: ignore[no-untyped-def]
    index = tmp_path / "index"
    build_index(corpus, index)
    assert _in_step(index)
    _same_as_fts5(index)
    db = _db(index)
    before = engine.commit_of(store.read_manifest(db))
    db.close()

    _add_word(corpus)
    build_index(corpus, index)
    db = _db(index)
    try:
        reader = TantivyLexical(bm25_path(index))
        stamp = engine.read_stamp(reader._searcher)
        assert stamp is not None and stamp.base == before  # applied, not rebuilt
        assert reader.in_step(engine.commit_of(store.read_manifest(db)))
        assert reader.passages == store.counts(db)[1]
        found = reader.search(db, NEW_WORD, 5)
        assert len(found) == 1
        cited = db.execute(
            "SELECT d.doc_id FROM passages p JOIN documents d ON d.id = p.document_id"
            " WHERE p.id = ?",
            (found[0][0],),
        ).fetchone()[0]
        assert cited == sorted(corpus.glob("*.txt"))[0].stem
        gone = reader.search(db, "Tel Aviv judges police guard", 10)
        assert SAMPLE_CABLES[0] not in {
            row[0]
            for pid, _ in gone
            for row in db.execute(
                "SELECT d.doc_id FROM passages p JOIN documents d ON d.id = p.document_id"
                " WHERE p.id = ?",
                (pid,),
            )
        }
    finally:
        db.close()
    _same_as_fts5(index, [*QUESTIONS, NEW_WORD])

    searcher = open_searcher(index)  # the searcher reads tantivy, and FTS5's answers
    try:
        assert searcher._bm25 is not None
        hits = searcher.ask(f"the {NEW_WORD} clause", k=1, mode=Mode.LEXICAL).hits
        assert hits and NEW_WORD in hits[0].text
    finally:
        searcher.close()


def test_small_indexes_keep_none_unless_asked(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PILCROW_BM25", raising=False)
    build_index(corpus, tmp_path / "auto")
    assert not bm25_path(tmp_path / "auto").exists()  # FTS5 alone answers a small index
    monkeypatch.setattr(qa.index.bm25, "BM25_MIN_PASSAGES", 10)
    build_index(corpus, tmp_path / "auto")  # a no-op run that finds it due builds it
    assert _in_step(tmp_path / "auto")
    monkeypatch.setenv("PILCROW_BM25", "fts5")
    build_index(corpus, tmp_path / "off")
    assert not bm25_path(tmp_path / "off").exists()


def _killed_run(corpus: Path, index: Path, point: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PILCROW_BM25": "tantivy", "PILCROW_TEST_KILL_AT": f"{point}:1"}
    command = [sys.executable, "-m", "qa", "index", "--corpus", str(corpus), "--index", str(index)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("point", "recovery"),
    [("rows", "in step"), ("vectors", "in step"), ("bm25", "undone"), ("committed", "in step")],
)
def test_a_kill_at_each_commit_stage_leaves_readers_on_fts5_answers(
    corpus: Path, tmp_path: Path, kept, point: str, recovery: str
) -> None:  # type: ignore[no-untyped-def]
    index = tmp_path / "index"
    build_index(corpus, index)
    _add_word(corpus)
    killed = _killed_run(corpus, index, point)
    assert killed.returncode == -9, killed.stderr
    _same_as_fts5(index, [*QUESTIONS, NEW_WORD])  # in step or not, never other answers
    db = _db(index)
    try:  # what the next run does first
        assert engine.bring_in_step(db, bm25_path(index)) == recovery
    finally:
        db.close()
    build_index(corpus, index)
    assert _in_step(index)
    _same_as_fts5(index, [*QUESTIONS, NEW_WORD])


def test_the_check_reports_a_bm25_index_out_of_step(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kept
) -> None:  # type: ignore[no-untyped-def]
    index = tmp_path / "index"
    build_index(corpus, index)
    assert check_index(index).ok and check_index(index).notes == []
    monkeypatch.setenv("PILCROW_BM25", "fts5")  # a run that does not keep it
    _add_word(corpus)
    build_index(corpus, index)
    assert check_index(index).notes == []  # not searched with fts5: not checked
    monkeypatch.setenv("PILCROW_BM25", "tantivy")
    report = check_index(index)
    assert report.ok  # slower, never wrong: a note, not damage
    assert report.notes == [
        f"BM25 index {bm25_path(index)} holds generation 1, not the committed generation 2:"
        " searches use FTS5 (slower) until `qa index` brings it in step"
    ]
    build_index(corpus, index)  # brings it in step
    assert check_index(index).notes == []
    shutil.rmtree(bm25_path(index))
    bm25_path(index).mkdir()
    assert "cannot be opened" in check_index(index).notes[0]
