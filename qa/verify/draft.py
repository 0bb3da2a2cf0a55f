"""Reading a draft: the same bytes-to-text rules for ``qa verify`` and the TUI's f3.

Offsets in a report count characters of the text returned here, so both callers must
decode alike: UTF-8, else CP1252, line ends made ``\\n`` (``qa.ingest.decode``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qa.errors import IngestError, UsageError

MAX_DRAFT_BYTES = 20_000_000  # a long feature is ~100 kB; anything near this is not a draft


def read_draft_file(path: Path) -> str:
    """The text of the draft file at ``path``, or a UsageError naming it and what is wrong."""

    def read(limit: int) -> bytes:
        with path.expanduser().open("rb") as handle:
            return handle.read(limit)

    return draft_text(read, str(path))


def draft_text(read: Callable[[int], bytes], label: str) -> str:
    """Decode what ``read(limit)`` returns (a file or stdin), refusing what is no draft."""
    from qa.ingest.decode import decode_bytes

    try:
        data = read(MAX_DRAFT_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read draft {label}: {exc.strerror or exc}") from exc
    if len(data) > MAX_DRAFT_BYTES:
        raise UsageError(f"draft {label} is over {MAX_DRAFT_BYTES // 1_000_000} MB: not a draft")
    try:
        return decode_bytes(data, label)
    except IngestError as exc:
        raise UsageError(f"draft {exc} (save it as plain text or Markdown)") from exc
