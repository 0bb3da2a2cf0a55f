"""Issue #12, the whole release on one machine: everything but the model, at N cables.

    python -m benchmarks.bench_release [--cables 250000] [--seed 1]
        [--base bench-data/cables-index] [--repeats 3] [--rounds 2] [--cold 2]
        [--no-query] [--profile]
    python -m benchmarks.bench_release --model-throughput [--texts 200] [--rounds 2]

Generates (once) ``bench-data/release-N/corpus`` with ``benchmarks.synth_release``, then
measures the real pipeline (``qa.index.update_index``, what ``qa index`` runs) with the
STAND-IN embedder (``benchmarks.standin``: the real sample vector each window was drawn
from, perturbed; no model), each step in its own process:

* the first build: wall, stages (``benchmarks.release_build``), passages and vectors,
  peak RSS (``wait4``: the largest process) and the process tree's summed RSS (sampled);
* index size on disk against the corpus HTML, and the sample's own ratio (``--base``);
* a no-op re-index (``qa index`` itself: it loads no model), ``--repeats`` times;
* one changed cable (a paragraph's words edited), re-indexed with the stand-in;
* queries (``benchmarks.bench_query``, real model for the questions): hybrid p50/p95
  excluding the question's embedding, ``qa ask`` cold and its peak RSS;
* ``--profile``: a second build under cProfile with parsing in-process
  (``PILCROW_PARSE_WORKERS=1``), its top functions saved beside the results.

``--model-throughput`` measures instead what the stand-in leaves out: windows/s of the
real model (the default backend) at 1 and 2 threads on sample views, interleaved.
Figures are printed as measured and saved to ``bench-data/results/release-N.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    CORPUS,
    DATA,
    QA,
    RESULTS_DIR,
    ROOT,
    Run,
    dir_mib,
    fresh_dir,
    header,
    median,
    record,
    save,
)
from benchmarks.standin import sources_paths


def measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[Run, float]:
    """Run ``cmd`` (in the repository root): wall, peak RSS (``wait4``: its largest
    process), output, and the peak of the process tree's summed RSS (MiB, sampled 4/s:
    the parse workers are processes of their own). Like ``common.run``, but its output
    goes to private temporary files: ``common.run`` shares one pair under bench-data/,
    which another benchmark running at the same time overwrites."""
    peak, done = [0.0], threading.Event()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, env={**os.environ, **(env or {})}, cwd=ROOT
        )

        def sample() -> None:
            while not done.wait(0.25):
                peak[0] = max(peak[0], tree_rss_mib(proc.pid))

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            done.set()
            thread.join()
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = Run(
            seconds,
            usage.ru_maxrss / 1024,
            proc.returncode,
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )
    if result.returncode:
        raise RuntimeError(f"{' '.join(cmd)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return result, peak[0]


def _json_line(result: Run) -> Any:
    """The last JSON object a benchmark process printed."""
    return json.loads([x for x in result.stdout.splitlines() if x.startswith("{")][-1])


def tree_rss_mib(pid: int) -> float:
    """VmRSS of ``pid`` and its descendants, from /proc (0 for what has gone)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        m = re.search(r"VmRSS:\s+(\d+)", status)
        total += int(m.group(1)) / 1024 if m else 0.0
        todo += [int(k) for k in kids]
    return total


def ensure_corpus(n: int, seed: int, corpus: Path, size: str) -> dict[str, Any]:
    """The synthetic corpus (generated when absent), and its generator's report."""
    _, meta = sources_paths(corpus)
    if meta.exists():
        report = json.loads(meta.read_text())
        print(f"  reusing {corpus} ({report['cables']:,} cables; delete it to regenerate)")
    else:
        header(f"generating {n:,} cables into {corpus}")
        cmd = [sys.executable, "-m", "benchmarks.synth_release", "--cables", str(n)]
        result, _ = measured([*cmd, "--out", str(corpus), "--seed", str(seed), "--force"])
        report = _json_line(result)
        record("generate: wall", size, result.seconds, "s", "2 worker processes")
        record(
            "generate: cables/s (after the sample profile)", size, report["cables_per_second"], "/s"
        )
        record("generate: peak RSS (largest process)", size, result.peak_mib, "MiB")
    gen = report["generated"]
    record("corpus: cables", size, report["cables"], "", f"seed {report['seed']}")
    record("corpus: HTML size", size, report["bytes"] / 2**20, "MiB")
    record("corpus: passages (parsed)", size, gen["passages"], "")
    record("corpus: embedded views", size, report["records"], "")
    record("corpus: pages redrawn (parse disagreed)", size, gen.get("redrawn", 0), "")
    return report


def build(
    corpus: Path,
    index: Path,
    base: Path,
    size: str,
    env: dict[str, str] | None = None,
    profile_to: Path | None = None,
    label: str = "build",
) -> dict[str, Any]:
    """One ``release_build`` process; records its wall, RSS and stages."""
    cmd = [sys.executable, "-m", "benchmarks.release_build", "--corpus", str(corpus)]
    cmd += ["--index", str(index), "--base", str(base)]
    cmd += ["--cprofile", str(profile_to)] if profile_to else []
    result, tree = measured(cmd, env)
    out = _json_line(result)
    s = out["summary"]
    record(f"{label}: wall (process)", size, result.seconds, "s", f"indexer {s['seconds']:.1f} s")
    record(
        f"{label}: passages / embedded views",
        size,
        s["passages"],
        "",
        f"{s['passages_embedded']:,} views, {s['sentences_embedded']:,} sentence jobs",
    )
    record(
        f"{label}: peak RSS (largest process)",
        size,
        result.peak_mib,
        "MiB",
        f"stand-in holds {out['standin']['memory_mib']:.0f} MiB",
    )
    record(f"{label}: peak RSS, process tree summed", size, tree, "MiB", "sampled 4/s")
    for stage, seconds in out["stages"].items():
        record(
            f"  {label} stage: {stage}", size, seconds, "s", f"{out['calls'].get(stage, '')} calls"
        )
    record(
        f"  {label}: stand-in embedder itself",
        size,
        out["standin"]["seconds"],
        "s",
        f"{out['standin']['unmapped']} unmapped texts",
    )
    if out["missing_stages"]:
        print(f"  (stages not found in this qa: {', '.join(out['missing_stages'])})")
    return out


def sizes(index: Path, corpus_bytes: int, base: Path, size: str) -> None:
    """Disk against HTML: the release must fit one machine's disk beside its corpus."""
    total = dir_mib(index)
    sqlite = sum(p.stat().st_size for p in index.glob("pilcrow.sqlite*")) / 2**20
    flat = sum(p.stat().st_size for p in index.glob("vectors-*.faiss")) / 2**20
    ivf = sum(p.stat().st_size for p in index.glob("vectors-*.faiss.ivf")) / 2**20
    record(
        "index on disk",
        size,
        total,
        "MiB",
        f"SQLite+WAL {sqlite:.0f}, flat {flat:.0f}, IVF {ivf:.0f}",
    )
    record("index / corpus HTML", size, total * 2**20 / corpus_bytes, "x")
    sample_bytes = sum(p.stat().st_size for p in CORPUS.rglob("*.html"))
    if (base / "pilcrow.sqlite").exists():
        record(
            "sample: index / corpus HTML",
            "1295c",
            dir_mib(base) * 2**20 / sample_bytes,
            "x",
            f"{base.name}",
        )


def noop(corpus: Path, index: Path, size: str, repeats: int) -> None:
    """``qa index`` with nothing changed (it loads no model)."""
    walls, inner = [], []
    for _ in range(repeats):
        r, _ = measured([QA, "index", "--corpus", str(corpus), "--index", str(index), "--json"])
        walls.append(r.seconds)
        inner.append(float(_json_line(r)["seconds"]))
    record(
        "no-op re-index (qa index), median",
        size,
        median(walls),
        "s",
        f"runs {', '.join(f'{w:.2f}' for w in walls)}; indexer {median(inner):.2f} s",
    )


def edit_paragraph(path: Path, n: int) -> None:
    """Change the words of one paragraph (the last numbered one) of a cable page, never
    to words indexed before (the embedding cache would know them)."""
    text = path.read_text(encoding="utf-8")
    at = text.rfind("<a id='par")
    word = text.find(" the ", at) if at >= 0 else -1
    if word < 0:
        word = text.rfind("</pre>")
    text = text[:word] + f" the benchmark edit {n} at {time.time_ns()}" + text[word:]
    path.write_text(text, encoding="utf-8")


def changed(corpus: Path, index: Path, base: Path, size: str, repeats: int) -> None:
    """Re-index after one paragraph changed: what a corrected cable costs at this size
    (the lexicon, the vector file and the part logic all scale with the index)."""
    files = sorted(corpus.rglob("*.html"))
    target = files[len(files) // 2]
    original = target.read_bytes()
    walls, inner, embedded = [], [], []
    for n in range(repeats):
        edit_paragraph(target, n)
        cmd = [sys.executable, "-m", "benchmarks.release_build", "--corpus", str(corpus)]
        r, _ = measured([*cmd, "--index", str(index), "--base", str(base)])
        out = _json_line(r)
        walls.append(r.seconds)
        inner.append(out["summary"]["seconds"])
        embedded.append(out["summary"]["passages_embedded"])
    record(
        "one changed cable: re-index wall (stand-in), median",
        size,
        median(walls),
        "s",
        f"{target.name}; indexer {median(inner):.2f} s; {median(embedded):.0f} views embedded",
    )
    for stage, seconds in list(out["stages"].items())[:6]:  # the last run's
        record(f"  one changed cable stage: {stage}", size, seconds, "s")
    target.write_bytes(original)  # the corpus stays the generator's (the index keeps the edit)


def queries(index: Path, size: str, rounds: int, cold: int) -> None:
    """``bench_query`` on the release index; its key figures copied into this run's."""
    label = f"release-{size}"
    cmd = [sys.executable, "-m", "benchmarks.bench_query", str(index), "--label", label]
    code = subprocess.call([*cmd, "--rounds", str(rounds), "--cold", str(cold)])
    path = RESULTS_DIR / f"query-{label}.json"
    if code or not path.exists():
        print(f"  !! bench_query exited {code}")
        return
    wanted = (
        "search hybrid: p50",
        "search hybrid: p95",
        "embed: p50",
        "qa ask cold: wall to first answer (median)",
        "qa ask: peak RSS (median)",
        "end-to-end ask, hybrid + highlight: p95",
    )
    for f in json.loads(path.read_text())["figures"]:
        if f["figure"].strip() in wanted:
            record(f"query: {f['figure'].strip()}", size, f["value"], f["unit"], f["note"])


STAND_IN_NOTE = """\
Made by benchmarks/bench_release.py. corpus/ is synthetic (benchmarks/synth_release.py:
the sample's paragraphs recombined), and index/ holds STAND-IN vectors
(benchmarks/standin.py), recorded under the real model's name: search it to time
things, never to judge answers, and do not `qa index` a real corpus into it.
"""

THROUGHPUT = """
import json, os, sys, time
texts = json.load(open(sys.argv[1]))
from qa.embed import load_embedder
model = load_embedder("all-MiniLM-L6-v2")
model.embed(texts[:8])
t = time.perf_counter()
model.embed(texts)
print(json.dumps({"seconds": time.perf_counter() - t, "texts": len(texts)}))
"""


def model_throughput(texts: int, rounds: int) -> None:
    """Windows/s of the real model at 1 and 2 threads, interleaved rounds."""
    from benchmarks.bench_index import view_texts

    views = list(view_texts(CORPUS).values())
    step = max(1, len(views) // texts)
    chosen = views[::step][:texts]
    path = DATA / "release-throughput-texts.json"
    path.write_text(json.dumps(chosen))
    header(f"model throughput on {len(chosen)} sample views")
    rates: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(rounds):
        for threads in (1, 2):
            cmd = [sys.executable, "-c", THROUGHPUT, str(path)]
            r, _ = measured(cmd, env={"PILCROW_THREADS": str(threads)})
            out = _json_line(r)
            rates[threads].append(out["texts"] / out["seconds"])
    backend = os.environ.get("PILCROW_EMBED_BACKEND", "onnx")
    for threads, values in rates.items():
        record(
            f"model: windows/s, {threads} thread(s) ({backend})",
            f"{len(chosen)}t",
            median(values),
            "/s",
            ", ".join(f"{v:.1f}" for v in values),
        )
    best = max(rates, key=lambda t: median(rates[t]))
    hours = 251_287 * 16.2 / median(rates[best]) / 3600
    note = f"{best} thread(s), the faster here; 16.2 views/cable as generated"
    record("model: the release's ~4.07M windows", "251k", hours, "h", note)
    save("release-model-throughput")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cables", type=int, default=250_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--base", type=Path, default=DATA / "cables-index")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cold", type=int, default=2)
    parser.add_argument("--no-query", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--model-throughput", action="store_true")
    parser.add_argument("--texts", type=int, default=200)
    args = parser.parse_args(argv)
    if args.model_throughput:
        model_throughput(args.texts, args.rounds)
        return
    size = f"{args.cables // 1000}k" if args.cables >= 1000 else f"{args.cables}c"
    work = DATA / f"release-{args.cables}"
    corpus, index = work / "corpus", work / "index"
    report = ensure_corpus(args.cables, args.seed, corpus, size)
    (work / "README.txt").write_text(STAND_IN_NOTE)
    header(f"first build of {args.cables:,} cables ({index})")
    fresh_dir(index)
    build(corpus, index, args.base, size)
    sizes(index, report["bytes"], args.base, size)
    save(f"release-{args.cables}")
    header("no-op and one changed cable")
    noop(corpus, index, size, args.repeats)
    changed(corpus, index, args.base, size, args.repeats)
    save(f"release-{args.cables}")
    if not args.no_query:
        header("queries")
        queries(index, size, args.rounds, args.cold)
        save(f"release-{args.cables}")
    if args.profile:
        header("profiled build (cProfile, parsing in-process)")
        target = work / "index-profile"
        fresh_dir(target)
        out = RESULTS_DIR / f"release-{args.cables}.prof"
        build(
            corpus, target, args.base, size, {"PILCROW_PARSE_WORKERS": "1"}, out, "profiled build"
        )
        print(f"  profile: {out} (top functions: {out.with_suffix('.txt')})")
        save(f"release-{args.cables}")
    print(f"\n  saved {RESULTS_DIR / f'release-{args.cables}.json'} at {time.ctime()}")


if __name__ == "__main__":
    main()
