"""Shared fixtures: real model, real SQLite, real FAISS, built once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CABLES = SHARED / "corpus" / "cablegate"
SEEDS = ROOT / "corpus"


def cable_path(doc_id: str) -> Path:
    """The WikiLeaks page of one cable in ../shared."""
    matches = list(CABLES.glob(f"*/*/{doc_id}.html"))
    assert matches, f"{doc_id} not in {CABLES}"
    return matches[0]


# A few dozen real cables on varied topics, used where tests need more than the seeds.
SAMPLE_CABLES = [
    "09TELAVIV1098",
    "10USNATO52",
    "09BEIJING1970",
    "06PARIS2069",
    "01PRETORIA1173",
    "09BEIJING1247",
    "06LAPAZ906",
    "09PESHAWAR41",
    "09STATE37561",
]


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the two seed documents (read-only for tests: copy it to modify)."""
    from qa.factory import build_index

    index = tmp_path_factory.mktemp("seed-index")
    summary = build_index(SEEDS, index)
    assert summary.added == 2
    return index


@pytest.fixture(scope="session")
def cables_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus folder of the seeds plus the sample cables (copied, so tests may edit)."""
    corpus = tmp_path_factory.mktemp("cables-corpus")
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, corpus / seed.name)
    for doc_id in SAMPLE_CABLES:
        shutil.copy(cable_path(doc_id), corpus / f"{doc_id}.html")
    return corpus


@pytest.fixture
def fresh_copy(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Copy a corpus or index folder into this test's tmp dir."""

    def copy(src: Path, name: str) -> Path:
        dst = tmp_path / name
        shutil.copytree(src, dst)
        return dst

    return copy
