"""The synthetic release (benchmarks/synth_release.py) and its stand-in embedder.

The release benchmark's figures are only worth as much as its corpus is like the real
one and its stand-in like the model: pages that Pilcrow parses as they were written
(ids, dates, paragraph labels, REF targets), the sample's share of cables without
numbered paragraphs, one output per seed, and vectors close to the real vector of the
sample paragraph each window was drawn from.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import synth_release
from benchmarks.release_profile import Profile, measure
from benchmarks.standin import StandInEmbedder, base_vectors, sources_paths
from tests.conftest import CABLES, cable_path

SMALL_SAMPLE = ["09TELAVIV1098", "10USNATO52", "09BEIJING1970", "06PARIS2069"]
_ANCHOR = re.compile(r"<a id='par(\d+)' href='#par\d+'>¶</a>\d+\.")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few real cables in the corpus layout (YYYY/MM/<ID>.html)."""
    root = tmp_path_factory.mktemp("sample")
    for doc_id in SMALL_SAMPLE:
        src = cable_path(doc_id)
        dst = root / src.relative_to(CABLES)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
    return root


@pytest.fixture(scope="module")
def generated(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("release") / "corpus"
    report = synth_release.generate(30, out, seed=7, sample=sample, workers=1)
    return out, report


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.html"))}


def test_one_seed_gives_identical_bytes(
    sample: Path, generated: tuple[Path, Any], tmp_path: Path
) -> None:
    out, _ = generated
    again = tmp_path / "corpus"
    synth_release.generate(30, again, seed=7, sample=sample, workers=2)  # and other workers
    assert _files(again) == _files(out)
    assert len(_files(out)) == 30
    for first, second in zip(sources_paths(out), sources_paths(again), strict=True):
        assert first.read_bytes() == second.read_bytes()
        assert not first.is_relative_to(out)  # beside the corpus, never inside it


def test_pages_parse_as_written(generated: tuple[Path, Any]) -> None:
    from qa.ingest import parse_file

    out, report = generated
    assert report["generated"]["kept_disagreeing"] == 0
    profile, plan = synth_release.prepare(Path(report["sample"]), 30, 7, out)
    for i in range(30):
        meta = plan.meta(profile, i)
        path = out / meta.path
        doc = parse_file(path, root=out)
        assert doc.doc_id == meta.doc_id == path.stem
        assert re.fullmatch(r"\d{2}[A-Z][A-Z-]*\d+", doc.doc_id)
        assert doc.date == meta.created and doc.origin == meta.origin.name
        cable, *_ = synth_release.make_cable(i)
        labels = [p.label for p in doc.passages if p.paragraph is not None]
        assert tuple(labels) == cable.labels
        written = {int(n) for n in _ANCHOR.findall(path.read_text())}
        numbers = {p.paragraph for p in doc.passages if p.paragraph is not None}
        if cable.mode == "anchors":  # each one anchored, but for a rare skipped marker
            assert len(numbers - written) <= 1
        else:
            assert not written


def test_ref_lines_name_generated_cables(generated: tuple[Path, Any]) -> None:
    from qa.ingest import parse_file

    out, _ = generated
    ids = {p.stem for p in out.rglob("*.html")}
    targets = [
        r.target
        for path in out.rglob("*.html")
        for r in parse_file(path, root=out).references
        if r.target
    ]
    assert targets, "no REF lines were generated"
    assert set(targets) <= ids


@pytest.fixture(scope="module")
def full_profile() -> Profile:
    return measure(CABLES)


def test_share_without_numbered_paragraphs_is_the_samples(
    full_profile: Profile, tmp_path: Path
) -> None:
    """Over the whole sample's profile: pages without ¶ anchors and cables that parse
    without numbered paragraphs come at the sample's rates (binomial bounds)."""
    out = tmp_path / "corpus"
    report = synth_release.generate(600, out, 3, CABLES, workers=2, profile=full_profile)
    sample, made = report["profile"]["rates"], report["generated"]["rates"]
    for rate in ("no_anchor", "unnumbered"):
        p = sample[rate]
        bound = 4 * (p * (1 - p) / 600) ** 0.5 + 1 / 600
        assert abs(made[rate] - p) <= bound, (rate, made[rate], p)
    assert abs(made["refs"] - sample["refs"]) < 0.1
    assert round(sample["no_anchor"] * 1295) == 25  # measured: the README's 25 cables
    assert 0 < sample["repeat"] < 0.01 and 0 < sample["skip"] < 0.02


def test_ids_are_unique_at_release_scale(full_profile: Profile) -> None:
    plan = synth_release.make_plan(full_profile, 250_000, seed=5)
    ids = [plan.meta(full_profile, i).doc_id for i in range(250_000)]
    assert len(set(ids)) == len(ids)


def test_standin_is_close_to_the_source_vectors(
    generated: tuple[Path, Any], sample: Path, tmp_path: Path
) -> None:
    from qa.factory import build_index
    from qa.index.rows import parsed
    from qa.ingest import parse_file

    out, _ = generated
    base = tmp_path / "base"
    build_index(sample, base)  # the real model over the sample
    stand_in = StandInEmbedder.load(out, base)
    views = [row[3] for row in json.loads(sources_paths(out)[1].read_text())["views"]]
    _, real, found = base_vectors(base, views)
    assert found.all()
    texts = [
        text
        for path in sorted(out.rglob("*.html"))
        for text in parsed(parse_file(path, root=out), "").texts.values()
    ]
    vectors = stand_in.embed(texts)
    assert vectors.shape == (len(texts), stand_in.dim) and stand_in.unmapped == 0
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    _, src, _ = stand_in.sources(texts)
    cosines = (vectors * real[src]).sum(axis=1)
    assert cosines.min() > 0.8, cosines.min()
    assert np.array_equal(stand_in.embed(texts[:5]), vectors[:5])  # deterministic
    ranges = [[(0, 0, min(20, len(t)))] for t in texts[:3]]
    _, pooled = stand_in.embed_spans(texts[:3], ranges)
    assert all(s.shape == (1, stand_in.dim) and c[0] > 0 for s, c in pooled)
