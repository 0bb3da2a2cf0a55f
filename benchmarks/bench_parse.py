"""Reading, hashing and parsing a corpus with 1..N worker processes: files/s for each.

    python -m benchmarks.bench_parse [CORPUS] [--workers 1,2] [--rounds 2]

Runs ``qa.index.parsing.read_all`` (what ``qa index`` does for every file it must read)
over every corpus file, nothing recorded (a first build), rounds interleaved so that a
machine's background load falls on every setting alike. Prints one JSON line per
setting and saves bench-data/results/parse.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.common import record, save
from qa.index.parsing import ToRead, read_all
from qa.index.sources import FileSource, file_sources


def parse_seconds(corpus: Path, workers: int) -> tuple[float, int, int]:
    """Seconds to read and parse every file, files parsed, passages found."""
    jobs = [ToRead(s, None) for s in file_sources(corpus) if isinstance(s, FileSource)]
    started = time.perf_counter()
    outcomes = list(read_all(jobs, workers))
    seconds = time.perf_counter() - started
    items = [o.item for o in outcomes if o.item is not None]
    return seconds, len(items), sum(len(item.rows) for item in items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default="../shared/corpus/cablegate", type=Path)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    settings = [int(w) for w in args.workers.split(",")]
    best: dict[int, float] = {}
    files = passages = 0
    for _ in range(args.rounds):
        for workers in settings:
            seconds, files, passages = parse_seconds(args.corpus, workers)
            best[workers] = min(seconds, best.get(workers, seconds))
    size = f"{files:,}"
    for workers in settings:
        rate = files / best[workers]
        speedup = best[settings[0]] / best[workers]
        record(f"read+hash+parse, {workers} worker(s)", size, rate, "files/s", f"x{speedup:.2f}")
        print(
            json.dumps(
                {
                    "workers": workers,
                    "files": files,
                    "passages": passages,
                    "seconds": round(best[workers], 2),
                }
            ),
            flush=True,
        )
    save("parse")


if __name__ == "__main__":
    main()
