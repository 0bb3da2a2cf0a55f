"""``qa index --ray``: the embedding stage on Ray Data, real Ray clusters on this machine.

Marked ``ray`` (``make test-ray``; CI runs it after the default suite): each test starts
a cluster (a few seconds) and needs ``pilcrow[ray]``. The corpus is the seeds plus the
sample cables, cut into many small units (``PILCROW_EMBED_BATCH=16``) so that work
spreads and a killed worker or driver has units before and after it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import cli
from qa.factory import build_index, open_searcher
from qa.index import RunOptions
from tests.conftest import ROOT, SEEDS

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.ray

UNIT = "16"  # views per unit (and cache batch): many units from a small corpus
QUESTIONS = [
    "Did Beijing want one of its astronauts aboard the space station?",
    "What did Ukraine agree with China?",
    "How much did Kazakhstan seek in damages?",
]


@pytest.fixture(autouse=True)
def _small_units(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PILCROW_EMBED_BATCH", UNIT)


@pytest.fixture(scope="module")
def corpus(cables_corpus: Path) -> Path:
    """The seeds and the sample cables (read only here)."""
    return cables_corpus


@pytest.fixture(scope="module")
def local_index(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same corpus indexed without Ray: what every Ray run must reproduce."""
    index = tmp_path_factory.mktemp("local-index")
    os.environ["PILCROW_EMBED_BATCH"] = UNIT
    try:
        build_index(corpus, index)
    finally:
        del os.environ["PILCROW_EMBED_BATCH"]
    return index


@pytest.fixture
def two_nodes() -> Iterator[str]:
    """A cluster of two Ray nodes of one CPU each (``ray.cluster_utils.Cluster``)."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        yield str(cluster.address)
    finally:
        ray.shutdown()
        cluster.shutdown()


def _cache(index: Path) -> dict[str, set[tuple[object, ...]]]:
    db = sqlite3.connect(index / "pilcrow.sqlite")
    try:
        return {
            "embeddings": set(db.execute("SELECT model, text_hash, scale, vector FROM embeddings")),
            "sentences": set(db.execute("SELECT * FROM sentence_vectors")),
        }
    finally:
        db.close()


def _answers(index: Path) -> list[list[tuple[str, int | None]]]:
    searcher = open_searcher(index)
    try:
        return [
            [(h.doc_id, h.paragraph) for h in searcher.ask(q, k=5, highlight=False).hits]
            for q in QUESTIONS
        ]
    finally:
        searcher.close()


def _view_count(index: Path) -> int:
    db = sqlite3.connect(index / "pilcrow.sqlite")
    try:
        hashes = {
            h for (row,) in db.execute("SELECT view_hashes FROM passages") for h in row.split()
        }
    finally:
        db.close()
    return len(hashes)


def test_ray_run_equals_the_local_run(corpus: Path, local_index: Path, tmp_path: Path) -> None:
    index = tmp_path / "ray-index"
    summary = build_index(corpus, index, options=RunOptions(ray_address="local"))
    assert not ray.is_initialized()  # the run started a local Ray and shut it down
    assert summary.passages_embedded == _view_count(local_index) > 100
    assert sum(summary.embedded_on.values()) == summary.passages_embedded
    assert summary.embed_restarts == 0
    assert _cache(index) == _cache(local_index)  # bit for bit: vectors and sentences
    assert _answers(index) == _answers(local_index)
    assert _answers(index)[0][0] == ("07MOSCOW5292", 5)


def test_two_nodes_share_the_work_and_survive_a_killed_worker(
    corpus: Path,
    local_index: Path,
    tmp_path: Path,
    two_nodes: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PILCROW_TEST_KILL_AT", "worker:3")  # SIGKILL inside the 3rd unit
    monkeypatch.setenv("PILCROW_GENERATION_PASSAGES", "60")  # parts: a pool per part
    index = tmp_path / "ray-index"
    summary = build_index(corpus, index, options=RunOptions(ray_address=two_nodes))
    assert summary.embed_restarts >= 1
    assert len(summary.embedded_on) == 2, summary.embedded_on  # both nodes embedded
    assert min(summary.embedded_on.values()) > 0
    assert sum(summary.embedded_on.values()) == summary.passages_embedded
    assert _cache(index) == _cache(local_index)  # every view once, as the local run has it
    assert _answers(index) == _answers(local_index)


def _qa_index(corpus: Path, index: Path, **env: str) -> subprocess.CompletedProcess[str]:
    command = ["index", "--corpus", str(corpus), "--index", str(index), "--ray", "--json"]
    return subprocess.run(
        [sys.executable, "-m", "qa", *command],
        cwd=ROOT,
        env={**os.environ, "PILCROW_EMBED_BATCH": UNIT, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_killed_driver_resumes_without_embedding_again(
    corpus: Path, local_index: Path, tmp_path: Path
) -> None:
    growing = tmp_path / "corpus"
    growing.mkdir()
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, growing / seed.name)
    index = tmp_path / "index"
    build_index(growing, index)  # generation 1: the seeds
    shutil.copytree(corpus, growing, dirs_exist_ok=True)

    killed = _qa_index(growing, index, PILCROW_TEST_KILL_AT="embedded:3")
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert _answers(index)[0][0] == ("07MOSCOW5292", 5)  # the old generation still answers

    resumed = _qa_index(growing, index)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout)
    new_views = _view_count(local_index) - 17  # the seeds' 17 were embedded before
    assert 0 < summary["passages_embedded"] <= new_views - 3 * int(UNIT)
    assert _cache(index) == _cache(local_index)
    assert _answers(index) == _answers(local_index)


def test_device_cuda_on_a_cluster_without_gpus_is_one_line(tmp_path: Path) -> None:
    index = tmp_path / "i"
    result = CliRunner().invoke(
        cli, ["index", "--corpus", str(SEEDS), "--index", str(index), "--ray", "--device", "cuda"]
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
        "Error: --device cuda: the Ray cluster at local has no GPU (`ray status` "
        "lists its resources)"
    ]
