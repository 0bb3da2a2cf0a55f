"""What a run indexes: sources, each with a key, a cheap stat, a digest and a parser.

``FileSource`` is a corpus file; ``qa eval`` indexes BEIR entries and the benchmarks
synthetic copies through the same ``Source`` protocol. The stat rules (git's) live here:
a file whose stat is as recorded is not read, and a stat taken while the file may still
change within the same timestamp tick ("racily clean") is not recorded.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import time
from pathlib import Path
from typing import Protocol

from qa.errors import IngestError
from qa.fsutil import file_stat, readable_by_mode
from qa.ingest import parse_file
from qa.ingest.listing import scan
from qa.models import Document

MAX_FILE_BYTES = 16 * 1024 * 1024  # larger corpus files are skipped, never read whole
MAX_PASSAGE_CHARS = 1_000_000  # ~20x the longest real cable paragraph: not a paragraph
RACY_SECONDS = 2  # a file modified this recently may change again without its stat changing


class Source(Protocol):
    """One document to index: a stable key, a content digest, and how to parse it."""

    key: str

    def stat_key(self) -> str:
        """A cheap fingerprint taken without reading the source; '' when it has none (or
        cannot be trusted), and the source is then read."""
        ...

    def digest(self) -> str:
        """A hash of the content; raises ``IngestError`` when it cannot be read."""
        ...

    def read_stat(self) -> str:
        """The fingerprint of the content ``digest`` read, to record; '' for none."""
        ...

    def load(self) -> Document:
        """The parsed document; raises ``IngestError`` when it cannot be parsed."""
        ...


def settled_stat(info: os.stat_result, now_ns: int) -> str:
    """``file_stat(info)``, or '' when the file was modified in the last RACY_SECONDS: it
    may change again within the same timestamp tick without its stat changing."""
    racy = now_ns - info.st_mtime_ns < RACY_SECONDS * 1_000_000_000
    return "" if racy else file_stat(info)


class ReadRefusedError(IngestError):
    """A file the run may not read (EACCES, EPERM): its content is unknown, not gone. An
    update keeps its document as indexed; a rebuild, which cannot, is refused."""


class FileSource:
    """A corpus file; read once, hashed, parsed only when its hash changed."""

    def __init__(
        self, path: Path | None, root: Path, key: str = "", listed: os.stat_result | None = None
    ) -> None:
        """``key``: ``path`` relative to ``root`` when the caller has it (``path`` may then
        be None: made from them when first needed, as a no-op run never needs it);
        ``listed``: the stat the listing took (``stat_key`` then costs no system call)."""
        if not key:
            if path is None:
                raise ValueError("a FileSource needs its path or its key")
            key = str(path.relative_to(root))
        self._path, self.root, self.key = path, root, key
        self._listed = listed
        self._data: bytes | None = None
        self._read_stat = ""  # of the bytes last read by digest()

    @property
    def path(self) -> Path:
        """The file (``root / key``, made once: pathlib costs ~17 µs a path)."""
        if self._path is None:
            self._path = self.root / self.key
        return self._path

    def stat_key(self) -> str:
        """Size, mtime, ctime and inode: unchanged means unchanged content (git's rule).

        ctime is in it because ``chmod`` and ``touch -d`` change it, so a file made
        unreadable is still read (and reported), and a back-dated edit is still seen.
        '' when the file cannot be read by us (one indexed by another user may not be):
        it is then read, to be reported.
        """
        try:
            info = self._listed or self.path.stat()
        except OSError:
            return ""
        readable = readable_by_mode(info)
        if readable is None:
            readable = os.access(self.path, os.R_OK)
        return file_stat(info) if readable else ""

    def digest(self) -> str:
        """The file's blake2b hash; its bytes are kept for ``load``."""
        if not _storable(self.key):
            # A name that is not UTF-8 (an old Latin-1 archive) cannot be stored or shown
            # as is; skip the file rather than fail the whole run.
            printable = os.fsencode(self.key).decode("utf-8", "backslashreplace")
            raise IngestError(f"{printable}: file name is not valid UTF-8; rename the file")
        try:
            info = self.path.stat()
            if not stat.S_ISREG(info.st_mode):
                raise IngestError(f"{self.key}: not a regular file")
            if info.st_size > MAX_FILE_BYTES:
                raise IngestError(
                    f"{self.key}: too large ({info.st_size / 2**20:.1f} MB; files over "
                    f"{MAX_FILE_BYTES // 2**20} MB are not indexed)"
                )
            self._data = self.path.read_bytes()
            # Taken before the read: if the file changes meanwhile, the next run rehashes.
            self._read_stat = settled_stat(info, time.time_ns())
        except OSError as exc:
            refused = exc.errno in (errno.EACCES, errno.EPERM)
            error = ReadRefusedError if refused else IngestError
            raise error(f"{self.key}: cannot read ({self._reason(exc)})") from exc
        return hashlib.blake2b(self._data, digest_size=16).hexdigest()

    def read_stat(self) -> str:
        return self._read_stat

    def _reason(self, exc: OSError) -> str:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        if exc.errno == errno.ENOENT:
            return "dangling symlink" if self.path.is_symlink() else "file vanished"
        return exc.strerror or str(exc)

    def load(self) -> Document:
        """The parsed file (read now if ``digest`` was not called); the bytes are let go."""
        if self._data is None:
            self.digest()
        try:
            return parse_file(self.path, root=self.root, data=self._data)
        finally:
            self._data = None


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class UnreadablePath:
    """A folder that could not be listed, or an entry that could not be examined.

    Not a document: the run reports it (``message``) and counts it as skipped, and the
    plan keeps every document indexed from at or under it (``Plan``'s ``unreadable``),
    since what it holds now is unknown, not deleted.
    """

    def __init__(self, path: Path, root: Path, error: OSError) -> None:
        self.key = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        shown = str(root) if self.key == "." else self.key
        shown = os.fsencode(shown).decode("utf-8", "backslashreplace")  # a Latin-1 name
        reason = error.strerror or str(error)
        self.message = f"{shown}: cannot read ({reason}); the documents indexed from it are kept"

    def stat_key(self) -> str:
        return ""

    def digest(self) -> str:
        raise IngestError(self.message)

    def read_stat(self) -> str:
        return ""

    def load(self) -> Document:
        raise IngestError(self.message)


def file_sources(corpus_dir: Path) -> list[FileSource | UnreadablePath]:
    """The corpus files, then the paths that could not be read at all, then the entries
    that look like corpus files but cannot be read as files, from one walk
    (``qa.ingest.listing.scan``).

    Symlink loops, dangling symlinks and special files are listed so that each is
    reported (path and reason) and counted as skipped rather than silently ignored (or,
    if indexed before, silently dropped); so are folders that could not be listed and
    entries that could not be examined (``UnreadablePath``).
    """
    listing = scan(corpus_dir)
    sources: list[FileSource | UnreadablePath] = [
        FileSource(None, corpus_dir, key, info) for key, info in listing.files
    ]
    for error in listing.errors:
        sources.append(UnreadablePath(Path(os.fsdecode(error.filename)), corpus_dir, error))
    sources += [FileSource(corpus_dir / key, corpus_dir, key) for key in listing.odd]
    return sources


def check_passage_sizes(key: str, doc: Document) -> None:
    """Refuse a document whose "paragraph" is a gigantic blob (a file with no line breaks).

    Such a passage cannot be cited usefully, and every search that shows it would
    highlight sentences over megabytes of text.
    """
    longest = max((len(p.text) for p in doc.passages), default=0)
    if longest > MAX_PASSAGE_CHARS:
        raise IngestError(
            f"{key}: one passage of {longest:,} characters (no paragraph breaks); not indexed"
        )
