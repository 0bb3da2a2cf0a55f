"""Damaged index files: a clear error naming the problem and the fix, never wrong results.

Each case damages a copy of the seed index the way a disk, a sync tool or a careless copy
might, then runs what a user would: `qa ask` (exit 5 "damaged" with a one-line message
naming the file and the fix, no traceback), `qa index --check` (reports the problem,
exit 5), a plain `qa index` (repairs the vector file from the embedding cache where it
can, otherwise refuses with the `--rebuild` hint) and `qa index --rebuild` (always brings
back an index equal to the undamaged one).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from qa import vectors
from qa.cli import cli
from qa.locations import db_path, vectors_path
from tests.conftest import SEEDS
from tests.test_reliability_crash import snapshot

QUESTION = "How much is Kazakhstan asking in damages for the Proton rocket accident?"


def _faiss(index: Path) -> Path:
    return vectors_path(index, 1)


def _truncate_vectors(index: Path) -> None:
    data = _faiss(index).read_bytes()
    _faiss(index).write_bytes(data[: len(data) // 2])


def _delete_vectors(index: Path) -> None:
    _faiss(index).unlink()


def _garbage_in_vectors(index: Path) -> None:
    """Garbage over some of the float data: same size, still a valid FAISS file."""
    data = bytearray(_faiss(index).read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = b"\xff" * 64
    _faiss(index).write_bytes(bytes(data))


def _foreign_faiss(index: Path) -> None:
    import faiss

    other = faiss.IndexFlatL2(384)
    other.add(np.eye(384, dtype=np.float32)[:17])
    faiss.write_index(other, str(_faiss(index)))


def _vectors_of_another_index(index: Path) -> None:
    """Unit vectors with the right ids and size, but not the ones the cache holds."""
    ids = vectors.open_checked(_faiss(index), 384).ids()
    rng = np.random.default_rng(7)
    fake = rng.standard_normal((len(ids), 384)).astype(np.float32)
    fake /= np.linalg.norm(fake, axis=1, keepdims=True)
    replacement = vectors.FlatIndex.empty(384)
    replacement.add(ids, fake)
    replacement.save(_faiss(index))


def _sql(statement: str, *params: object) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        db = sqlite3.connect(db_path(index))
        db.execute(statement, params)
        db.commit()
        db.close()

    return damage


def _garbage_sqlite_header(index: Path) -> None:
    path = db_path(index)
    data = bytearray(path.read_bytes())
    data[:100] = os.urandom(100)
    path.write_bytes(bytes(data))


def _garbage_sqlite_pages(index: Path) -> None:
    """Garbage over every page but the schema's: the file opens, queries fail (the schema
    may outgrow page 1 as migrations add tables, so its pages are looked up, not assumed)."""
    path = db_path(index)
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.execute("PRAGMA page_size").fetchone()[0]
    kept = {n for (n,) in db.execute("SELECT pageno FROM dbstat WHERE name = 'sqlite_schema'")}
    db.close()
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(11)
    for page in range(2, len(data) // size + 1):
        if page not in kept:
            at = (page - 1) * size
            data[at : at + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def _truncate_sqlite(index: Path) -> None:
    path = db_path(index)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _foreign_sqlite(index: Path) -> None:
    path = db_path(index)
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
    db.execute("INSERT INTO contacts VALUES ('source', '555-0100')")
    db.commit()
    db.close()


@dataclass(frozen=True)
class Case:
    name: str
    damage: Callable[[Path], None]
    says: str  # what `qa ask` and `qa index --check` must say about it
    ask_exit: int = 5
    plain: str = "repairs"  # what a plain `qa index` does: repairs | refuses (exit 5) | ignores
    check_says: str = ""  # when --check words it differently from `qa ask`


CASES = [
    Case("truncated-faiss", _truncate_vectors, "vector file is damaged", check_says="truncated"),
    Case("deleted-faiss", _delete_vectors, "vectors-000001.faiss is missing"),
    Case("garbage-in-faiss", _garbage_in_vectors, "not unit length"),
    Case("foreign-faiss", _foreign_faiss, "not a Pilcrow vector file"),
    Case(
        "vectors-of-another-index",
        _vectors_of_another_index,
        "",  # undetectable by `qa ask` (right ids, unit length): only --check compares
        ask_exit=0,
        check_says="differ from the embedding cache",
    ),
    Case(
        "manifest-vector-count",
        _sql("UPDATE manifest SET value = '99' WHERE key = 'vector_count'"),
        "the manifest says 99",
    ),
    Case(
        "manifest-dimension",
        _sql("UPDATE manifest SET value = '768' WHERE key = 'dim'"),
        "the manifest says 768",
        plain="refuses",
    ),
    Case(
        "manifest-chunker",
        _sql("UPDATE manifest SET value = 'ingest-0' WHERE key = 'chunker'"),
        "",  # the stored passages still match their citations: `qa ask` works
        ask_exit=0,
        check_says="built by chunker ingest-0",
    ),
    Case(
        "manifest-model",
        _sql("UPDATE manifest SET value = 'other/model' WHERE key = 'model'"),
        "other/model",
        ask_exit=1,  # the index's own model cannot be loaded (qa/search/searcher.py, see report)
        check_says="not in the embedding cache of model other/model",
    ),
    Case(
        # The text is not stored (schema 6): a passage shows body[start:end], so the
        # damage that can make it show other words is to its offsets (or the body).
        "passage-offsets-edited",
        _sql('UPDATE passages SET "end" = "end" - 3 WHERE id = 3'),
        "",
        ask_exit=0,  # shows the slice its offsets give; --check finds it is not as indexed
        check_says="do not match their document text",
        plain="ignores",  # not checked on every run; --check finds it
    ),
    Case(
        "newer-schema",
        _sql("PRAGMA user_version = 99"),
        "written by a newer Pilcrow",
        plain="refuses",
    ),
    Case(
        "garbage-sqlite-header",
        _garbage_sqlite_header,
        "not a readable index database",
        plain="refuses",
    ),
    Case(
        "garbage-sqlite-pages",
        _garbage_sqlite_pages,
        "index database is damaged",
        plain="refuses",
    ),
    Case("truncated-sqlite", _truncate_sqlite, "pilcrow.sqlite", plain="refuses"),
    Case(
        "foreign-sqlite",
        _foreign_sqlite,
        "a foreign SQLite database, not a Pilcrow index",
        plain="refuses",
    ),
]


def _no_traceback(result) -> None:  # type: ignore[no-untyped-def]
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )


def _healthy(index: Path, expected) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    result = runner.invoke(cli, ["index", "--check", "--index", str(index), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"]
    result = runner.invoke(cli, ["ask", QUESTION, "--index", str(index), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results"][0]["citation"] == "07MOSCOW5292 ¶3"
    assert snapshot(index).content() == expected.content()  # type: ignore[union-attr]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_damaged_index_gives_a_clear_error_and_the_fix_works(
    case: Case, seed_index: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    expected = snapshot(seed_index)
    case.damage(index)
    runner = CliRunner()

    result = runner.invoke(cli, ["ask", QUESTION, "--index", str(index), "--json"])
    _no_traceback(result)
    assert result.exit_code == case.ask_exit, result.output
    if case.ask_exit:
        message = result.stderr
        assert message.startswith("Error: ") and message.count("\n") == 1, message
        assert case.says in message
        if case.ask_exit == 5:
            assert "qa index --rebuild" in message or "run `qa index`" in message
    else:
        data = json.loads(result.stdout)  # and whatever it cites is what the index stores
        cited = {r["citation"]: r["text"] for r in data["results"]}
        stored = snapshot(index)
        assert stored is not None
        for citation, text in cited.items():
            assert stored.citations()[citation] == text

    result = runner.invoke(cli, ["index", "--check", "--index", str(index)])
    _no_traceback(result)
    assert result.exit_code == 5, result.output
    assert (case.check_says or case.says) in result.stderr
    assert "qa index" in result.stderr
    result = runner.invoke(cli, ["index", "--check", "--index", str(index), "--json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 5 and not report["ok"] and report["problems"]

    result = runner.invoke(cli, ["index", "--corpus", str(SEEDS), "--index", str(index)])
    _no_traceback(result)
    if case.plain == "repairs":
        assert result.exit_code == 0, result.output
        _healthy(index, expected)
        return
    if case.plain == "refuses":
        assert result.exit_code == 5, result.output
        assert result.stderr.startswith("Error: ") and "qa index --rebuild" in result.stderr
    else:
        assert result.exit_code == 0, result.output

    result = runner.invoke(
        cli, ["index", "--rebuild", "--corpus", str(SEEDS), "--index", str(index)]
    )
    _no_traceback(result)
    assert result.exit_code == 0, result.output
    _healthy(index, expected)
    if "sqlite" in case.name or case.name == "newer-schema":  # moved aside, never deleted
        assert "moved it to pilcrow.sqlite.damaged-" in result.stderr
        assert list(index.glob("pilcrow.sqlite.damaged-*"))


def test_check_on_a_missing_index_says_there_is_none(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["index", "--check", "--index", str(tmp_path / "none")])
    assert result.exit_code == 4
    assert result.stderr.startswith("Error: no index at")


def test_rebuild_keeps_a_foreign_database(seed_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    index.mkdir()
    _foreign_sqlite(index)
    result = CliRunner().invoke(
        cli, ["index", "--rebuild", "--corpus", str(SEEDS), "--index", str(index)]
    )
    assert result.exit_code == 0, result.output
    (moved,) = index.glob("pilcrow.sqlite.damaged-*")  # alone: it was never written to
    db = sqlite3.connect(moved)
    assert db.execute("SELECT phone FROM contacts").fetchone() == ("555-0100",)
    db.close()
