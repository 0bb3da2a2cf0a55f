"""A big update is committed in parts (bounded memory); the result is the one-shot build's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from qa.check import check_index
from qa.cli.output import print_index_summary
from qa.factory import build_index, open_searcher
from qa.index.report import IndexSummary, resumed_note
from qa.store import Manifest
from tests.test_reliability_crash import snapshot

QUESTION = "How many Israeli judges are under 24-hour police guard?"


@pytest.fixture(scope="module")
def one_shot(cables_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    index = tmp_path_factory.mktemp("one-shot")
    assert build_index(cables_corpus, index).generation == 1
    return index


def run_index(
    corpus: Path, index: Path, *extra: str, kill_at: str = ""
) -> subprocess.CompletedProcess[str]:
    """``qa index`` as a process, in parts of 25 passages, killed at ``kill_at`` if given."""
    env = {**os.environ, "PILCROW_GENERATION_PASSAGES": "25"}
    if kill_at:
        env["PILCROW_TEST_KILL_AT"] = kill_at
    command = [sys.executable, "-m", "qa", "index", "--corpus", str(corpus), "--index"]
    return subprocess.run(
        [*command, str(index), *extra], env=env, capture_output=True, text=True, timeout=600
    )


def top(index: Path) -> tuple[str, tuple[int, int] | None]:
    searcher = open_searcher(index)
    try:
        hit = searcher.ask(QUESTION, k=1).hits[0]
    finally:
        searcher.close()
    return hit.citation, hit.highlight


def test_first_build_in_parts_equals_the_one_shot_build(  # type: ignore[no-untyped-def]
    cables_corpus: Path, one_shot: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("PILCROW_GENERATION_PASSAGES", "25")
    summary = build_index(cables_corpus, tmp_path / "parts")
    whole, parts = snapshot(one_shot), snapshot(tmp_path / "parts")
    assert whole is not None and parts is not None
    assert summary.generation > 2  # several commits, one per ~25 passages
    assert parts.content() == whole.content()
    assert summary.added == len(whole.documents)
    assert check_index(tmp_path / "parts").ok
    assert top(tmp_path / "parts") == top(one_shot)
    again = build_index(cables_corpus, tmp_path / "parts")
    assert (again.generation, again.passages_embedded) == (summary.generation, 0)


def test_killed_build_in_parts_keeps_its_parts_and_finishes(
    cables_corpus: Path, one_shot: Path, tmp_path: Path
) -> None:
    index = tmp_path / "killed"
    killed = run_index(cables_corpus, index, kill_at="committed:2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    kept, whole = snapshot(index), snapshot(one_shot)
    assert kept is not None and whole is not None
    assert kept.generation == 2 and 0 < len(kept.documents) < len(whole.documents)
    assert kept.documents <= whole.documents  # whole documents, as committed
    assert check_index(index).ok
    assert manifest_of(index).parts_pending == 2  # recorded with the part's commit
    finished = run_index(cables_corpus, index, "--json")
    assert finished.returncode == 0, finished.stderr
    final = snapshot(index)
    assert final is not None and final.content() == whole.content()
    done, to_go = len(kept.documents), len(whole.documents) - len(kept.documents)
    assert json.loads(finished.stdout)["resumed"] == (
        f"resuming a build that stopped after part 2: {done:,} documents already "
        f"committed, {to_go:,} to go"
    )
    assert manifest_of(index).parts_pending == 0
    again = run_index(cables_corpus, index)
    assert again.returncode == 0, again.stderr
    assert "resuming" not in again.stderr and "note:" not in again.stderr


def test_resumed_note_is_one_stderr_line(capsys: pytest.CaptureFixture[str]) -> None:
    note = resumed_note(2, 1234, 567)
    print_index_summary(IndexSummary(resumed=note, documents=1801, generation=3))
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines()[0] == (
        "note: resuming a build that stopped after part 2: 1,234 documents already "
        "committed, 567 to go"
    )


def manifest_of(index: Path) -> Manifest:
    from qa import store
    from qa.locations import db_path

    db = store.connect(db_path(index), readonly=True)
    try:
        return store.read_manifest(db)
    finally:
        db.close()


def test_rename_committed_in_an_early_part(  # type: ignore[no-untyped-def]
    cables_corpus: Path, tmp_path: Path, fresh_copy, monkeypatch
) -> None:
    corpus = fresh_copy(cables_corpus, "corpus")
    monkeypatch.setenv("PILCROW_GENERATION_PASSAGES", "25")
    index = tmp_path / "index"
    build_index(corpus, index)
    (corpus / "10USNATO52.html").rename(corpus / "00-first.html")  # now parsed first
    update = build_index(corpus, index)
    assert (update.added, update.removed) == (1, 1)
    monkeypatch.setenv("PILCROW_GENERATION_PASSAGES", "100000000")
    one_shot = build_index(corpus, tmp_path / "one-shot")
    parts, whole = snapshot(index), snapshot(tmp_path / "one-shot")
    assert parts is not None and whole is not None and parts.content() == whole.content()
    assert manifest_of(index).lexicon_passages == one_shot.passages


def test_killed_reparse_in_parts_reparses_the_rest(  # type: ignore[no-untyped-def]
    cables_corpus: Path, one_shot: Path, tmp_path: Path, fresh_copy
) -> None:
    import sqlite3

    from qa.locations import db_path

    index = fresh_copy(one_shot, "index")
    with sqlite3.connect(db_path(index)) as raw:
        raw.execute("UPDATE manifest SET value = '0-old' WHERE key = 'chunker'")
    killed = run_index(cables_corpus, index, kill_at="committed:1")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert manifest_of(index).chunker == "0-old"  # the re-parse is not done yet
    rerun = run_index(cables_corpus, index, "--json")
    assert rerun.returncode == 0, rerun.stderr
    assert "re-parsing" in rerun.stdout
    assert manifest_of(index).chunker != "0-old"
    final, whole = snapshot(index), snapshot(one_shot)
    assert final is not None and whole is not None and final.content() == whole.content()
