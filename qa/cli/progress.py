"""Progress of long work on stderr: a live bar on a terminal, timed lines everywhere else.

A build of the whole release runs for hours under ``nohup`` or into a log file, where a
Rich bar prints nothing until it stops. So when stderr is not a terminal, progress is one
plain line at the start, one every ``$PILCROW_PROGRESS_SECONDS`` (30 s) and one at the end:
stage, done/total, rate and time remaining. Warnings are one line either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from qa import locations
from qa.cli.output import stderr
from qa.text import terminal_safe


def progress_line(stage: str, done: int, total: int, elapsed: float) -> str:
    """``embedding: 1,200/20,311 (5.9%) 51/s, eta 6m15s`` — pure, for the timed lines."""
    share = f" ({100 * done / total:.1f}%)" if total else ""
    rate = done / elapsed if elapsed > 0 else 0.0
    left = (total - done) / rate if rate > 0 and total > done else None
    eta = f", eta {_duration(left)}" if left is not None else ""
    return f"{stage}: {done:,}/{total:,}{share} {rate:,.0f}/s{eta}"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


class LineProgress:
    """Timed progress lines (for stderr that is a file or a pipe)."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval, self._clock = interval, clock
        self._stage, self._total, self._done = "", 0, 0
        self._started = self._last = 0.0

    def start(self, total: int, description: str) -> None:
        self._stage, self._total, self._done = description, total, 0
        self._started = self._last = self._clock()
        self._say(f"{description}: 0/{total:,}")

    def advance(self, n: int) -> None:
        self._done += n
        now = self._clock()
        if now - self._last >= self._interval:
            self._last = now
            self._say(progress_line(self._stage, self._done, self._total, now - self._started))

    def finish(self) -> None:
        if self._stage:
            elapsed = self._clock() - self._started
            self._say(progress_line(self._stage, self._done, self._total, elapsed) + " — done")
            self._stage = ""

    def warn(self, message: str) -> None:
        _warn(message)

    def _say(self, line: str) -> None:
        stderr.print(Text(line), soft_wrap=True)


class RichProgress:
    """Indexing progress on a terminal: a bar with rate and time remaining, warnings above."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, total: int, description: str) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=stderr,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total, rate="")

    def advance(self, n: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, n)
            task = self._progress.tasks[0]
            if task.speed:
                self._progress.update(self._task, rate=f"{task.speed:.0f}/s")

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def warn(self, message: str) -> None:
        _warn(message)


def _warn(message: str) -> None:
    # Exactly one line per warning, whatever the terminal width or a file name holds.
    line = terminal_safe(message.replace("\n", "\\n"))
    stderr.print(Text(f"warning: {line}", style="yellow"), soft_wrap=True)


def cli_progress() -> RichProgress | LineProgress:
    """The bar on a terminal, timed lines otherwise."""
    if stderr.is_terminal:
        return RichProgress()
    return LineProgress(locations.progress_seconds())
