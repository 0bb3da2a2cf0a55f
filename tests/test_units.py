"""The embedding stage's units: planning (pure) and their rows for Ray, exact both ways.

Also the one-line refusals of ``--ray`` without Ray and ``--device cuda`` without a GPU,
which need neither (the Ray runs themselves are in ``test_ray.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from qa.cli import cli
from qa.factory import shared_embedder
from qa.highlight import SentenceJob
from qa.index.units import (
    Unit,
    compute_unit,
    plan_units,
    result_of_row,
    result_row,
    unit_of_row,
    unit_row,
    unit_size_for,
)
from tests.conftest import SEEDS


def _job(key: str, *views: str) -> SentenceJob:
    return SentenceJob(
        key=key,
        text=" ".join(views),
        search_text=" ".join(views),
        prefix="Title",
        views=views,
        view_hashes=tuple(f"{key}-{i}" for i in range(len(views))),
        spans=((0, 5), (6, 11)),
        ranges=tuple(((0, 0, 5), (1, 6, 11)) for _ in views),
    )


def test_plan_units_longest_first_never_splitting_a_job() -> None:
    jobs = [_job("short", "a b"), _job("long", "x" * 90, "y" * 80), _job("mid", "m" * 40)]
    views = [("v1", "tiny"), ("v2", "a much longer view text"), ("v3", "middling text")]
    units = plan_units(jobs, views, per_unit=2)
    assert [u.number for u in units] == [0, 1, 2, 3]
    assert [[j.key for j in u.jobs] for u in units[:2]] == [["long"], ["mid", "short"]]
    assert [[h for h, _ in u.views] for u in units[2:]] == [["v2", "v3"], ["v1"]]
    assert [u.size for u in units] == [2, 2, 2, 1]


def test_unit_size_spreads_work_over_the_workers() -> None:
    assert unit_size_for(100_000, workers=2, cache_batch=512) == 512
    assert unit_size_for(20_000, workers=64, cache_batch=512) == 40
    assert unit_size_for(100, workers=64, cache_batch=512) == 32  # floor: per-call cost
    assert unit_size_for(100, workers=2, cache_batch=16) == 16  # never above a cache batch


def test_unit_rows_round_trip_exactly() -> None:
    unit = Unit(7, jobs=(_job("k", "first view", "second ¶ view"),))
    assert unit_of_row(unit_row(unit)) == unit
    plain = Unit(3, views=(("h1", "text one"), ("h2", "two")))
    assert unit_of_row(unit_row(plain)) == plain


def test_results_round_trip_bit_for_bit() -> None:
    embedder = shared_embedder("all-MiniLM-L6-v2")
    text = (SEEDS / "07MOSCOW5292.txt").read_text(encoding="utf-8")[:600]
    unit = Unit(0, jobs=(_job("seed", text[:300], text[300:]),))
    result = compute_unit(embedder, unit)
    assert result.vectors.shape == (2, embedder.dim)
    assert result.sentences and result.sentences[0][0] == "seed"
    back = result_of_row(result_row(result))
    assert back.hashes == result.hashes == ["seed-0", "seed-1"]
    assert back.vectors.tobytes() == result.vectors.tobytes()
    (key, got), (_, want) = back.sentences[0], result.sentences[0]
    assert key == "seed" and got.spans == want.spans
    assert np.asarray(got.vectors).tobytes() == np.asarray(want.vectors).tobytes()


def test_ray_without_ray_installed_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    result = CliRunner().invoke(
        cli, ["index", "--corpus", str(SEEDS), "--index", str(tmp_path / "i"), "--ray"]
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "Error: Ray is not installed: pip install 'pilcrow[ray]' (in a checkout: make setup-ray)"
    ]
    assert not (tmp_path / "i").exists()


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_device_cuda_without_a_gpu_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    args = ["index", "--corpus", str(SEEDS), "--index", str(tmp_path / "i")]
    if how == "flag":
        args += ["--device", "cuda"]
    else:
        monkeypatch.setenv("PILCROW_DEVICE", "cuda")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--device cuda: no CUDA GPU is usable here" in lines[0]
    assert not (tmp_path / "i").exists()


def test_model_processes_give_the_local_vectors_bit_for_bit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qa.index.model_pool import PooledUnits, runner_for
    from qa.index.units import LocalUnits

    embedder = shared_embedder("all-MiniLM-L6-v2")
    text = (SEEDS / "china-finds-eager-space-partners.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if len(line) > 40]
    jobs = [_job(f"j{i}", line) for i, line in enumerate(lines[:6])]
    views = [(f"v{i}", line[::-1]) for i, line in enumerate(lines)]
    units = plan_units(jobs, views, per_unit=3)
    here = {r.number: r for r in LocalUnits(embedder).run(units, lambda n: None)}
    done: list[int] = []
    pooled = {r.number: r for r in PooledUnits(embedder.name, 2).run(units, done.append)}
    assert sorted(pooled) == sorted(here) == list(range(len(units)))
    assert sum(done) == sum(u.size for u in units)
    for number, mine in here.items():
        theirs = pooled[number]
        assert theirs.hashes == mine.hashes
        assert theirs.vectors.tobytes() == mine.vectors.tobytes()
        assert [(k, v.spans, v.vectors.tobytes()) for k, v in theirs.sentences] == [
            (k, v.spans, v.vectors.tobytes()) for k, v in mine.sentences
        ]
    monkeypatch.setenv("PILCROW_EMBED_WORKERS", "2")
    assert isinstance(runner_for(embedder, 50_000, "cpu"), PooledUnits)
    assert isinstance(runner_for(embedder, 10, "cpu"), LocalUnits)  # too little to pool
    assert isinstance(runner_for(embedder, 50_000, "cuda"), LocalUnits)  # a GPU's model


def test_a_bad_device_name_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PILCROW_DEVICE", "gpu")
    result = CliRunner().invoke(
        cli, ["index", "--corpus", str(SEEDS), "--index", str(tmp_path / "i")]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: device 'gpu' is not one of cpu, cuda (--device or PILCROW_DEVICE)"
    ]


def test_a_model_that_cannot_pool_embeds_a_job_units_views_alone() -> None:
    from qa.embed import load_torch_embedder

    torch_model = load_torch_embedder("all-MiniLM-L6-v2")  # no span pooling (onnx only)
    unit = Unit(4, jobs=(_job("a", "first view text", "second view text"),))
    result = compute_unit(torch_model, unit)
    assert result.number == 4 and result.hashes == ["a-0", "a-1"]
    assert result.vectors.shape == (2, torch_model.dim) and result.sentences == []
    want = shared_embedder("all-MiniLM-L6-v2").embed(["first view text", "second view text"])
    assert float(np.min(np.sum(result.vectors * want, axis=1))) > 0.9999


def test_an_unreachable_ray_address_is_refused_at_once() -> None:
    from qa.errors import UsageError
    from qa.index.ray_stage import check_reachable

    with pytest.raises(UsageError) as refused:
        check_reachable("127.0.0.1:1")  # nothing listens on port 1
    assert str(refused.value) == (
        "cannot reach the Ray cluster at 127.0.0.1:1 (Connection refused); is "
        "`ray start --head` running there? (docs/scale.md)"
    )
    for left_to_ray in ("local", "auto", "ray://head:10001"):
        check_reachable(left_to_ray)
