"""What an indexing run tells its caller: progress as it goes, a summary at the end."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


class Progress(Protocol):
    """How indexing reports to a CLI progress bar, a TUI widget or nothing."""

    def start(self, total: int, description: str) -> None: ...
    def advance(self, n: int) -> None: ...
    def finish(self) -> None: ...
    def warn(self, message: str) -> None: ...


class SilentProgress:
    """Progress that logs warnings and shows nothing (tests, library use)."""

    def start(self, total: int, description: str) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def finish(self) -> None:
        pass

    def warn(self, message: str) -> None:
        log.warning("%s", message)


@dataclass
class IndexSummary:
    """What one ``qa index`` run did; ``qa index --json`` prints exactly these keys."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0
    files_read: int = 0  # files read and hashed; the rest were known unchanged by their stat
    passages: int = 0
    passages_embedded: int = 0
    sentences_embedded: int = 0  # passages given sentence vectors (highlighting)
    seconds: float = 0.0
    documents: int = 0
    generation: int = 0
    rebuilt: str = ""
    resumed: str = ""  # the run finished one that was killed between its parts
    repaired: str = ""
    embedded_on: dict[str, int] = field(default_factory=dict)  # Ray: texts per node
    embed_restarts: int = 0  # Ray: embedding workers restarted (their batch retried)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


def resumed_note(part: int, committed: int, to_go: int) -> str:
    """What a run says when it finishes a build killed after its ``part``-th commit:
    ``committed`` documents were kept, ``to_go`` are this run's to parse."""
    return (
        f"resuming a build that stopped after part {part}: "
        f"{committed:,} documents already committed, {to_go:,} to go"
    )


def skip(summary: IndexSummary, progress: Progress, message: str) -> None:
    """A source left out of the run: counted, kept in the summary, and shown now."""
    summary.skipped += 1
    summary.warnings.append(message)
    progress.warn(message)


def record_repair(summary: IndexSummary, done: str) -> None:
    """Add ``done`` to the summary's ``repaired``, after what the run repaired before."""
    summary.repaired = "; ".join(filter(None, [summary.repaired, done]))


def repaired(summary: IndexSummary, progress: Progress, damage: str) -> None:
    """The committed vector file could not be used (``damage`` says why): the next
    generation is built from the embedding cache instead, and the user is told."""
    record_repair(summary, f"{damage}: rebuilt it from the embedding cache")  # after the cache's
    progress.warn(f"{damage}; rebuilding it from the embedding cache")
