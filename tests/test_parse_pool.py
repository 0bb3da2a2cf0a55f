"""Corpus files read and parsed on every core: the same rows, in listing order, as one process."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from qa.factory import build_index
from qa.index.parsing import POOL_MIN_FILES, Outcome, ToRead, read_all
from qa.index.sources import FileSource, file_sources
from qa.locations import db_path
from tests.conftest import CABLES

TOPICS = ["wheat harvest", "naval patrols", "border crossings", "election monitors", "oil tariffs"]


def article_corpus(root: Path, count: int) -> Path:
    """``count`` small articles, two paragraphs each, plus one id clash (``dup/a000``)."""
    root.mkdir()
    for n in range(count):
        topic = TOPICS[n % len(TOPICS)]
        (root / f"a{n:03d}.txt").write_text(
            f"Report {n} on {topic}\n\nOfficials discussed {topic} in region {n} on Monday.\n\n"
            f"A second paragraph gives figure {n * 7} for {topic}.\n",
            encoding="utf-8",
        )
    (root / "dup").mkdir()
    (root / "dup" / "a000.txt").write_text("Clash\n\nSame id as a000.\n", encoding="utf-8")
    settle(root, OLD)
    return root


OLD = 1_600_000_000  # a time long past: a stat that is not "racily clean" (git's rule)


def settle(root: Path, when: int) -> None:
    """Give every file of ``root`` the modification time ``when``."""
    for path in root.rglob("*.txt"):
        os.utime(path, (when, when))


def outcome_rows(outcome: Outcome) -> tuple[object, ...]:
    """What an outcome says, comparable across processes."""
    item = outcome.item
    rows = (
        ()
        if item is None
        else tuple((r.passage.label, r.text_hash, r.view_hashes, r.search_text) for r in item.rows)
    )
    doc_id = item.doc.doc_id if item is not None else None
    return (outcome.key, outcome.digest, outcome.error, doc_id, rows)


def test_a_pool_reads_cables_in_listing_order_as_one_process_does(tmp_path: Path) -> None:
    corpus = tmp_path / "cables"
    corpus.mkdir()
    for page in sorted(CABLES.glob("*/*/*.html"))[: POOL_MIN_FILES + 6]:
        shutil.copy(page, corpus / page.name)
    os.mkfifo(corpus / "pipe.html")  # an entry named like a page that is no file
    sources = [s for s in file_sources(corpus) if isinstance(s, FileSource)]
    recorded = sources[3].digest()  # one source as recorded: hashed, not parsed
    jobs = [ToRead(s, recorded if i == 3 else None) for i, s in enumerate(sources)]
    alone = [outcome_rows(o) for o in read_all(jobs, workers=1)]
    pooled = [outcome_rows(o) for o in read_all(jobs, workers=2)]
    assert pooled == alone
    assert [row[0] for row in pooled] == [s.key for s in sources]
    assert pooled[3][1] == recorded and pooled[3][3] is None  # known bytes: not parsed
    errors = [row[2] for row in pooled if row[2]]
    assert errors == ["pipe.html: not a regular file"]
    parsed_ids = {row[3] for row in pooled if row[3]}
    assert len(parsed_ids) == len(sources) - 2 and "09TELAVIV1098" not in errors


def passages_of(index: Path) -> list[tuple[object, ...]]:
    db = sqlite3.connect(db_path(index))
    try:
        return db.execute(
            "SELECT d.doc_id, d.source, p.seq, p.label, p.text_hash, p.view_hashes"
            " FROM passages p JOIN documents d ON d.id = p.document_id ORDER BY p.id"
        ).fetchall()
    finally:
        db.close()


def test_a_build_parsed_by_workers_equals_one_parsed_in_process(  # type: ignore[no-untyped-def]
    tmp_path: Path, monkeypatch, caplog
) -> None:
    corpus = article_corpus(tmp_path / "corpus", POOL_MIN_FILES + 6)
    monkeypatch.setenv("PILCROW_PARSE_WORKERS", "1")
    alone = build_index(corpus, tmp_path / "alone")
    monkeypatch.setenv("PILCROW_PARSE_WORKERS", "2")
    pooled = build_index(corpus, tmp_path / "pooled")
    assert pooled.added == alone.added == POOL_MIN_FILES + 6
    assert pooled.skipped == alone.skipped == 1  # the clash, named the same both ways
    clash = "dup/a000.txt: document id a000 already comes from a000.txt"
    assert [r.getMessage() for r in caplog.records].count(clash) == 2
    assert passages_of(tmp_path / "pooled") == passages_of(tmp_path / "alone")
    assert len(passages_of(tmp_path / "pooled")) == 3 * (POOL_MIN_FILES + 6)  # title, ¶1, ¶2
    again = build_index(corpus, tmp_path / "pooled")  # nothing changed: nothing read
    # Only the clash is read again: its document is not indexed, so its stat is not kept.
    assert (again.unchanged, again.files_read, again.added) == (POOL_MIN_FILES + 6, 1, 0)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_touched_files_are_hashed_not_parsed(  # type: ignore[no-untyped-def]
    tmp_path: Path, monkeypatch, workers: str
) -> None:
    corpus = article_corpus(tmp_path / "corpus", POOL_MIN_FILES + 1)
    monkeypatch.setenv("PILCROW_PARSE_WORKERS", workers)
    build_index(corpus, tmp_path / "index")
    (corpus / "a001.txt").write_text("Changed\n\nA new paragraph entirely.\n", encoding="utf-8")
    settle(corpus, OLD + 60)  # every file a new stat; one of them new bytes
    summary = build_index(corpus, tmp_path / "index")
    assert (summary.changed, summary.added, summary.unchanged) == (1, 0, POOL_MIN_FILES)
    assert summary.files_read == POOL_MIN_FILES + 2  # all of them, and the clash


_ORPHAN_SCRIPT = """
import multiprocessing, os, signal, sys, time
from concurrent.futures import ProcessPoolExecutor
from qa.index.children import die_with_parent

if __name__ == "__main__":
    pool = ProcessPoolExecutor(
        2,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    )
    futures = [pool.submit(time.sleep, 30) for _ in range(4)]
    time.sleep(3)  # the workers are up and busy
    print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not status.exists() or "State:\tZ" not in status.read_text()


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="Linux only (PR_SET_PDEATHSIG)")
def test_pool_workers_die_with_a_killed_run(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    script = tmp_path / "killed_run.py"
    script.write_text(_ORPHAN_SCRIPT, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -9, proc.stderr
    workers = [int(pid) for pid in proc.stdout.split()]
    assert len(workers) == 2
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if _alive(pid)]
