"""One pass over a corpus folder: its files with their stat, the odd entries, the errors.

A no-op ``qa index`` of the whole release is mostly this listing (251,287 files), so it
is one ``os.scandir`` walk taking one ``stat`` per corpus file and building keys as
strings, with no ``pathlib`` work per entry: the stat it takes is the one the run
compares with the recorded stat, so an unchanged file costs one system call.

The rules (``discover``'s): hidden entries and READMEs are skipped; symlinked folders
are named but never walked (no loops, no escaping the corpus); files come in the order
of their path's parts, so a run's parts and reports do not depend on the file system's
order. An entry named like a corpus file that is no regular file (a FIFO, a dangling
symlink, a symlink loop) is listed as ``odd``, to be reported by the run; a folder that
cannot be listed and an entry that cannot be examined (permissions) are ``errors``
(``OSError`` with ``filename`` set): what is under them is unknown, not deleted.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path

SUFFIXES = frozenset({".html", ".htm", ".txt", ".md"})
SKIP_NAMES = frozenset({"README.md"})
_name = attrgetter("name")  # the sort key of a folder's entries
_GONE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EBADF)  # no file there (now)


@dataclass(slots=True)
class Listing:
    """What one walk found: ``files`` as (key, stat) in order, keys relative to the
    corpus folder with ``/`` between parts."""

    files: list[tuple[str, os.stat_result]] = field(default_factory=list)
    odd: list[str] = field(default_factory=list)
    errors: list[OSError] = field(default_factory=list)


def scan(corpus_dir: Path) -> Listing:
    """Walk ``corpus_dir`` once (depth first, entries by name; no recursion limit)."""
    listing = Listing()
    stack: list[tuple[Iterator[os.DirEntry[str]], str]] = []
    _enter(str(corpus_dir), "", stack, listing)
    while stack:
        entries, prefix = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        if entry.name.startswith("."):
            continue
        key = prefix + entry.name
        if _is_dir(entry):
            if not entry.is_symlink():  # a symlinked folder is never walked
                _enter(entry.path, key + "/", stack, listing)
        elif entry.name not in SKIP_NAMES and _suffix(entry.name) in SUFFIXES:
            _classify(entry, key, listing)
    return listing


def _enter(
    folder: str,
    prefix: str,
    stack: list[tuple[Iterator[os.DirEntry[str]], str]],
    listing: Listing,
) -> None:
    """Push ``folder``'s entries, sorted by name, or note why it cannot be listed."""
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=_name)
    except OSError as exc:
        if exc.filename is None:
            exc.filename = folder
        listing.errors.append(exc)
        return
    stack.append((iter(entries), prefix))


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows a symlink: a symlinked folder is a folder here
    except OSError:
        return False


def _classify(entry: os.DirEntry[str], key: str, listing: Listing) -> None:
    """A corpus-named entry: a regular file with its stat, an odd entry, or an error."""
    try:
        info = entry.stat()  # follows symlinks, as reading the file will
    except OSError as exc:
        if exc.errno not in _GONE:
            if exc.filename is None:
                exc.filename = entry.path
            listing.errors.append(exc)
        elif entry.is_symlink():  # dangling, or a loop: reported by the run
            listing.odd.append(key)
        return  # else a file gone since the folder was read: nothing to index
    if stat.S_ISREG(info.st_mode):
        listing.files.append((key, info))
    else:
        listing.odd.append(key)


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""
