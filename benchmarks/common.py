"""Shared helpers for the benchmark scripts: timing statistics, measured subprocesses,
machine notes and result records.

Every figure a script reports goes through ``record``: it is printed at once and kept in
``RESULTS`` so ``benchmarks.run`` can print the whole table at the end and save it as JSON
(``bench-data/results/*.json``, git-ignored).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench-data"
RESULTS_DIR = DATA / "results"
CORPUS = Path(os.environ.get("PILCROW_BENCH_CORPUS", "/work/shared/corpus/cablegate"))
DEV_SET = Path(os.environ.get("PILCROW_BENCH_DEV", "/work/shared/eval/cables-dev.jsonl"))
BIN = Path(sys.executable).parent
QA = str(BIN / "qa")


@dataclass
class Figure:
    """One reported number: what, at which size, the value and its unit, and a note."""

    figure: str
    size: str
    value: float
    unit: str
    note: str = ""


RESULTS: list[Figure] = []


def record(figure: str, size: str, value: float, unit: str, note: str = "") -> Figure:
    item = Figure(figure, size, float(value), unit, note)
    RESULTS.append(item)
    shown = f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    print(f"  {figure:<52} {size:>8}  {shown:>12} {unit:<8} {note}", flush=True)
    return item


def save(name: str) -> Path:
    """Write this process's figures to ``bench-data/results/<name>.json``."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {"machine": machine(), "figures": [asdict(f) for f in RESULTS]}
    path.write_text(json.dumps(payload, indent=1))
    return path


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); honest for small samples."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 100)))  # ceil
    return float(ordered[min(rank, len(ordered)) - 1])


def load_average() -> float:
    return os.getloadavg()[0]


def machine() -> dict[str, object]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0.0
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem = pages / 2**30
    except (ValueError, OSError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_1min": round(load_average(), 2),
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


@dataclass
class Run:
    """A finished subprocess: wall seconds, peak RSS (MiB), exit code and output."""

    seconds: float
    peak_mib: float
    returncode: int
    stdout: str
    stderr: str


def run(
    cmd: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    check: bool = True,
    cwd: Path | None = None,
) -> Run:
    """Run ``cmd`` and measure its wall time and peak RSS (``wait4``'s ``ru_maxrss``)."""
    full_env = {**os.environ, **(env or {})}
    out_path = DATA / ".run-stdout"
    err_path = DATA / ".run-stderr"
    DATA.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w+b") as out, open(err_path, "w+b") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            env=full_env,
            cwd=cwd or ROOT,
        )
        if stdin is not None:
            assert proc.stdin is not None
            proc.stdin.write(stdin.encode())
            proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)
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
    if check and result.returncode not in (0, 3):
        raise RuntimeError(f"{' '.join(cmd)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return result


def python(module_or_code: str, *args: str, **kwargs: object) -> Run:
    """Run ``python -c CODE`` (or ``-m MODULE`` when it starts with ``-m ``) measured."""
    if module_or_code.startswith("-m "):
        cmd = [sys.executable, "-m", module_or_code[3:], *args]
    else:
        cmd = [sys.executable, "-c", module_or_code, *args]
    return run(cmd, **kwargs)  # type: ignore[arg-type]


def dir_mib(path: Path) -> float:
    total = 0
    for item in path.rglob("*"):
        if item.is_file() and not item.is_symlink():
            total += item.stat().st_size
    return total / 2**20


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def dev_questions(limit: int | None = None) -> list[str]:
    questions = []
    for line in DEV_SET.read_text().splitlines():
        if line.strip():
            questions.append(json.loads(line)["question"])
    return questions[:limit] if limit else questions


def header(title: str) -> None:
    print(
        f"\n== {title}  (load average {load_average():.2f} on {os.cpu_count()} cores)", flush=True
    )
