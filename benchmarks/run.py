"""`make bench`: run every benchmark, print each figure as it comes, then one table.

    python -m benchmarks.run [--quick] [--only embed,index,query,scale,startup]
                             [--cables 100] [--full-index] [--sizes 100000,1000000]
                             [--base bench-data/cables]

Each benchmark runs in its own process (clean imports, honest peak RSS) and writes its
figures to bench-data/results/*.json (git-ignored); the table at the end is made from
those files, in markdown, ready for docs/benchmarks.md.

Default (about 60-90 min on a quiet 2-core machine, the first time): embedding backends
with dev-set quality, indexing ``--cables`` cables, queries and BM25 variants at the base
index's size (~15k passages with the full cables index) and at each of ``--sizes``
synthetic passages (built once into bench-data/, reused while they exist), the
exact-vs-approximate comparison at each synthetic size, start-up. ``--full-index`` adds
indexing all 1,295 cables (~25 min more). ``--quick`` (about 10-15 min): fewer texts and
rounds, 50 cables, 100k synthetic passages only.

The base index (``--base``) is a full `qa index` of the Cablegate corpus; if it does not
exist, the index built by the indexing benchmark is used instead (fewer passages).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import DATA, RESULTS_DIR, header, machine, record, run, save

ALL = ("embed", "index", "query", "scale", "startup")


def step(module: str, *args: str) -> None:
    """Run ``python -m benchmarks.<module>`` with its output streaming through."""
    cmd = [sys.executable, "-m", f"benchmarks.{module}", *args]
    print(f"\n$ {' '.join(cmd[1:])}", flush=True)
    code = subprocess.call(cmd)
    if code:
        print(f"!! {module} exited {code}; continuing", flush=True)


def human(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1000}k"


def synth(size: int, base: Path) -> Path:
    """Build (once) the synthetic index: by the real indexer up to 200k passages, above
    that written directly through qa.store/qa.vectors (see benchmarks/synth.py)."""
    out = DATA / "bench" / f"synth-{size}"
    if (out / "pilcrow.sqlite").exists() and list(out.glob("vectors-*.faiss")):
        print(f"  reusing {out} (delete it to rebuild)", flush=True)
        return out
    direct = size > 200_000
    header(f"building {size:,} synthetic passages into {out}")
    cmd = [sys.executable, "-m", "benchmarks.synth", "--passages", str(size)]
    result = run([*cmd, "--base", str(base), "--out", str(out), *(["--direct"] if direct else [])])
    built = json.loads(result.stdout.strip().splitlines()[-1])
    label = human(size)
    how = "direct bulk write" if direct else "indexer, stand-in model"
    record("synthetic index: passages", label, built["passages"], "")
    record(f"synthetic index build ({how}): wall", label, result.seconds, "s")
    record(
        "  passages/s, everything but the model", label, built["passages"] / result.seconds, "/s"
    )
    record(f"synthetic index build ({how}): peak RSS", label, result.peak_mib, "MiB")
    save(f"synth-{label}")
    return out


def table(since: float) -> str:
    lines = ["| figure | size | value | unit | note |", "| --- | --- | ---: | --- | --- |"]
    for path in sorted(RESULTS_DIR.glob("*.json")):
        if path.stat().st_mtime < since:
            continue
        for f in json.loads(path.read_text())["figures"]:
            v = f["value"]
            shown = f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 1000 else f"{v:,.0f}"
            lines.append(
                f"| {f['figure'].strip()} | {f['size']} | {shown} | {f['unit']} | {f['note']} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(ALL))
    parser.add_argument("--cables", type=int, default=None)
    parser.add_argument("--full-index", action="store_true")
    parser.add_argument("--sizes", default=None)
    parser.add_argument("--base", type=Path, default=DATA / "cables")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    quick = args.quick
    cables = args.cables if args.cables is not None else (50 if quick else 100)
    sizes = [int(s) for s in (args.sizes or ("100000" if quick else "100000,1000000")).split(",")]
    rounds = "1" if quick else "3"
    started = time.time()
    print(f"machine: {json.dumps(machine())}", flush=True)

    if "embed" in only:
        if quick:
            step("bench_embed", "--texts", "60", "--rounds", "2")
        else:
            step("bench_embed", "--texts", "200", "--rounds", "3", "--quality")
    if "index" in only:
        step("bench_index", "--cables", str(cables), "--repeats", "2" if quick else "3")
        if args.full_index:
            step("bench_index", "--cables", "0", "--repeats", "3")
    base = args.base
    if not (base / "pilcrow.sqlite").exists():
        fallback = DATA / "bench" / "index-1295" / "index"
        if not (fallback / "pilcrow.sqlite").exists():
            fallback = DATA / "bench" / f"index-{cables}" / "index"
        print(f"  no base index at {base}; using {fallback}", flush=True)
        base = fallback
    if "query" in only:
        step("bench_query", str(base), "--label", "cables", "--rounds", rounds, "--st-reference")
        step("bench_lexical", str(base), "--label", "cables")
    if "scale" in only:
        for size in sizes:
            index = synth(size, base)
            cold = "1" if quick else "3"
            label = human(size)
            has_ann = bool(list(index.glob("vectors-*.faiss.ivf")))
            step(
                "bench_query",
                str(index),
                "--label",
                f"{label}-ivf" if has_ann else label,
                "--rounds",
                rounds,
                "--cold",
                cold,
            )
            if has_ann:  # the same index searched exactly, for the comparison
                step("bench_query", str(index), "--label", label, "--exact", "--rounds", rounds)
            hnsw = ["--hnsw"] if size <= 100_000 and not quick else []
            step("bench_ann", str(index), "--label", label, *hnsw)
            step("bench_lexical", str(index), "--label", label, "--rounds", "1")
    if "startup" in only:
        step("bench_startup", "--index", str(base), "--repeats", "3" if quick else "5")

    print(f"\n== all figures ({(time.time() - started) / 60:.1f} min)\n", flush=True)
    print(table(started - 1))


if __name__ == "__main__":
    main()
