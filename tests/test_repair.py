"""Repairs that converge: after the advice a damaged index gives is followed, `qa ask` works.

Issue 16, items 3 to 5, with the real model, SQLite and FAISS: a damaged embedding cache
(zeroed, or unit vectors the model disowns) is embedded again, never trusted; garbage in
the database is refused before anything is built from it; a folder where a vector file
goes and zeroed vector ids give one clear line and are repaired; a reader or `--check`
that loses its vector file to a writer committing two parts reads the newer one.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

import qa.check
import qa.search.searcher
from qa import store, vectors
from qa.check import check_index
from qa.cli import cli
from qa.factory import build_index, open_searcher
from qa.locations import db_path, vectors_path
from qa.store.codec import quantise
from tests.conftest import SEEDS, cable_path
from tests.test_reliability_crash import snapshot
from tests.test_reliability_damage import _sql

QUESTION = "How much is Kazakhstan asking in damages for the Proton rocket accident?"
CITED = "07MOSCOW5292 ¶3"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def _run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


def _ask(index: Path, mode: str = "dense") -> Result:
    return _run("ask", QUESTION, "--index", str(index), "--mode", mode, "--json", "--no-highlight")


def _top(index: Path) -> str:
    """The top citation of a dense search: what wrong vectors change."""
    result = _ask(index)
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["results"][0]["citation"])


def _index(index: Path, *extra: str, corpus: Path = SEEDS) -> Result:
    return _run("index", "--corpus", str(corpus), "--index", str(index), "--json", *extra)


def _check(index: Path) -> Result:
    return _run("index", "--check", "--index", str(index))


def _one_error_line(result: Result, *words: str) -> None:
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def _healthy(index: Path) -> None:
    result = _check(index)
    assert result.exit_code == 0, result.output
    assert _top(index) == CITED


@pytest.fixture
def index(seed_index: Path, tmp_path: Path) -> Path:
    """A copy of the seed index (new inodes: the first `qa index` reads its vector file)."""
    copy = tmp_path / "index"
    shutil.copytree(seed_index, copy)
    return copy


_zero_cache = _sql("UPDATE embeddings SET vector = zeroblob(length(vector))")


def _foreign_unit_cache(index: Path) -> None:
    """Every cached vector a unit vector, but not this model's: no norm check sees it."""
    rng = np.random.default_rng(3)
    db = sqlite3.connect(db_path(index))
    rows = db.execute("SELECT model, text_hash, length(vector) FROM embeddings").fetchall()
    fakes = rng.standard_normal((len(rows), rows[0][2])).astype(np.float32)
    fakes /= np.linalg.norm(fakes, axis=1, keepdims=True)
    scales, codes = quantise(fakes)  # stored as the cache stores every vector
    db.executemany(
        "UPDATE embeddings SET scale = ?, vector = ? WHERE model = ? AND text_hash = ?",
        [
            (float(s), c.tobytes(), model, h)
            for s, c, (model, h, _) in zip(scales, codes, rows, strict=True)
        ],
    )
    db.commit()
    db.close()


# -- item 3: a damaged embedding cache ----------------------------------------------------


def test_a_zeroed_cache_is_reported_and_the_rebuild_it_advises_embeds_it_again(
    index: Path,
) -> None:
    _zero_cache(index)
    assert _top(index) == CITED  # the vector file is sound: answers still work
    result = _check(index)
    assert result.exit_code == 5
    assert "17 of 17 embedded texts have a damaged entry in the embedding cache" in result.stderr
    assert "differ from the embedding cache" not in result.stderr  # the cache's fault alone
    assert "qa index --rebuild" in result.stderr

    result = _index(index, "--rebuild")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["passages_embedded"] == 17  # not the zeroed cache again
    assert "17 cached embeddings" in summary["repaired"]
    _healthy(index)


def test_a_plain_index_repairs_a_zeroed_cache_and_keeps_the_sound_vector_file(
    index: Path,
) -> None:
    expected = snapshot(index)
    _zero_cache(index)
    result = _index(index)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["passages_embedded"] == 17
    assert summary["generation"] == 1  # the file was right: nothing rebuilt from the cache
    assert "17 cached embeddings" in summary["repaired"] and "dropped" in result.stderr
    _healthy(index)
    after = snapshot(index)
    assert after is not None and expected is not None and after.content() == expected.content()


def test_a_cache_the_model_disowns_is_embedded_again_not_trusted(index: Path) -> None:
    _foreign_unit_cache(index)
    assert _top(index) == CITED
    result = _check(index)
    assert result.exit_code == 5
    assert "differ from the embedding cache" in result.stderr
    assert "qa index --rebuild" in result.stderr

    result = _index(index)  # re-embeds a sample, which disowns the cache
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["passages_embedded"] == 17 and summary["generation"] == 1
    assert "disagrees with the model" in summary["repaired"]
    _healthy(index)


def test_rebuild_never_trusts_a_cache_that_check_doubts(index: Path) -> None:
    _foreign_unit_cache(index)
    result = _index(index, "--rebuild")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["passages_embedded"] == 17
    _healthy(index)


def _random_bytes(index: Path, at: int, seed: int = 16) -> None:
    """16 KB of random bytes over the database file from byte ``at``."""
    path = db_path(index)
    data = bytearray(path.read_bytes())
    data[at : at + 16384] = np.random.default_rng(seed).integers(0, 256, 16384, np.uint8).tobytes()
    path.write_bytes(bytes(data))


def _cache_pages_offset(index: Path) -> int:
    """Where a third of the way into the embedding cache's pages begins (schema 6 keeps
    each vector in its b-tree page: there are no overflow pages to aim at)."""
    db = sqlite3.connect(db_path(index))
    pages = [
        row[0]
        for row in db.execute("SELECT pageno FROM dbstat WHERE name = 'embeddings' ORDER BY pageno")
    ]
    size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    assert pages
    return int((pages[len(pages) // 3] - 1) * size)


def test_garbage_over_the_cache_pages_is_refused_not_built_upon(index: Path) -> None:
    """Garbage over cached vectors reads back without an SQLite error: a plain run must
    find it, check the database, and refuse before it builds a generation from it."""
    _random_bytes(index, _cache_pages_offset(index))
    assert _top(index) == CITED  # the index works, and must go on working
    result = _index(index)
    assert result.exit_code == 5, result.output
    _one_error_line(result, "pilcrow.sqlite: the index database is damaged", "--rebuild")
    assert not vectors_path(index, 2).exists()  # nothing committed
    assert _top(index) == CITED
    result = _index(index, "--rebuild")
    assert result.exit_code == 0, result.output
    assert "moved it to pilcrow.sqlite.damaged-" in result.stderr
    _healthy(index)


def test_garbage_at_thirty_percent_of_the_database_never_breaks_the_index(index: Path) -> None:
    """The issue's damage, wherever this schema puts it: whatever a plain run does, it
    leaves an index that answers or refuses in one line; the rebuild it advises works."""
    _random_bytes(index, int(db_path(index).stat().st_size * 0.3))
    result = _index(index)
    if result.exit_code == 0:
        assert _top(index) == CITED
    else:
        assert result.exit_code == 5
        _one_error_line(result, "pilcrow.sqlite", "qa index --rebuild")
        assert not vectors_path(index, 2).exists()
    result = _index(index, "--rebuild")
    assert result.exit_code == 0, result.output
    _healthy(index)


def test_unsound_cache_entries_are_found_by_hash(tmp_path: Path) -> None:
    db = store.connect(tmp_path / "pilcrow.sqlite", create=True)
    rows = ["good", "zero", "nan", "long"]
    vecs = np.zeros((4, 4), np.float32)
    vecs[0, 1], vecs[2, 0], vecs[3] = 1.0, np.nan, 0.9
    with store.transaction(db):
        store.put_embeddings(db, MODEL, rows, vecs)
        db.execute("INSERT INTO embeddings VALUES (?, 'odd', 1.0, ?)", (MODEL, b"\x00\x01\x02"))
        db.execute("INSERT INTO embeddings VALUES ('other', 'zero', 1.0, ?)", (bytes(4),))
    assert sorted(store.unsound_embeddings(db, MODEL)) == ["long", "nan", "odd", "zero"]
    assert store.unsound_embeddings(db, MODEL, ["good", "nan", "absent"]) == ["nan"]
    with store.transaction(db):
        store.drop_embeddings(db, MODEL, ["nan", "zero"])
    assert store.cached_hashes(db, MODEL, rows) == {"good", "long"}
    assert store.cached_hashes(db, "other", ["zero"]) == {"zero"}
    db.close()


# -- item 4: a folder where a vector file goes --------------------------------------------


def _add(corpus: Path, name: str, text: str) -> None:
    (corpus / name).write_text(f"{text}\n\nA paragraph about {text.lower()} and little else.\n")


def test_a_folder_in_place_of_the_vector_file_is_one_line_and_repaired(
    index: Path, tmp_path: Path
) -> None:
    path = vectors_path(index, 1)
    path.unlink()
    path.mkdir()
    (path / "keep.txt").write_text("someone's file")
    result = _ask(index)
    assert result.exit_code == 5
    _one_error_line(result, "vectors-000001.faiss is not a file", "qa index")

    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    result = _index(index, corpus=corpus)
    assert result.exit_code == 0, result.output
    assert "is not a file" in json.loads(result.stdout)["repaired"]
    assert _top(index) == CITED
    for n in range(2):  # generation 1 goes stale: the cleanup must pass the folder by
        _add(corpus, f"extra-{n}.txt", f"Extra note {n}")
        result = _index(index, corpus=corpus)
        assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["generation"] == 4
    assert (path / "keep.txt").read_text() == "someone's file"  # never deleted
    _healthy(index)


def test_a_folder_where_the_next_vector_file_goes_is_moved_aside(tmp_path: Path) -> None:
    index = tmp_path / "index"
    index.mkdir()
    vectors_path(index, 1).mkdir()
    result = _index(index)
    assert result.exit_code == 0, result.output
    assert "vectors-000001.faiss is not a file: moved it to vectors-000001.faiss.damaged-" in (
        result.stderr
    )
    (moved,) = index.glob("vectors-000001.faiss.damaged-*")
    assert moved.is_dir() and vectors_path(index, 1).is_file()
    _healthy(index)


# -- item 5: a zeroed tail, and a reader that loses its file to a writer -------------------


def test_zeroed_last_bytes_of_the_vector_file_are_caught_and_repaired(index: Path) -> None:
    path = vectors_path(index, 1)
    data = bytearray(path.read_bytes())
    data[-64:] = bytes(64)  # the last eight vector ids: same size, every vector unit length
    path.write_bytes(bytes(data))
    result = _ask(index)
    assert result.exit_code == 5
    _one_error_line(result, "8 of 17 vector ids are repeated or invalid", "qa index")
    result = _check(index)
    assert result.exit_code == 5
    assert "8 of 17 vector ids are repeated or invalid" in result.stderr
    assert "holds 17 vectors, the passages need 17" not in result.stderr
    result = _index(index)
    assert result.exit_code == 0, result.output
    assert "vector ids" in json.loads(result.stdout)["repaired"]
    _healthy(index)


def test_check_names_windows_without_vectors(index: Path) -> None:
    """Vector ids that are valid but not the passages' (one window dropped, another
    added): the count agrees, so the message says which way it differs."""
    flat = vectors.open_checked(vectors_path(index, 1), 384)
    ids = np.sort(flat.ids())
    vecs = np.stack([flat.vector(int(i)) for i in ids])
    ids[-1] += 1  # the last passage's window 0 becomes a window it does not have
    other = vectors.FlatIndex.empty(384)
    other.add(ids, vecs)
    size = other.save(vectors_path(index, 1))
    db = sqlite3.connect(db_path(index))
    db.execute("UPDATE manifest SET value = ? WHERE key = 'vector_bytes'", (str(size),))
    db.commit()
    db.close()
    report = check_index(index)
    assert any(
        "holds 17 vectors for 17 passage windows: 1 windows have no vector and 1 vectors "
        "belong to no passage" in p
        for p in report.problems
    ), report.problems


@pytest.fixture
def busy(tmp_path: Path) -> tuple[Path, Path]:
    """A corpus of the seeds and its index, at generation 1."""
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    index = tmp_path / "index"
    assert build_index(corpus, index).generation == 1
    return corpus, index


def _commit_in_parts(corpus: Path, index: Path, monkeypatch: pytest.MonkeyPatch, read: int) -> int:
    """A big run, as a writer beside the reader would: parts committed one after another,
    the generation the reader ``read`` cleaned up behind them."""
    for doc_id in ("08OSLO461", "09BRASILIA1276", "09TELAVIV1098"):
        shutil.copy(cable_path(doc_id), corpus / f"{doc_id}.html")
    with monkeypatch.context() as env:
        env.setenv("PILCROW_GENERATION_PASSAGES", "5")
        generation = build_index(corpus, index).generation
    assert generation >= read + 2 and not list(index.glob(f"vectors-{read:06d}.*"))
    return generation


def _racing(real: Callable[..., Any], writer: Callable[[], int]) -> Callable[..., Any]:
    """``real``, but the first call lets the writer commit first (after the manifest was
    read, before the file is opened: the window the race needs)."""
    state: dict[str, int] = {}

    def opened(*args: Any) -> Any:
        if not state:
            state["generation"] = writer()
        return real(*args)

    return opened


def test_a_reader_that_loses_its_vector_file_to_a_writer_reads_the_new_one(
    busy: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, index = busy
    searcher = open_searcher(index)
    try:
        assert searcher.manifest.generation == 1
        _add(corpus, "extra.txt", "An extra note")
        assert build_index(corpus, index).generation == 2  # the reader will read it
        writer = lambda: _commit_in_parts(corpus, index, monkeypatch, 2)  # noqa: E731
        monkeypatch.setattr(
            qa.search.searcher.vectors,
            "open_for_search",
            _racing(vectors.open_for_search, writer),
        )
        answer = searcher.ask(QUESTION, mode="dense", highlight=False)
        assert answer.hits[0].citation == CITED
        latest = store.connect(db_path(index), readonly=True)
        assert searcher.manifest.generation == store.read_manifest(latest).generation
        latest.close()
    finally:
        searcher.close()


def test_check_during_a_commit_in_parts_checks_the_new_generation(
    busy: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, index = busy
    writer = lambda: _commit_in_parts(corpus, index, monkeypatch, 1)  # noqa: E731
    monkeypatch.setattr(qa.check.vectors, "open_segments", _racing(vectors.open_segments, writer))
    report = check_index(index)
    assert report.ok, report.problems
    assert report.generation >= 3 and report.documents == 5


def _vanishing(path: Path, method: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``path`` is removed right after its ``Path.<method>`` first answers, as a writer's
    cleanup can land between a reader's checks (``is_file``: before it is opened;
    ``open``: after, before its size is read)."""
    real = getattr(Path, method)
    state = {"done": False}

    def then_gone(self: Path, *args: Any, **kwargs: Any) -> Any:
        answer = real(self, *args, **kwargs)
        if self == path and not state["done"]:
            state["done"] = True
            path.unlink()
        return answer

    monkeypatch.setattr(Path, method, then_gone)


@pytest.mark.parametrize("method", ["is_file", "open"])
def test_a_vector_file_removed_between_the_checks_is_missing_not_an_os_error(
    index: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    db = store.connect(db_path(index), readonly=True)
    manifest = store.read_manifest(db)
    db.close()
    _vanishing(vectors_path(index, 1), method, monkeypatch)
    with pytest.raises(vectors.VectorFileDamaged, match=r"vectors-000001\.faiss is missing"):
        vectors.open_committed(index, manifest)


def test_a_reader_whose_file_goes_before_it_is_opened_reads_the_new_generation(
    busy: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus, index = busy
    searcher = open_searcher(index)
    try:
        _add(corpus, "extra.txt", "An extra note")
        assert build_index(corpus, index).generation == 2  # the reader will read it
        real = Path.is_file
        state = {"writer": False}

        def writer_between(self: Path) -> bool:  # the writer commits two parts, then open
            answer = real(self)
            if self.name.startswith("vectors-000002.") and not state["writer"]:
                state["writer"] = True
                _commit_in_parts(corpus, index, monkeypatch, 2)
            return answer

        monkeypatch.setattr(Path, "is_file", writer_between)
        answer = searcher.ask(QUESTION, mode="dense", highlight=False)
        assert state["writer"] and answer.hits[0].citation == CITED
        assert searcher.manifest.generation >= 4
    finally:
        searcher.close()
