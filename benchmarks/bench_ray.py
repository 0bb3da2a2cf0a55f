"""Issue #13: the embedding stage on Ray against the plain local path (docs/scale.md).

    python -m benchmarks.bench_ray [--cables N] [--cluster local|two-nodes] [--skip-local]
                                   [--local-only]

Builds the same corpus (the first N cables of ``../shared``'s sample in path order;
default all 1,295) from nothing twice, real model: once in this process as `qa index`
does, once with ``--ray`` (a local Ray of every core, or ``ray.cluster_utils.Cluster``
with two nodes of one CPU each). Reports the wall time of each build, of its embedding
stage (first to last embedded batch, from the run's progress), windows/s, Ray's overhead
over the local embedding stage, where the units ran, and whether both caches agree bit
for bit. The local build uses ``PILCROW_EMBED_WORKERS`` as ``qa index`` does (one
model process per core; ``=1`` for one process with a thread per core). Run it on an
otherwise idle machine: the figures are one run each.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import time
from pathlib import Path

from benchmarks.common import CORPUS, DATA, header, record, save
from qa.factory import build_index
from qa.index import IndexSummary, RunOptions


class StageClock:
    """A Progress that remembers when each stage started and finished."""

    def __init__(self) -> None:
        self.spans: dict[str, list[float]] = {}
        self._current = ""

    def start(self, total: int, description: str) -> None:
        self._current = description
        self.spans.setdefault(description, [time.perf_counter(), 0.0])

    def advance(self, n: int) -> None:
        pass

    def finish(self) -> None:
        if self._current in self.spans:
            self.spans[self._current][1] = time.perf_counter()

    def warn(self, message: str) -> None:
        print(f"  warning: {message}")

    def seconds(self, stage: str) -> float:
        start, end = self.spans.get(stage, [0.0, 0.0])
        return max(0.0, end - start)


def corpus_of(cables: int) -> Path:
    """The first ``cables`` pages of the sample, linked into a folder of their own."""
    pages = sorted(CORPUS.rglob("*.html"))[:cables] if cables else sorted(CORPUS.rglob("*.html"))
    folder = DATA / "ray-bench" / f"corpus-{len(pages)}"
    if not folder.exists():
        folder.mkdir(parents=True)
        for page in pages:
            (folder / page.name).symlink_to(page)
    return folder


def build(corpus: Path, index: Path, ray_address: str | None) -> tuple[IndexSummary, StageClock]:
    shutil.rmtree(index, ignore_errors=True)
    clock = StageClock()
    summary = build_index(
        corpus, index, options=RunOptions(progress=clock, ray_address=ray_address)
    )
    return summary, clock


def caches_agree(a: Path, b: Path) -> bool:
    db = sqlite3.connect(a / "pilcrow.sqlite")
    try:
        db.execute("ATTACH ? AS other", (str(b / "pilcrow.sqlite"),))
        differing = db.execute(
            "SELECT count(*) FROM embeddings x LEFT JOIN other.embeddings y "
            "USING (model, text_hash) WHERE y.vector IS NULL OR x.vector != y.vector "
            "OR x.scale != y.scale"
        ).fetchone()[0]
        counts = [
            db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("embeddings", "other.embeddings")
        ]
    finally:
        db.close()
    return differing == 0 and counts[0] == counts[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cables", type=int, default=0, help="first N cables (0: all)")
    parser.add_argument("--cluster", choices=("local", "two-nodes"), default="local")
    parser.add_argument("--skip-local", action="store_true", help="reuse the last local index")
    parser.add_argument("--local-only", action="store_true", help="only the local build")
    args = parser.parse_args()
    corpus = corpus_of(args.cables)
    size = f"{len(list(corpus.iterdir()))}c"
    header(f"Embedding on Ray vs locally ({size}, cluster {args.cluster})")
    local_index = DATA / "ray-bench" / f"local-{size}"
    if not args.skip_local:
        local, clock = build(corpus, local_index, None)
        _report("local", size, local, clock)
    if args.local_only:
        print(f"saved {save(f'ray-local-only-{size}')}")
        return
    cluster = None
    address = "local"
    if args.cluster == "two-nodes":
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        address = str(cluster.address)
    try:
        ray_index = DATA / "ray-bench" / f"ray-{args.cluster}-{size}"
        on_ray, ray_clock = build(corpus, ray_index, address)
    finally:
        if cluster is not None:
            import ray

            ray.shutdown()
            cluster.shutdown()
    _report(f"ray {args.cluster}", size, on_ray, ray_clock)
    for node, views in on_ray.embedded_on.items():
        record(f"ray {args.cluster}: windows embedded on {node}", size, views, "windows")
    record(f"ray {args.cluster}: worker restarts", size, on_ray.embed_restarts, "")
    if not args.skip_local:
        extra = ray_clock.seconds("embedding") - clock.seconds("embedding")
        record(
            "ray overhead over the local embedding stage",
            size,
            100 * extra / max(clock.seconds("embedding"), 1e-9),
            "%",
        )
    record("caches bit-identical (1 = yes)", size, float(caches_agree(local_index, ray_index)), "")
    print(f"saved {save(f'ray-{args.cluster}-{size}')}")


def _report(name: str, size: str, summary: IndexSummary, clock: StageClock) -> None:
    embedding = clock.seconds("embedding")
    record(f"{name}: build wall", size, summary.seconds, "s")
    record(f"{name}: embedding stage", size, embedding, "s")
    record(
        f"{name}: windows/s",
        size,
        summary.passages_embedded / max(embedding, 1e-9),
        "w/s",
        f"{summary.passages_embedded} windows",
    )


if __name__ == "__main__":
    main()
