"""The embedding units on every core of this machine: one model process per core.

onnxruntime spreads one call over threads poorly for a model this small: on this
2-core machine one session with 2 threads embeds 25.5 windows/s, two sessions of one
thread each 29-30 (docs/scale.md, docs/benchmarks.md). So a run with much to embed
hands its units (``qa.index.units``) to worker processes, each with its own copy of the
model on one thread, as Ray's actors do, and commits each unit in the run's own process
as it comes back (any order; the cache is keyed by text hash). Units cross the process
boundary as the same plain rows Ray gets (JSON text and float32 bytes). Small runs (a
changed cable, the tests' corpora) embed in-process: starting the workers (a model
load each, ~2 s) costs more than it saves there.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Any

from qa import locations
from qa.embed import Embedder
from qa.errors import QAError
from qa.index import units as work
from qa.index.children import die_with_parent
from qa.index.units import LocalUnits, Unit, UnitResult

POOL_MIN_VIEWS = 2_000  # less to embed than this (~1 min on one core): in-process
AHEAD_UNITS = 2  # units in flight per worker: keeps each busy, bounds memory

_worker_embedder: Embedder | None = None  # the model of a worker process


def runner_for(embedder: Embedder, total_views: int, device: str) -> LocalUnits | PooledUnits:
    """Worker processes when there is enough to embed and more than one worker, on the
    CPU; else the run's own loaded model (a GPU's is one process's)."""
    workers = locations.embed_workers()
    if workers <= 1 or total_views < POOL_MIN_VIEWS or device != "cpu":
        return LocalUnits(embedder)
    return PooledUnits(embedder.name, workers)


class PooledUnits:
    """Runs units on ``workers`` spawned processes, one model on one thread each."""

    def __init__(self, model: str, workers: int) -> None:
        self.model, self.workers = model, workers

    def unit_size(self, total_views: int) -> int:
        return work.unit_size_for(total_views, self.workers, locations.embed_batch_size())

    def run(self, units: list[Unit], progress: Callable[[int], None]) -> Generator[UnitResult]:
        """Each unit's result as it arrives; a dead worker stops the run in one line
        (what arrived is committed by then)."""
        context = multiprocessing.get_context("spawn")  # no inherited threads or locks
        env = work.worker_env()
        pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=_load_model,
            initargs=(self.model, env, os.getpid()),
        )
        pending = iter(units)
        in_flight: set[Future[dict[str, Any]]] = set()
        try:
            for unit in _take(pending, self.workers * AHEAD_UNITS):
                in_flight.add(pool.submit(_embed_row, work.unit_row(unit)))
            while in_flight:
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    result = work.result_of_row(future.result())
                    for unit in _take(pending, 1):
                        in_flight.add(pool.submit(_embed_row, work.unit_row(unit)))
                    progress(units[result.number].size)
                    yield result
        except BrokenProcessPool as exc:
            raise QAError(
                "a model worker process died (out of memory?); what was embedded is kept: "
                f"run `qa index` again, or with {locations.EMBED_WORKERS.name}=1 to embed in "
                "one process"
            ) from exc
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _load_model(model: str, env: dict[str, str], parent_pid: int) -> None:
    """Worker start-up: gone with the run, the run's backend, one thread, the model
    loaded once."""
    global _worker_embedder
    die_with_parent(parent_pid)
    os.environ.update(env)
    from qa.embed import load_embedder

    _worker_embedder = load_embedder(model, "cpu")


def _embed_row(row: dict[str, Any]) -> dict[str, Any]:
    """One worker task: a unit's row in, its result's row out."""
    assert _worker_embedder is not None, "the pool's initializer loads the model"
    return work.result_row(work.compute_unit(_worker_embedder, work.unit_of_row(row)))


def _take(units: Iterator[Unit], n: int) -> list[Unit]:
    return list(islice(units, n))
