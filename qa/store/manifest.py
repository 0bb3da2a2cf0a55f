"""The manifest: what the committed generation is, read once into a typed, frozen value.

The ``manifest`` table holds ``key -> text`` rows, written in the transaction that
commits a generation. ``read_manifest`` is the one place that parses them and
``write_manifest`` the one place that writes them; everything else reads fields.

Text on disk, per key: numbers as decimal digits, the concentration with six decimals,
``ann_bytes`` and ``lexicon_passages`` as ``''`` when recorded as none. A key an older
Pilcrow did not write reads as its field's "not recorded" value (``''``, ``None``, ``0``
or ``UNRECORDED``) and is not written back. ``parts_pending`` is the one key a commit
removes: present only while a run that commits in parts has not made its last commit.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass, fields
from enum import Enum


@dataclass(frozen=True, slots=True)
class Delta:
    """One committed delta vector file: its name, vector count, size and stat as written
    (the same facts the manifest keeps of the base file), so a no-op run and a reader
    trust it by the same rules."""

    name: str
    count: int
    size: int
    stat: str

    @property
    def text(self) -> str:
        return f"{self.name}|{self.count}|{self.size}|{self.stat}"

    @classmethod
    def parse(cls, text: str) -> Delta | None:
        parts = text.split("|")
        if len(parts) != 4 or not (parts[1].isdigit() and parts[2].isdigit()) or not parts[0]:
            return None
        return cls(parts[0], int(parts[1]), int(parts[2]), parts[3])


class Unrecorded(Enum):
    """A key absent from the manifest, where absent means something else than "none"."""

    KEY = "unrecorded"


UNRECORDED = Unrecorded.KEY


@dataclass(frozen=True, slots=True)
class Manifest:
    """The committed generation, as the indexer recorded it (see docs/architecture.md).

    A default field means the key is absent (or, for a number, not a number): an empty
    table reads as ``Manifest()``, whose ``generation`` 0 says nothing was committed.
    """

    model: str = ""
    dim: int = 0
    normalized: str = ""  # "true": stored vectors are unit length
    metric: str = ""  # "inner_product"
    chunker: str | None = None  # CHUNKER_VERSION the documents were parsed with
    views: str | None = None  # VIEWS_VERSION their embedded views were made with
    generation: int = 0
    vectors: str = ""  # the vector file's name
    vector_count: int | None = None
    vector_bytes: int | None = None
    vector_stat: str = ""  # size:mtime:ctime:inode of the vector file as committed
    # Size of the approximate sidecar; None: the commit wrote none (one found is a crash's
    # leftover); UNRECORDED: an index from before sidecars (one found is trusted on checks).
    ann_bytes: int | Unrecorded | None = UNRECORDED
    concentration: float | None = None  # None: not recorded yet; not a number reads as nan
    # Passage count of the lexicon snapshot; None: recorded as not taken (a part's commit);
    # UNRECORDED: an index from before the lexicon (the next run takes it).
    lexicon_passages: int | Unrecorded | None = UNRECORDED
    lexicon_churn: int = 0  # passages inserted and deleted since the snapshot
    sentences: str = ""  # see qa.index.embedding.sentence_vectors_flag
    updated_at: str = ""
    # The part a run committed last when that run has not made its final commit yet (it
    # was killed): the next run says it resumes. 0: none (an older index reads so too).
    parts_pending: int = 0
    # The delta vector files committed since ``vectors`` (the base) was written, oldest
    # first, as ``Delta.text`` values joined by spaces (``qa.vectors.segments``); "": none.
    deltas: str = ""
    removed_passages: int = 0  # rows of ``vector_removals``: passages gone since the base
    # A random token each commit writes: names the commit (the BM25 index's marker holds
    # it, ``qa.bm25.engine.commit_of``); "" for an index from before it.
    commit_key: str = ""

    @property
    def delta_files(self) -> tuple[Delta, ...]:
        """The committed delta files, oldest first (an unparsable entry reads as none:
        the vector checks then find the generation's vectors incomplete)."""
        return tuple(d for d in map(Delta.parse, self.deltas.split()) if d is not None)

    @property
    def delta_vectors(self) -> int:
        return sum(d.count for d in self.delta_files)

    @property
    def is_empty(self) -> bool:
        """Nothing recorded at all (a new database)."""
        return self == Manifest()

    @classmethod
    def from_values(cls, values: dict[str, str]) -> Manifest:
        """Parse ``key -> text`` rows; unknown keys are ignored, absent ones defaulted."""

        def number(key: str) -> int | None:
            text = values.get(key, "")
            return int(text) if text.isascii() and text.isdigit() else None

        def optional(key: str) -> int | Unrecorded | None:
            return number(key) if key in values else UNRECORDED

        return cls(
            model=values.get("model", ""),
            dim=number("dim") or 0,
            normalized=values.get("normalized", ""),
            metric=values.get("metric", ""),
            chunker=values.get("chunker"),
            views=values.get("views"),
            generation=number("generation") or 0,
            vectors=values.get("vectors", ""),
            vector_count=number("vector_count"),
            vector_bytes=number("vector_bytes"),
            vector_stat=values.get("vector_stat", ""),
            ann_bytes=optional("ann_bytes"),
            concentration=_real(values["concentration"]) if "concentration" in values else None,
            lexicon_passages=optional("lexicon_passages"),
            lexicon_churn=number("lexicon_churn") or 0,
            sentences=values.get("sentences", ""),
            updated_at=values.get("updated_at", ""),
            parts_pending=number("parts_pending") or 0,
            deltas=values.get("deltas", ""),
            removed_passages=number("removed_passages") or 0,
            commit_key=values.get("commit_key", ""),
        )

    def to_values(self) -> dict[str, str]:
        """The rows to write: every recorded field as text, in field order."""
        out: dict[str, str] = {}
        for item in fields(self):
            text = _text(item.name, getattr(self, item.name))
            if text is not None:
                out[item.name] = text
        return out


def _text(key: str, value: object) -> str | None:
    """A field's text on disk, or None when it is not recorded (the key is left out)."""
    if value is UNRECORDED or value == "" or (key in _CLEARED and not value):
        return None
    if value is None:
        return "" if key in ("ann_bytes", "lexicon_passages") else None
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


# Keys whose "none" is written as no row at all, so a commit deletes them (a manifest
# row is otherwise only ever upserted, and an old value would outlive its commit).
_CLEARED = ("parts_pending", "deltas", "removed_passages")


def _real(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def read_manifest(db: sqlite3.Connection) -> Manifest:
    """The manifest as committed (within the caller's transaction, if any)."""
    rows = db.execute("SELECT key, value FROM manifest").fetchall()
    return Manifest.from_values({row[0]: row[1] for row in rows})


def write_manifest(db: sqlite3.Connection, manifest: Manifest) -> None:
    """Record ``manifest``; call inside the transaction that commits its generation."""
    values = manifest.to_values()
    db.executemany(
        "INSERT INTO manifest(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        list(values.items()),
    )
    gone = [key for key in _CLEARED if key not in values]
    db.executemany("DELETE FROM manifest WHERE key = ?", [(key,) for key in gone])
