"""The embedding stage on Ray Data: ``qa index --ray [ADDRESS]``.

The driver (this process) stays the only writer. It plans the units (``qa.index.units``:
only texts the cache lacks, longest first), hands them to ``map_batches`` over a pool
of actors (one loaded model each, one per CPU of the cluster, or per GPU with
``--device cuda``), and writes each unit's vectors into the cache as it streams back,
so a driver killed at any point resumes without embedding again what arrived. Ray
restarts an actor whose process dies and retries its unit, a bounded number of times;
the summary counts the restarts and where the units ran.

Ray is an optional dependency (``pip install 'pilcrow[ray]'``): it is imported here
only, and only when a run asks for it.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa import locations
from qa.errors import QAError, UsageError
from qa.index.units import (
    Unit,
    UnitResult,
    compute_unit,
    result_of_row,
    result_row,
    unit_of_row,
    unit_row,
    unit_size_for,
    worker_env,
)

log = logging.getLogger(__name__)

INSTALL_HINT = "Ray is not installed: pip install 'pilcrow[ray]' (in a checkout: make setup-ray)"
FREE_WAIT_SECONDS = 15  # for CPUs (GPUs) the last part's actors are still releasing
RESTARTS = 3  # per actor, and retries per unit: a unit that kills its worker 4 times fails


class RayEmbeddingError(QAError):
    """The cluster could not finish the embedding; what arrived is kept in the cache."""


@dataclass
class RayRunner:
    """Runs units on a Ray cluster; ``restarts`` and ``nodes`` (views per node) say how
    the last runs went."""

    address: str
    model: str
    device: str = "cpu"
    restarts: int = 0
    nodes: dict[str, int] = field(default_factory=dict)
    _started: bool = False

    def __post_init__(self) -> None:
        self._started = connect(self.address)
        try:
            self.workers()  # refuse a cluster with nothing to run the model on, now
        except UsageError:
            self.close()
            raise

    def workers(self) -> int:
        """Actors to run: one per free GPU with ``--device cuda``, else one per free CPU
        (a pool the cluster cannot place would wait for ever)."""
        import ray

        kind = "GPU" if self.device == "cuda" else "CPU"
        had = int(ray.cluster_resources().get(kind, 0))
        free = int(ray.available_resources().get(kind, 0))
        deadline = time.monotonic() + FREE_WAIT_SECONDS
        while had and free < 1 and time.monotonic() < deadline:  # last part's actors leaving
            time.sleep(0.5)
            free = int(ray.available_resources().get(kind, 0))
        if free < 1:
            state = f"no free {kind} ({had} in all)" if had else f"no {kind}"
            flag = "--device cuda: " if kind == "GPU" else ""
            raise UsageError(
                f"{flag}the Ray cluster at {self.address} has {state} "
                "(`ray status` lists its resources)"
            )
        return free

    def unit_size(self, total_views: int) -> int:
        """Views per unit: about eight units per actor, at most a cache batch."""
        return unit_size_for(total_views, self.workers(), locations.embed_batch_size())

    def run(self, units: list[Unit], progress: Callable[[int], None]) -> Generator[UnitResult]:
        """Yield each unit's result as it arrives, in any order, each unit once;
        ``progress`` is told each unit's views as it arrives."""
        if not units:
            return
        pool = self.workers()
        counter_name = f"pilcrow-starts-{uuid.uuid4().hex}"
        counter = _StartCounter.options(name=counter_name).remote()
        kwargs = self._actor_kwargs(counter_name)
        batches = iter(
            _dataset(units, pool, kwargs).iter_batches(batch_size=1, batch_format="numpy")
        )
        seen: set[int] = set()
        try:
            while (batch := _next_batch(batches, len(seen), len(units))) is not None:
                result = result_of_row({name: column[0] for name, column in batch.items()})
                if result.number in seen:  # never written twice
                    continue
                seen.add(result.number)
                size = units[result.number].size  # plan_units numbers them 0..n-1
                progress(size)
                self.nodes[result.worker] = self.nodes.get(result.worker, 0) + size
                yield result
        finally:
            self.restarts += _restarts(counter, pool)
            if kwargs["kill_marker"]:
                Path(kwargs["kill_marker"]).unlink(missing_ok=True)

    def close(self) -> None:
        """Shut Ray down if this runner started it (``--ray`` with no address)."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False

    def _actor_kwargs(self, counter: str) -> dict[str, Any]:
        env = worker_env()
        kill_at, marker = _worker_kill_point()
        return {
            "model": self.model,
            "device": self.device,
            "env": env,
            "counter": counter,
            "kill_at": kill_at,
            "kill_marker": marker,
        }


def require_ray() -> None:
    """Refuse ``--ray`` up front, in one line, when Ray is not installed (even a run with
    nothing to embed: the user asked for something this install cannot do)."""
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise UsageError(INSTALL_HINT) from exc


def check_reachable(address: str) -> None:
    """Refuse a ``HOST:PORT`` nobody answers at, in one line and at once: Ray itself
    retries an unreachable head for minutes, logging each try. Other forms (``local``,
    ``auto``, ``ray://...``) are left to Ray."""
    host, sep, port = address.rpartition(":")
    if address == "local" or not sep or not port.isdigit() or "://" in address:
        return
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=5).close()
    except OSError as exc:
        raise UsageError(
            f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); is "
            "`ray start --head` running there? (docs/scale.md)"
        ) from exc


def connect(address: str) -> bool:
    """Join the cluster at ``address``, or start a local one for ``local``; True when
    this call started Ray (so the run shuts it down)."""
    require_ray()
    check_reachable(address)
    import ray

    if ray.is_initialized():
        return False
    _quiet_ray()
    settings: dict[str, Any] = {
        "log_to_driver": False,
        "logging_level": logging.getLogger("ray").getEffectiveLevel(),
    }
    try:
        if address == "local":
            cores = len(os.sched_getaffinity(0)) or 1
            ray.init(num_cpus=cores, include_dashboard=False, **settings)
        else:
            ray.init(address=address, **settings)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        reason = _first_line(exc)
        raise UsageError(f"could not join the Ray cluster at {address}: {reason}") from exc
    import ray.data

    _quiet_ray()  # again: importing ray.data sets up its own loggers
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    return address == "local"


def _quiet_ray() -> None:
    """Ray's own notices (token setup, deprecations, object-store notes) are not the
    user's business at the default verbosity; ``qa -v`` shows them."""
    if logging.getLogger().getEffectiveLevel() >= logging.WARNING:
        for name in ("ray", "ray.data"):
            logging.getLogger(name).setLevel(logging.ERROR)


def _dataset(units: list[Unit], pool: int, actor_kwargs: dict[str, Any]) -> Any:
    """The units as a dataset of one row per block, mapped by the actor pool."""
    import ray.data

    rows = [unit_row(unit) for unit in units]
    on_gpu = actor_kwargs["device"] == "cuda"
    with warnings.catch_warnings():
        # Ray 2.60 (pinned) bounds restarts only through these remote args, which it
        # calls deprecated for 2.64 without a replacement yet.
        warnings.simplefilter("ignore", DeprecationWarning)
        return ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            _EmbedActor,
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=pool),
            num_cpus=None if on_gpu else 1,
            num_gpus=1 if on_gpu else None,
            fn_constructor_kwargs=actor_kwargs,
            max_restarts=RESTARTS,  # Ray's default: restart and retry forever
            max_task_retries=RESTARTS,
        )


class _EmbedActor:
    """One model per actor process; a batch is one unit."""

    def __init__(
        self,
        model: str,
        device: str,
        env: dict[str, str],
        counter: str,
        kill_at: int | None,
        kill_marker: str,
    ) -> None:
        import ray

        os.environ.update(env)
        from qa.embed import load_embedder

        self._embedder = load_embedder(model, device)
        node = ray.get_runtime_context().get_node_id()
        self._where = f"node {node[:8]}"
        self._kill_at, self._kill_marker = kill_at, kill_marker
        ray.get(ray.get_actor(counter).add.remote())

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        unit = unit_of_row({name: column[0] for name, column in batch.items()})
        if unit.number == self._kill_at and _first_kill(self._kill_marker):
            os.kill(os.getpid(), signal.SIGKILL)  # crash tests: a worker dies mid-batch
        result = compute_unit(self._embedder, unit)
        result.worker = self._where
        return {name: [value] for name, value in result_row(result).items()}


def _start_counter_class() -> Any:
    import ray

    @ray.remote(num_cpus=0)
    class StartCounter:
        """How many embedding actors started: more than the pool means restarts."""

        def __init__(self) -> None:
            self.starts = 0

        def add(self) -> None:
            self.starts += 1

        def count(self) -> int:
            return self.starts

    return StartCounter


class _LazyCounter:
    """``_StartCounter.options(...)`` without importing Ray at module import."""

    def options(self, **kwargs: Any) -> Any:
        return _start_counter_class().options(**kwargs)


_StartCounter = _LazyCounter()


@dataclass
class RaySession:
    """A run's use of Ray: connected on the first unit to embed, shut down at the end.

    One runner serves every part of the run, so a local Ray starts once."""

    address: str
    device: str = "cpu"
    runner: RayRunner | None = None

    def runner_for(self, model: str) -> RayRunner:
        if self.runner is None or self.runner.model != model:
            started = self.runner is not None and self.runner._started
            self.runner = RayRunner(self.address, model, self.device)
            self.runner._started |= started  # still ours to shut down
        return self.runner

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()


def _restarts(counter: Any, pool: int) -> int:
    """Actors started beyond the pool (0 if the cluster is gone: the run's error says
    more than this count would)."""
    import ray

    if not ray.is_initialized():  # shut down already: asking would start a new Ray
        return 0
    try:
        starts = int(ray.get(counter.count.remote(), timeout=30))
        ray.kill(counter)
    except ray.exceptions.RayError:
        return 0
    return max(0, starts - pool)


def _next_batch(batches: Iterator[Any], arrived: int, total: int) -> Any | None:
    """The next result batch, None at the end; any failure of Ray's (a unit out of
    retries, a lost cluster, Ray Data's own timeouts) as one ``RayEmbeddingError``."""
    try:
        return next(batches)
    except StopIteration:
        return None
    except Exception as exc:  # Ray raises many kinds, not all RayError
        raise RayEmbeddingError(
            f"embedding on Ray failed after {arrived} of {total} batches "
            f"({type(exc).__name__}: {_first_line(exc)}); what arrived is kept: "
            "run `qa index` again to go on"
        ) from exc


def _worker_kill_point() -> tuple[int | None, str]:
    """Crash tests: ``PILCROW_TEST_KILL_AT=worker:n`` kills the worker that takes unit n
    (1-based), once per run (a marker file outlives the killed process)."""
    for item in locations.kill_points().split(","):
        point, _, n = item.strip().partition(":")
        if point == "worker" and n.strip().isdigit():
            marker = Path(tempfile.gettempdir()) / f"pilcrow-kill-{uuid.uuid4().hex}"
            return int(n) - 1, str(marker)
    return None, ""


def _first_kill(marker: str) -> bool:
    try:
        Path(marker).touch(exist_ok=False)
    except FileExistsError:
        return False
    return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
