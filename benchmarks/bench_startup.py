"""Figure 4: start-up. `qa --help`, the TUI's first frame (``qa ask`` cold is in bench_query).

    python -m benchmarks.bench_startup [--index DIR] [--repeats 5]

* ``qa --help``: wall time of the whole process, median of ``--repeats``; and whether
  importing the CLI pulls in torch, onnxruntime or FAISS (it must not).
* TUI first frame: ``qa tui --index DIR`` under a pseudo-terminal (120x40); the time from
  spawning the process until the terminal has received the first full screen (4,800
  bytes: one byte per cell of 120x40), median of ``--repeats``. The process is then ended
  (SIGTERM to its own pid).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time
from pathlib import Path

from benchmarks.common import DATA, QA, header, median, python, record, run, save


def first_frame(index: Path, timeout: float = 30.0) -> float | None:
    pid, fd = pty.fork()
    if pid == 0:  # child: the TUI on the pty
        os.environ["TERM"] = "xterm-256color"
        os.execv(QA, [QA, "tui", "--index", str(index)])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    started = time.perf_counter()
    seen = b""
    elapsed = None
    try:
        while time.perf_counter() - started < timeout:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if len(seen) >= 4800:  # 120 x 40 cells: the first full screen has been drawn
                elapsed = time.perf_counter() - started
                break
    finally:
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + 5
        while time.time() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            with contextlib.suppress(OSError):
                os.read(fd, 65536)  # keep the pty drained so it can exit
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=DATA / "cables")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    header("start-up")

    walls = [run([QA, "--help"]).seconds for _ in range(args.repeats)]
    record("qa --help wall (median)", "-", median(walls), "s", "target <= 0.3 s")
    probe = python(
        "import sys, qa.cli; print(' '.join(m for m in ('torch', 'onnxruntime', 'faiss',"
        " 'sentence_transformers', 'textual') if m in sys.modules) or 'none')"
    )
    print(f"  heavy modules imported by `import qa.cli`: {probe.stdout.strip()}")
    bare = [python("pass").seconds for _ in range(args.repeats)]
    record("  bare python start (median), for scale", "-", median(bare), "s")

    try:
        import tui.app  # noqa: F401
    except ImportError:
        print("  TUI not present: first frame not measured")
    else:
        if not (args.index / "pilcrow.sqlite").exists():
            print(f"  no index at {args.index}: TUI first frame not measured")
        else:
            frames = [first_frame(args.index) for _ in range(args.repeats)]
            ok = [f for f in frames if f is not None]
            if ok:
                record(
                    "TUI first frame (median)",
                    "-",
                    median(ok),
                    "s",
                    f"{', '.join(f'{f:.2f}' for f in ok)}; target <= 1 s",
                )
            else:
                print("  TUI first frame: no frame seen within 30 s", file=sys.stderr)
    save("startup")


if __name__ == "__main__":
    main()
