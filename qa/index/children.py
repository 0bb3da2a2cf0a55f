"""Worker processes of a run (parsing, the model) that do not outlive it.

A ``ProcessPoolExecutor`` worker whose parent is killed (SIGKILL, the out-of-memory
killer, a crash test) is not told: it waits on its task queue for ever, holding its
memory (a model worker: a few hundred MB). On Linux the kernel can send the child a
signal when its parent dies (``prctl(PR_SET_PDEATHSIG)``); elsewhere nothing is done.
(Strictly, when the parent *thread* that started it ends: a pool is started, used and
shut down by one thread of the run, so that thread outlives its workers.)
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer: have the kernel kill this process when ``parent_pid`` dies
    (and exit now if it died already, between the spawn and this call)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:
        os._exit(1)
