"""Long runs are observable in a log: timed progress lines when stderr is not a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.cli.output import stderr
from qa.cli.progress import LineProgress, progress_line
from tests.conftest import ROOT


def test_a_progress_line_gives_stage_count_rate_and_eta() -> None:
    assert progress_line("embedding", 1200, 20311, 24.0) == (
        "embedding: 1,200/20,311 (5.9%) 50/s, eta 6m22s"
    )
    assert progress_line("embedding", 1_000_000, 3_900_000, 3600.0) == (
        "embedding: 1,000,000/3,900,000 (25.6%) 278/s, eta 2h54m"
    )
    assert progress_line("embedding", 10, 10, 2.0) == "embedding: 10/10 (100.0%) 5/s"
    assert progress_line("parsing", 0, 0, 0.0) == "parsing: 0/0 0/s"


def test_lines_come_at_the_interval_not_at_every_step(capsys: pytest.CaptureFixture[str]) -> None:
    now = [0.0]
    progress = LineProgress(30.0, clock=lambda: now[0])
    with stderr.capture() as captured:
        progress.start(1000, "embedding")
        for _ in range(100):  # 100 steps of 10 texts, one second apart
            now[0] += 1.0
            progress.advance(10)
        progress.finish()
    lines = captured.get().splitlines()
    assert lines == [
        "embedding: 0/1,000",
        "embedding: 300/1,000 (30.0%) 10/s, eta 1m10s",
        "embedding: 600/1,000 (60.0%) 10/s, eta 0m40s",
        "embedding: 900/1,000 (90.0%) 10/s, eta 0m10s",
        "embedding: 1,000/1,000 (100.0%) 10/s — done",
    ]


def test_qa_index_writes_progress_lines_into_a_log_file(tmp_path: Path) -> None:
    log = tmp_path / "index.log"
    env = {**os.environ, "PILCROW_PROGRESS_SECONDS": "0"}
    with log.open("w") as handle:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "qa",
                "index",
                "--corpus",
                str(ROOT / "corpus"),
                "--index",
                str(tmp_path / "index"),
            ],
            stderr=handle,
            stdout=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
            timeout=300,
        )
    assert done.returncode == 0
    lines = log.read_text().splitlines()
    assert lines[0] == "embedding: 0/17"
    assert "embedding: 17/17 (100.0%)" in lines[-2] and lines[-2].endswith("— done")
    assert lines[-1].startswith("2 documents, 17 passages")
    assert "\x1b" not in log.read_text()  # no bar, no escape codes in a log
