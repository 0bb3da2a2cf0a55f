"""Read, hash and parse a run's sources on every core, handed back in listing order.

Reading, hashing and parsing a file (decode, HTML, paragraph rules, views) is CPU work
that depends on that file alone, and at the release's 251,287 cables it is most of a
build's time outside the model. So a run with many files to read hands them, in
batches, to worker processes, while the plan (which document a part holds, who owns a
document id) stays in the run's own process: outcomes come back in the order the
sources were listed, at most a few batches ahead, so memory stays bounded and the run
embeds and commits a part while the workers parse the next.

A worker compares a file's digest with the recorded one before it parses, so a file
whose stat changed but whose bytes did not (``touch``) costs a read and a hash only.
Small runs (a changed cable, the tests' corpora) parse in-process: starting workers
costs more than it saves there.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from itertools import islice

from qa.errors import IngestError, QAError
from qa.index.children import die_with_parent
from qa.index.rows import Parsed, parsed
from qa.index.sources import FileSource, ReadRefusedError, Source, check_passage_sizes

POOL_MIN_FILES = 64  # fewer files to read than this are parsed in the run's process
BATCH_FILES = 16  # files per task: amortises the hand-over between processes
AHEAD_BATCHES = 4  # batches in flight per worker: keeps them busy, bounds memory


@dataclass(frozen=True, slots=True)
class Outcome:
    """What reading one source gave: its rows, or that its bytes are as recorded
    (``item`` None, no ``error``), or why it was not indexed."""

    key: str
    digest: str = ""
    read_stat: str = ""
    item: Parsed | None = None
    error: str = ""
    refused: bool = False  # the read was refused (permissions): kept, not removed


@dataclass(frozen=True, slots=True)
class ToRead:
    """A source to read, with the digest recorded for it (None: parse whatever it holds,
    as a new source or a re-parse does)."""

    source: Source
    recorded_digest: str | None


def read_and_parse(job: ToRead) -> Outcome:
    """Hash the source; parse it unless its bytes hash as recorded."""
    src = job.source
    try:
        digest = src.digest()
        if digest == job.recorded_digest:
            return Outcome(src.key, digest, src.read_stat())
        doc = src.load()
        check_passage_sizes(src.key, doc)
    except IngestError as exc:
        return Outcome(src.key, error=str(exc), refused=isinstance(exc, ReadRefusedError))
    return Outcome(src.key, digest, src.read_stat(), parsed(doc, digest, src.read_stat()))


def read_batch(jobs: Sequence[ToRead]) -> list[Outcome]:
    """One worker task: a batch of sources, in order."""
    return [read_and_parse(job) for job in jobs]


def read_all(jobs: Sequence[ToRead], workers: int) -> Iterator[Outcome]:
    """Every job's outcome, in the jobs' order: in worker processes when there are at
    least ``POOL_MIN_FILES`` corpus files and more than one worker, else here.

    Only corpus files go to workers (they cross a process boundary as their path); a
    source of another kind (a BEIR item, a benchmark's synthetic copy) is read here.
    """
    poolable = all(isinstance(job.source, FileSource) for job in jobs)
    if workers <= 1 or len(jobs) < POOL_MIN_FILES or not poolable:
        yield from map(read_and_parse, jobs)
        return
    yield from _pooled(jobs, workers)


def _pooled(jobs: Sequence[ToRead], workers: int) -> Iterator[Outcome]:
    """``read_all`` on a pool of ``workers`` processes (spawned: a run may hold threads,
    the TUI's or the model's, that a forked child must not inherit)."""
    batches = _batches(jobs, BATCH_FILES)
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    )
    in_flight: deque[Future[list[Outcome]]] = deque()
    try:
        for batch in islice(batches, workers * AHEAD_BATCHES):
            in_flight.append(pool.submit(read_batch, batch))
        while in_flight:
            done = in_flight.popleft().result()
            for batch in islice(batches, 1):
                in_flight.append(pool.submit(read_batch, batch))
            yield from done
    except BrokenProcessPool as exc:  # a worker killed (out of memory, say): say so plainly
        raise QAError(
            "a worker process parsing the corpus died (out of memory?); what was committed"
            " is kept: run `qa index` again, or with PILCROW_PARSE_WORKERS=1 to parse in"
            " one process"
        ) from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _batches(jobs: Iterable[ToRead], size: int) -> Iterator[list[ToRead]]:
    it = iter(jobs)
    while batch := list(islice(it, size)):
        yield batch
