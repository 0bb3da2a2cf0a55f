"""Files written whole: a reader sees the old file or the new one, never half of each.

Every file Pilcrow writes for others to read (vector files, their sidecars, the ONNX
model cache, exports) goes through ``write_atomic``: a temporary file in the same
folder, written and fsynced, moved over the target with ``os.replace``, then the folder
fsynced so that the rename itself survives a power cut. The file gets the mode any
new file gets (0666 less the umask), as the SQLite database does: ``mkstemp``'s 0600
would lock out another user who may read the index folder.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

Content = bytes | bytearray | memoryview | str | Callable[[Path], None]
"""What ``write_atomic`` writes: bytes, text (UTF-8), or a function that writes the file
at the path it is given (for libraries that only write to a path: FAISS, ONNX)."""

TEMP_SUFFIX = ".tmp"  # a leftover of a killed write ends so (the indexer's cleanup knows it)
FILE_MODE = 0o666  # before the umask, which the kernel applies (as it does to open())


def write_atomic(
    path: Path, content: Content, *, before_replace: Callable[[], None] | None = None
) -> int:
    """Write ``path`` whole and durably; returns the size written in bytes.

    The temporary file is ``<name>XXXX.tmp`` beside ``path`` (same file system, so the
    replace is atomic). ``before_replace`` runs once it is durable, before it takes the
    name (crash tests stop there). On any failure the temporary file is removed and
    ``path`` is left as it was.
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = _create_temp(path)
    try:
        size = _fill(fd, tmp, data)
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    return size


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new file ``<name>XXXX.tmp`` beside ``path``, open for writing, created with
    FILE_MODE so the umask decides its permissions; exclusive, as ``mkstemp`` is."""
    for _ in range(100):
        tmp = path.with_name(f"{path.name}{secrets.token_hex(4)}{TEMP_SUFFIX}")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
            return os.open(tmp, flags, FILE_MODE), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"{path.parent}: no free temporary name for {path.name}")


def _fill(fd: int, tmp: Path, data: bytes | bytearray | memoryview | Callable[[Path], None]) -> int:
    """Write the temporary file (open as ``fd``, which this closes), fsync it; its size."""
    try:
        if callable(data):
            os.close(fd)
            fd = -1
            data(tmp)
            fd = os.open(tmp, os.O_RDONLY)  # the file now under that name, however written
        else:
            with open(fd, "wb", closefd=False) as fh:
                fh.write(data)
        os.fsync(fd)
        return os.fstat(fd).st_size
    finally:
        if fd >= 0:
            os.close(fd)


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new file name in ``folder`` durable."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def file_stat(info: os.stat_result) -> str:
    """Size, mtime, ctime and inode as ``size:mtime_ns:ctime_ns:inode``: a file whose stat
    is unchanged has unchanged content (git's rule; ``chmod`` and ``touch -d`` change ctime).
    """
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_ino}"


def readable_by_mode(info: os.stat_result) -> bool | None:
    """True when the file ``info`` describes is readable by this process for certain
    from its mode, else None (ask ``os.access``).

    The owner's read bit grants the owner a read (a POSIX ACL's owner entry is those
    bits), root or not, capabilities or not. The listing stats every file anyway; this
    spares the ``access`` call per file (6 µs here: 1.5 s of a 250k-cable no-op run)
    in the usual case of a corpus one owns. A security module (SELinux, AppArmor) may
    still refuse: the read then fails and is reported, as for a file whose mode changed
    between listing and reading. Only when the real and effective ids agree: ``access``
    checks the real ones.
    """
    uid = os.getuid()
    if uid == os.geteuid() and info.st_uid == uid and info.st_mode & 0o400:
        return True
    return None
