"""The embedding stage cut into units of work, the same for every executor.

A unit is what one model call embeds and one cache transaction keeps: either a group of
sentence jobs (their views' vectors and their sentences', from one pass: late chunking)
or a group of plain views. ``plan_units`` cuts the run's work into units longest first,
so each unit pads to similar lengths; the local path runs the units in this process and
Ray Data runs them on a cluster (``qa.index.ray_stage``), so both compute the same
batches. Units travel to Ray workers as plain rows (JSON text and float32 bytes, never
pickles of our objects), which ``unit_row``/``unit_of_row`` and
``result_row``/``result_of_row`` convert exactly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from qa import locations
from qa.embed import Embedder, SpanEmbedder
from qa.highlight import SentenceJob, embed_jobs
from qa.locations import embed_batch_size
from qa.models import SentenceVectors


@dataclass(frozen=True, slots=True)
class Unit:
    """One model call's work: sentence ``jobs`` or plain ``views`` ((hash, text) pairs)."""

    number: int
    jobs: tuple[SentenceJob, ...] = ()
    views: tuple[tuple[str, str], ...] = ()

    @property
    def size(self) -> int:
        """Views the unit embeds (what progress counts)."""
        return sum(len(job.views) for job in self.jobs) + len(self.views)


@dataclass(slots=True)
class UnitResult:
    """What a unit gave: view vectors (one row per hash) and sentence vectors by job key.

    ``worker`` names where it ran (``node <id>`` on Ray; empty otherwise)."""

    number: int
    hashes: list[str]
    vectors: np.ndarray
    sentences: list[tuple[str, SentenceVectors]] = field(default_factory=list)
    worker: str = ""


class UnitRunner(Protocol):
    """Where units run: here (``LocalUnits``), on model processes
    (``model_pool.PooledUnits``) or on Ray (``ray_stage.RayRunner``)."""

    def unit_size(self, total_views: int) -> int:
        """Views per unit for this runner."""
        ...

    def run(self, units: list[Unit], progress: Callable[[int], None]) -> Generator[UnitResult]:
        """Each unit's result once, in any order; ``progress`` told the views done."""
        ...


def worker_env() -> dict[str, str]:
    """What a model worker (a process of ours or a Ray actor) takes from the run's
    environment before it loads the model: the run's backend and caches, one thread
    (a worker per core)."""
    passed_on = (locations.EMBED_BACKEND.name, locations.ONNX_CACHE.name, "HF_HOME")
    env = {name: os.environ[name] for name in passed_on if name in os.environ}
    env[locations.THREADS.name] = "1"
    return env


class LocalUnits:
    """Runs units in this process with the run's loaded model, a cache batch each."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def unit_size(self, total_views: int) -> int:
        return embed_batch_size()

    def run(self, units: list[Unit], progress: Callable[[int], None]) -> Generator[UnitResult]:
        for unit in units:
            yield compute_unit(self._embedder, unit, progress)


def plan_units(
    jobs: Sequence[SentenceJob], views: Sequence[tuple[str, str]], per_unit: int
) -> list[Unit]:
    """Cut the work into units of about ``per_unit`` views, longest first.

    A job is never split (its sentences pool over all its views); sorting by the longest
    view keeps the texts of one unit close in length, so the model pads little.
    """
    per_unit = max(1, per_unit)
    units: list[Unit] = []
    by_length = sorted(jobs, key=lambda job: -max(map(len, job.views), default=0))
    group: list[SentenceJob] = []
    size = 0
    for job in by_length:
        group.append(job)
        size += len(job.views)
        if size >= per_unit:
            units.append(Unit(len(units), jobs=tuple(group)))
            group, size = [], 0
    if group:
        units.append(Unit(len(units), jobs=tuple(group)))
    longest = sorted(views, key=lambda view: -len(view[1]))
    for start in range(0, len(longest), per_unit):
        units.append(Unit(len(units), views=tuple(longest[start : start + per_unit])))
    return units


def unit_size_for(total_views: int, workers: int, cache_batch: int) -> int:
    """Views per unit on ``workers`` workers: at most ``cache_batch`` (one cache
    transaction), and small enough that each worker gets about eight units, so the
    last ones do not leave most workers idle; never under 32 (per-call overhead)."""
    spread = -(-total_views // max(1, 8 * workers))
    return max(1, min(cache_batch, max(32, spread)))


def compute_unit(
    embedder: Embedder, unit: Unit, progress: Callable[[int], None] | None = None
) -> UnitResult:
    """Run the model on one unit. A worker whose model cannot pool spans (torch on a
    GPU, where the run's own model could) embeds a job unit's views alone: its passages
    then get their sentence vectors at question time, as such a model's always do."""
    if unit.jobs and not isinstance(embedder, SpanEmbedder):
        views = {h: v for job in unit.jobs for h, v in zip(job.view_hashes, job.views, strict=True)}
        unit = Unit(unit.number, views=tuple(views.items()))
    if unit.jobs:
        assert isinstance(embedder, SpanEmbedder)
        by_hash, sentences = embed_jobs(embedder, unit.jobs, progress=progress)
        hashes = list(by_hash)
        stacked = np.stack([by_hash[h] for h in hashes]) if hashes else _empty(embedder.dim)
        return UnitResult(unit.number, hashes, stacked, sentences)
    vectors = embedder.embed([text for _, text in unit.views], progress=progress)
    return UnitResult(unit.number, [h for h, _ in unit.views], vectors)


def unit_row(unit: Unit) -> dict[str, Any]:
    """The unit as a row of plain values: its number and its work as JSON text."""
    payload = {
        "jobs": [_job_fields(job) for job in unit.jobs],
        "views": [list(view) for view in unit.views],
    }
    return {"number": unit.number, "size": unit.size, "payload": json.dumps(payload)}


def unit_of_row(row: dict[str, Any]) -> Unit:
    """The unit ``unit_row`` wrote."""
    payload = json.loads(str(row["payload"]))
    jobs = tuple(_job_of(fields) for fields in payload["jobs"])
    views = tuple((str(h), str(text)) for h, text in payload["views"])
    return Unit(int(row["number"]), jobs=jobs, views=views)


def result_row(result: UnitResult) -> dict[str, Any]:
    """The result as a row of plain values: JSON for keys and spans, float32 bytes."""
    dim = int(result.vectors.shape[1]) if result.vectors.ndim == 2 else 0
    sentence_blocks = [np.asarray(v.vectors, dtype=np.float32) for _, v in result.sentences]
    spans = [[key, [list(span) for span in v.spans]] for key, v in result.sentences]
    return {
        "number": result.number,
        "dim": dim,
        "hashes": json.dumps(result.hashes),
        "vectors": np.ascontiguousarray(result.vectors, dtype=np.float32).tobytes(),
        "spans": json.dumps(spans),
        "sentence_vectors": b"".join(block.tobytes() for block in sentence_blocks),
        "worker": result.worker,
    }


def result_of_row(row: dict[str, Any]) -> UnitResult:
    """The result ``result_row`` wrote, vectors bit for bit."""
    dim = int(row["dim"])
    hashes = [str(h) for h in json.loads(str(row["hashes"]))]
    vectors = np.frombuffer(bytes(row["vectors"]), dtype=np.float32).reshape(len(hashes), dim)
    flat = np.frombuffer(bytes(row["sentence_vectors"]), dtype=np.float32).reshape(-1, dim or 1)
    sentences: list[tuple[str, SentenceVectors]] = []
    start = 0
    for key, spans in json.loads(str(row["spans"])):
        end = start + len(spans)
        block = flat[start:end].copy()
        sentences.append((str(key), SentenceVectors([(int(a), int(b)) for a, b in spans], block)))
        start = end
    return UnitResult(int(row["number"]), hashes, vectors.copy(), sentences, str(row["worker"]))


def _job_fields(job: SentenceJob) -> dict[str, Any]:
    return {
        "key": job.key,
        "text": job.text,
        "search_text": job.search_text,
        "prefix": job.prefix,
        "views": list(job.views),
        "view_hashes": list(job.view_hashes),
        "spans": [list(span) for span in job.spans],
        "ranges": [[list(r) for r in ranges] for ranges in job.ranges],
    }


def _job_of(fields: dict[str, Any]) -> SentenceJob:
    return SentenceJob(
        key=str(fields["key"]),
        text=str(fields["text"]),
        search_text=str(fields["search_text"]),
        prefix=str(fields["prefix"]),
        views=tuple(str(v) for v in fields["views"]),
        view_hashes=tuple(str(h) for h in fields["view_hashes"]),
        spans=tuple((int(a), int(b)) for a, b in fields["spans"]),
        ranges=tuple(
            tuple((int(s), int(a), int(b)) for s, a, b in ranges) for ranges in fields["ranges"]
        ),
    )


def _empty(dim: int) -> np.ndarray:
    return np.zeros((0, dim), dtype=np.float32)
