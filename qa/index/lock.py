"""The index folder's write lock: one ``qa index`` at a time, readers never blocked."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qa.errors import IndexBusyError
from qa.locations import lock_path


@contextmanager
def write_lock(index_dir: Path, *, wait: bool = False) -> Iterator[None]:
    """Exclusive lock on the index folder: a second writer waits or refuses, never interleaves."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(index_dir), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise IndexBusyError(
                f"{index_dir} is being updated by another `qa index`{who}; "
                "wait for it to finish or pass --wait"
            ) from exc
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # closing releases the flock
