"""Files written whole: a reader sees the old file or the new one, never half of each.

Every file Pilcrow writes for others to read (vector files, their sidecars, the ONNX
model cache, exports) goes through ``write_atomic``: a temporary file in the same
folder, written and fsynced, moved over the target with ``os.replace``, then the folder
fsynced so that the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

Content = bytes | bytearray | memoryview | str | Callable[[Path], None]
"""What ``write_atomic`` writes: bytes, text (UTF-8), or a function that writes the file
at the path it is given (for libraries that only write to a path: FAISS, ONNX)."""

TEMP_SUFFIX = ".tmp"  # a leftover of a killed write ends so (the indexer's cleanup knows it)


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
    fd, tmp_name = tempfile.mkstemp(prefix=path.name, suffix=TEMP_SUFFIX, dir=path.parent)
    tmp = Path(tmp_name)
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
