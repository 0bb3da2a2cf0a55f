"""Ingestion: corpus files to Documents with exactly citable passages.

Public API: :func:`discover` lists corpus files, :func:`parse_file` / :func:`parse_text`
turn one file into a :class:`~qa.models.Document`. Any problem with a file's content is an
:class:`~qa.errors.IngestError` naming the file; nothing else escapes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path, PurePath

from qa.errors import IngestError
from qa.ingest import article, cable_html, cable_text
from qa.ingest.decode import clean_text, decode_bytes
from qa.ingest.listing import SUFFIXES, scan
from qa.models import Document

__all__ = ["CHUNKER_VERSION", "SUFFIXES", "discover", "parse_file", "parse_text"]

# Bump whenever parsing or passage rules change: indexes built by another version rebuild.
CHUNKER_VERSION = "ingest-3"  # 3: paragraph markings, REF items, Classified-by

log = logging.getLogger(__name__)


def discover(corpus_dir: Path, unreadable: list[OSError] | None = None) -> list[Path]:
    """All corpus files under ``corpus_dir``, in order (``listing.scan``'s rules: hidden
    entries and READMEs skipped, symlinked folders not followed).

    ``unreadable``, when given, receives the error (``filename`` set) of every folder
    that could not be listed and every corpus-like entry that could not be examined
    (permissions): what is under them is unknown, not deleted.
    """
    listing = scan(corpus_dir)
    if unreadable is not None:
        unreadable.extend(listing.errors)
    return [corpus_dir / key for key, _ in listing.files]


def parse_file(path: Path, root: Path | None = None, data: bytes | None = None) -> Document:
    """Read (unless ``data`` is given), decode and parse one corpus file.

    ``Document.source`` is ``path`` relative to ``root`` when given. Raises IngestError.
    """
    source = _source(path, root)
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise IngestError(f"{source}: cannot read ({exc.strerror or exc})") from exc
    return _guarded(source, lambda: _dispatch(decode_bytes(data, source), source, path.suffix))


def parse_text(text: str, source: str, suffix: str) -> Document:
    """Parse already-decoded text as if it came from a file ``source`` with ``suffix``."""
    return _guarded(source, lambda: _dispatch(clean_text(text, source), source, suffix))


def _dispatch(text: str, source: str, suffix: str) -> Document:
    suffix = suffix.lower() if suffix.startswith(".") or not suffix else f".{suffix.lower()}"
    if suffix in (".html", ".htm"):
        return cable_html.parse(text, source, PurePath(source).stem)
    if suffix == ".txt" and cable_text.looks_like(text):
        return cable_text.parse(text, source)
    if suffix in (".txt", ".md"):
        return article.parse(text, source, markdown=suffix == ".md")
    raise IngestError(f"{source}: unsupported file type {suffix or '(none)'!r}")


def _guarded(source: str, parse: Callable[[], Document]) -> Document:
    """Run a parser; an unexpected crash becomes an IngestError for this file only.

    The parsers are property-tested never to raise anything but IngestError; this is the
    last line of defence so one odd file cannot stop the indexing of ten thousand.
    """
    try:
        return parse()
    except IngestError:
        raise
    except Exception as exc:
        log.exception("parser crashed on %s", source)
        raise IngestError(f"{source}: could not be parsed ({type(exc).__name__}: {exc})") from exc


def _source(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.relative_to(root))
        except ValueError:
            pass
    return str(path)
