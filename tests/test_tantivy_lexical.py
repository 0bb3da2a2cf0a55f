"""BM25 on tantivy (``qa.bm25``) gives FTS5's results, and its state machine holds.

The engine's own operations, on the seed index; the indexer's use of them (in step with
every commit, through kills) is ``test_bm25_index``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from qa import store
from qa.bm25 import engine as bm
from qa.locations import db_path
from qa.models import Filters
from qa.search import lexical
from qa.search import tantivy_lexical as tl


@pytest.fixture
def seed_db(seed_index: Path) -> Iterator[sqlite3.Connection]:
    db = store.connect(db_path(seed_index), readonly=True)
    yield db
    db.close()


@pytest.fixture
def engine(seed_db: sqlite3.Connection, tmp_path: Path) -> tl.TantivyLexical:
    """A tantivy index of the two seeds, built beside (not inside) the shared index."""
    assert bm.build(seed_db, tmp_path / "lexical") > 0
    return tl.TantivyLexical(tmp_path / "lexical")


def cited(db: sqlite3.Connection, ranked: list[tuple[int, float]]) -> list[str]:
    """``doc_id label`` of each hit, the way a citation reads."""
    labels = dict(
        db.execute(
            "SELECT p.id, d.doc_id || ' ' || p.label FROM passages p"
            " JOIN documents d ON d.id = p.document_id"
        ).fetchall()
    )
    return [labels[pid] for pid, _ in ranked]


@pytest.mark.parametrize(
    ("question", "top"),
    [
        ("Baikonur cosmodrome lease", ["07MOSCOW5292 ¶2", "07MOSCOW5292 ¶1"]),
        (
            "Kazcosmos delegation Great Wall",
            ["china-finds-eager-space-partners ¶3", "china-finds-eager-space-partners ¶2"],
        ),
    ],
)
def test_same_hits_and_scores_as_fts5(
    seed_db: sqlite3.Connection, engine: tl.TantivyLexical, question: str, top: list[str]
) -> None:
    ours = engine.search(seed_db, question, 5)
    fts5 = lexical.search(seed_db, question, 5)
    assert cited(seed_db, ours)[:2] == top
    assert cited(seed_db, ours) == cited(seed_db, fts5)
    for (_, a), (_, b) in zip(ours, fts5, strict=True):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-9)  # FTS5's own bm25(), rescored


def test_filtered_search_keeps_to_the_filter(
    seed_db: sqlite3.Connection, engine: tl.TantivyLexical
) -> None:
    only = Filters(doc_id="china-finds-eager-space-partners")
    ours = engine.search(seed_db, "space cooperation Kazakhstan", 5, only)
    assert ours
    assert all(hit.startswith("china-finds-eager-space-partners ") for hit in cited(seed_db, ours))
    assert cited(seed_db, ours) == cited(
        seed_db, lexical.search(seed_db, "space cooperation Kazakhstan", 5, only)
    )


def test_reader_uses_tantivy_only_in_step(
    seed_db: sqlite3.Connection, engine: tl.TantivyLexical
) -> None:
    manifest = store.read_manifest(seed_db)
    generation, key = bm.commit_of(manifest)
    assert engine.in_step((generation, key))
    assert not engine.in_step((generation + 1, key))
    assert not engine.in_step((generation, "another commit of that generation"))
    # out of step: FTS5 answers, with the same passages
    question = "Baikonur cosmodrome lease"
    later = replace(manifest, generation=generation + 1)
    assert tl.search_in_step(engine, seed_db, later, question, 3) == lexical.search(
        seed_db, question, 3
    )


def test_a_commit_killed_before_sqlite_is_undone(
    seed_db: sqlite3.Connection, engine: tl.TantivyLexical
) -> None:
    """tantivy committed generation g+1, SQLite never did: the next run takes it back."""
    base = bm.commit_of(store.read_manifest(seed_db))
    before = engine.search(seed_db, "Baikonur cosmodrome lease", 5)
    gone = [pid for pid, _ in before[:1]]
    top = int(seed_db.execute("SELECT max(id) FROM passages").fetchone()[0])
    added = [(top + 1, "Baikonur Baikonur cosmodrome lease", "")]
    killed = (base[0] + 1, "the killed run's commit")
    bm.apply(engine.directory, base, killed, gone, added)
    engine.refresh()
    assert engine.in_step(killed)
    assert bm.bring_in_step(seed_db, engine.directory) == "undone"
    engine.refresh()
    assert engine.in_step(base)
    assert engine.search(seed_db, "Baikonur cosmodrome lease", 5) == before
    with pytest.raises(bm.NotInStep):  # a change must build on the commit it holds
        bm.apply(engine.directory, killed, (base[0] + 2, "next"), [], [])
    assert bm.bring_in_step(seed_db, engine.directory) == "in step"


def test_ahead_of_another_commit_is_rebuilt(seed_index: Path, fresh_copy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A killed run's g+1 in tantivy, then another run's g+1 in SQLite (same number,
    other rows): the stamp names a different commit, so readers use FTS5 and the next
    run rebuilds instead of trusting the number."""
    index = fresh_copy(seed_index, "index")
    db = sqlite3.connect(db_path(index), isolation_level=None)
    directory = tmp_path / "lexical"
    bm.build(db, directory)
    base = bm.commit_of(store.read_manifest(db))
    bm.apply(directory, base, (base[0] + 1, "the killed run's"), [], [])
    db.execute("UPDATE manifest SET value = ? WHERE key = 'generation'", (str(base[0] + 1),))
    db.execute("UPDATE manifest SET value = 'another run' WHERE key = 'vector_stat'")
    manifest = store.read_manifest(db)
    reader = tl.TantivyLexical(directory)
    assert reader.stamp is not None and reader.stamp.generation == manifest.generation
    assert not reader.in_step(bm.commit_of(manifest))
    assert bm.bring_in_step(db, directory) == "rebuilt"
    reader.refresh()
    assert reader.in_step(bm.commit_of(manifest))
    db.close()
