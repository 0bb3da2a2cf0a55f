"""Named points of an indexing run where crash tests stop or kill a real ``qa index``."""

from __future__ import annotations

import os
import signal
import sys

from qa.locations import kill_points

_passes: dict[str, int] = {}  # point -> times this process passed it


def checkpoint(name: str) -> None:
    """A named point of an indexing run, for crash tests; a no-op in normal use.

    ``PILCROW_TEST_KILL_AT=point:n[:stop],...`` sends this process SIGKILL (or SIGSTOP,
    with ``:stop``) the n-th time it passes ``point``. Points, in run order: ``listed``
    (lock held, sources listed), ``parsed`` (each changed document), ``embedded`` (each
    cache batch committed), ``rows`` (each document written, inside the transaction),
    ``vector_tmp`` (next vector file durable under its temp name), ``vectors`` (renamed
    into place, manifest not yet committed), ``committed`` and ``cleanup`` (each old
    vector file deleted).
    """
    spec = kill_points()
    if not spec:
        return
    count = _passes[name] = _passes.get(name, 0) + 1
    for item in spec.split(","):
        point, _, rest = item.strip().partition(":")
        n, _, action = rest.partition(":")
        if point == name and n.strip() == str(count):
            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGSTOP if action == "stop" else signal.SIGKILL)
