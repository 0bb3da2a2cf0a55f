"""Which sources a run parses, which rows it drops, and how its commits are split: pure.

The plan is decided source by source, as the run stats, hashes and parses them (the bytes
of a file are held only from its hash to its parse, parsed documents only until their part
is committed), from what the database recorded of each file when the run began. Nothing
here reads a file, the database or a vector: tests drive it with plain values.

The rules:

* a source whose stat is as recorded is unchanged and not even read; one whose bytes hash
  as recorded is unchanged, and its new stat (if settled) is recorded (``restat``);
* with ``reparse`` (a new chunker or view format) every source is read and parsed again;
* a document id belongs to one source per run: the one that recorded it, if still listed
  or kept unread (a renamed file hands its id on), else the first to claim it;
* a recorded source at or under a path that could not be read (a folder without
  permission, an entry that cannot be examined) is not deleted: it is kept as it is;
* a run that would remove every document, or more than half of them and at least
  ``REMOVAL_FLOOR``, is refused unless asked for (``removal``): an empty, unmounted or
  mistyped corpus folder looks exactly like deleting every file;
* a big run is committed in parts of about ``part_passages`` passages, whole documents
  each; the rows of deleted files go with the first part (a renamed file's new row would
  otherwise take a document id its old row still holds), and a part waits, growing, while
  one of its document ids is held by a row that only a later part drops.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Generic, TypeVar

from qa.store import StoredFile

T = TypeVar("T")

REMOVAL_SHARE = 0.5  # a run may remove up to this share of the index's documents unasked
REMOVAL_FLOOR = 3  # ... and, short of all of them, always fewer than this many


def covered(key: str, unreadable: Collection[str]) -> bool:
    """Whether source ``key`` is, or lies under, one of the ``unreadable`` paths (keys
    relative to the corpus; ``.`` is the corpus itself)."""
    if not unreadable:  # the usual run: no path parsing per recorded source (250k of them)
        return False
    parts = PurePath(key).parts
    return any(parts[: len(p)] == p for p in (PurePath(u).parts for u in unreadable))


@dataclass(frozen=True, slots=True)
class Removal:
    """What a run would remove of the ``recorded`` documents: ``removed`` whose sources
    are gone, ``lost`` of them only because a path could not be read (a rebuild, which
    cannot keep them), under ``unreadable``."""

    recorded: int
    removed: int
    lost: int = 0
    unreadable: tuple[str, ...] = ()

    def refusal(self) -> str:
        """Why the run must not go on unasked ('' when it may): documents that a rebuild
        would lose to a path it cannot read, every document, or more than REMOVAL_SHARE
        of them and at least REMOVAL_FLOOR (a 2-document index may lose one). How to go
        on all the same is the caller's to say: the CLI's flag is not the TUI's way."""
        if self.lost:
            named = ", ".join(self.unreadable[:3]) + (", ..." if len(self.unreadable) > 3 else "")
            return (
                f"cannot read {named}: rebuilding would drop the {self.lost} documents "
                "indexed from there (make them readable, then rebuild); nothing was changed"
            )
        many = self.removed > self.recorded * REMOVAL_SHARE and self.removed >= REMOVAL_FLOOR
        if self.removed and (self.removed == self.recorded or many):
            return (
                f"this run would remove {self.removed} of the {self.recorded} indexed "
                "documents, as their files are no longer in the corpus (is the folder "
                "right, mounted and not empty?); nothing was changed"
            )
        return ""


def removal(
    recorded: Collection[str],
    listed: Collection[str],
    unreadable: Collection[str] = (),
    *,
    rebuild: bool = False,
) -> Removal:
    """What a run over ``listed`` sources would remove of the ``recorded`` ones: an update
    keeps those under ``unreadable`` paths (``Plan`` does), a rebuild loses them."""
    held = sum(1 for key in recorded if covered(key, unreadable)) if unreadable else 0
    gone = sum(1 for key in recorded if key not in listed and not covered(key, unreadable))
    if rebuild:
        return Removal(len(recorded), gone + held, held, tuple(unreadable))
    return Removal(len(recorded), gone, 0, tuple(unreadable))


@dataclass(frozen=True, slots=True)
class Part(Generic[T]):
    """Documents committed together as one generation, and the rows that commit drops."""

    items: tuple[T, ...]  # the parsed documents to insert, in listing order
    replaced: tuple[int, ...]  # rows of their recorded versions
    removed: tuple[int, ...]  # rows of deleted files (all of them in a run's first commit)

    @property
    def dropped(self) -> list[int]:
        """Every document row the commit deletes."""
        return [*self.replaced, *self.removed]


class Plan(Generic[T]):
    """One run's decisions and tallies, fed as the run goes (see the module's rules).

    ``T`` is what the run keeps of a parsed document; the plan only passes it on.
    """

    def __init__(
        self,
        recorded: Mapping[str, StoredFile],
        listed: Collection[str],
        *,
        reparse: bool = False,
        part_passages: int | None = None,
        unreadable: Collection[str] = (),
    ) -> None:
        """``recorded``: source -> what the database holds of it; ``listed``: the keys of
        the sources now; ``part_passages``: None commits the run at once (a rebuild);
        ``unreadable``: paths that could not be read, whose recorded sources are kept."""
        self._recorded = recorded
        self._reparse = reparse
        self._part_passages = part_passages
        self.removed = [
            f.row_id
            for key, f in recorded.items()
            if key not in listed and not covered(key, unreadable)
        ]
        self.added = self.changed = self.unchanged = self.files_read = 0
        self.parsed = 0  # documents handed to ``add``: what the run commits
        self.restat: dict[int, str] = {}  # row id -> new stat of files whose bytes did not change
        self.parts = 0  # parts handed out so far
        self.unread: list[str] = []  # listed sources the run was refused to read
        # A document kept because its path cannot be read still holds its id: no other
        # source may claim it (its row would then clash with the kept one).
        self._owners = {
            f.doc_id.lower(): key
            for key, f in recorded.items()
            if key in listed or covered(key, unreadable)
        }
        self._holders = {f.doc_id: f.row_id for f in recorded.values()}  # doc id -> its row
        self._gone: set[int] = set()  # rows dropped by the parts handed out
        self._items: list[T] = []
        self._doc_ids: list[str] = []
        self._replaced: list[int] = []
        self._unremoved = list(self.removed)
        self._pending = 0  # passages of the items not yet handed out

    def known_by_stat(self, key: str, stat_key: Callable[[], str]) -> bool:
        """True (counted unchanged) when the source's stat is as recorded: it is not read.
        Else the source is to be read and hashed (counted in ``files_read``)."""
        old = self._recorded.get(key)
        if old and old.file_stat and not self._reparse and stat_key() == old.file_stat:
            self.unchanged += 1
            return True
        self.files_read += 1
        return False

    def known_by_digest(self, key: str, digest: str, read_stat: str) -> bool:
        """True (counted unchanged) when the bytes hash as recorded: not parsed, and
        ``read_stat``, when there is one, is recorded for the next run."""
        old = self._recorded.get(key)
        if old and old.file_hash == digest and not self._reparse:
            self.unchanged += 1
            if read_stat:
                self.restat[old.row_id] = read_stat
            return True
        return False

    def refused(self, key: str) -> None:
        """Source ``key`` may not be read (permissions): an update keeps its recorded
        version (it is listed, so not removed); a rebuild must not go on (``removal``)."""
        self.unread.append(key)

    def owner(self, key: str, doc_id: str) -> str:
        """The source that owns ``doc_id`` (any case) in this run; ``key`` claims it if
        none does. A document whose owner is another source is skipped."""
        return self._owners.setdefault(doc_id.lower(), key)

    def add(self, key: str, digest: str, doc_id: str, passages: int, item: T) -> Part[T] | None:
        """Count a parsed document (added, changed or re-parsed) and keep ``item``.

        Returns the part to commit now when one is due and can go in; the plan then
        starts the next one.
        """
        old = self._recorded.get(key)
        if old:
            self._replaced.append(old.row_id)
            if old.file_hash == digest:
                self.unchanged += 1
            else:
                self.changed += 1
        else:
            self.added += 1
        self.parsed += 1
        self._items.append(item)
        self._doc_ids.append(doc_id)
        self._pending += passages
        if self._part_passages is None or self._pending < self._part_passages:
            return None
        if not self._fits():
            return None
        part = self._current()
        self.parts += 1
        self._gone.update(part.dropped)
        self._items, self._doc_ids, self._replaced, self._unremoved = [], [], [], []
        self._pending = 0
        return part

    def rest(self) -> Part[T]:
        """What the run's last commit holds: the documents no part took, and the rows
        still to drop."""
        return self._current()

    def _current(self) -> Part[T]:
        return Part(tuple(self._items), tuple(self._replaced), tuple(self._unremoved))

    def _fits(self) -> bool:
        """No document of the part takes an id still held by a row it does not drop."""
        dropping = {*self._replaced, *self._unremoved}
        held = (self._holders.get(doc_id) for doc_id in self._doc_ids)
        return all(row is None or row in dropping or row in self._gone for row in held)
