"""The BM25 index with top-k pruning: a tantivy index beside the SQLite store, written
by the indexer in step with each generation.

Why: FTS5 scores every row that matches any token of a question, about 2 µs a row, so a
long question costs in proportion to its tokens' summed document frequency (~120 ms at
the release's three million passages). tantivy's block-max WAND skips every block of
postings whose best possible score cannot enter the top k, so its cost follows the
answer, not the corpus. This module is the index's write side and its state; the read
side, which scores as FTS5 does, is ``qa.search.tantivy_lexical``.

The index is derived, like the vector files: built from the ``passages`` rows (the same
``search_text`` and ``context`` FTS5 indexes) and rebuildable at any time. tantivy-py
exposes no commit payload and cannot open an older commit, so the index names its own
state: one marker document, replaced in every commit, holds the SQLite commit it
reflects (generation and the manifest's commit key, ``commit_of``), this module's
``FORMAT``, the commit it was built on and what undoes its last change (the passage ids
it added and deleted). A reader uses tantivy only while the marker's commit is the
manifest's; otherwise FTS5, always in step, answers. A writer commits tantivy inside the
SQLite transaction that publishes the generation, just before its COMMIT (``apply``), so
a kill leaves tantivy at the old commit or one change ahead, which ``bring_in_step``
undoes at the cost of that one change; anything else is rebuilt.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tantivy

from qa.store import Manifest, fulltext, read_manifest

Row = tuple[int, str, str]  # (passage id, search_text, context)

FORMAT = 2  # bump when the schema or the analyzer changes: an index of another is rebuilt
TOKENIZER = "pilcrow"
UNDO_LIMIT = 1_000_000  # ids a commit may record to undo itself; beyond, a kill rebuilds
WRITER_HEAP = 200_000_000  # bytes of the writer's in-memory segments before it flushes
PROGRESS_ROWS = 10_000  # rows a build indexes between progress reports
_MARKER = 1  # the marker document's ``marker`` value


class NotInStep(Exception):
    """The tantivy index does not hold the generation a commit builds on."""


def analyzer() -> tantivy.TextAnalyzer:
    """FTS5's ``unicode61 remove_diacritics 2`` as closely as tantivy's parts allow.

    Split on what is not alphanumeric, fold to ASCII (``café`` → ``cafe``; also ``ß`` →
    ``ss``, ``æ`` → ``ae``, which unicode61 keeps), then lower-case. Folding comes first
    so that ``İ`` becomes ``i`` and not ``i`` plus a combining dot. Tokens over 100 bytes
    are dropped (tantivy refuses terms that long; no question has one).
    """
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(100))
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.lowercase())
        .build()
    )


ANALYZER = analyzer()


def schema() -> tantivy.Schema:
    """Two BM25 fields with term frequencies only (no positions: no phrase is ever
    searched), the passage id as an indexed fast field (deletes by term, ids read back
    without the doc store), and the marker's fields."""
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("pid", indexed=True, fast=True)
    builder.add_text_field("search_text", tokenizer_name=TOKENIZER, index_option="freq")
    builder.add_text_field("context", tokenizer_name=TOKENIZER, index_option="freq")
    builder.add_unsigned_field("marker", indexed=True)
    builder.add_unsigned_field("generation", fast=True)
    builder.add_unsigned_field("format", fast=True)
    builder.add_bytes_field("key", stored=True)
    builder.add_unsigned_field("base_generation", stored=True)
    builder.add_bytes_field("base_key", stored=True)
    builder.add_bytes_field("undo_added", stored=True)
    builder.add_bytes_field("undo_deleted", stored=True)
    return builder.build()


SCHEMA = schema()


Commit = tuple[int, str]  # (generation, commit key): one SQLite commit, named


def commit_of(manifest: Manifest) -> Commit:
    """The SQLite commit a manifest describes, as the marker records it.

    The generation alone does not name a commit: a run killed after tantivy's commit
    and before SQLite's leaves tantivy holding generation g+1, and a later run (one
    that does not keep tantivy, say) may commit a different g+1. The manifest's
    ``commit_key``, a random token each commit writes, tells them apart (an index from
    before it: the base vector file's stat, written by the same transaction).
    """
    return manifest.generation, manifest.commit_key or manifest.vector_stat


@dataclass(frozen=True, slots=True)
class Stamp:
    """What the marker document says: the commit the index holds, its format, the
    commit it was built on, and the ids its last change added and deleted (None: too
    many to record, or nothing to undo)."""

    commit: Commit
    format: int
    base: Commit | None = None
    added: np.ndarray | None = None
    deleted: np.ndarray | None = None

    @property
    def generation(self) -> int:
        """The generation the index holds."""
        return self.commit[0]


def _ids_bytes(ids: np.ndarray | None) -> bytes:
    return b"" if ids is None else np.asarray(ids, dtype="<i8").tobytes()


def _ids_from(blob: object) -> np.ndarray:
    return np.frombuffer(blob, dtype="<i8") if isinstance(blob, bytes) else np.empty(0, "<i8")


def open_index(directory: Path) -> tantivy.Index:
    """The index at ``directory`` with our analyzer registered (tantivy does not store
    custom analyzers: every open must register it before reading or writing)."""
    index = tantivy.Index.open(str(directory))
    index.register_tokenizer(TOKENIZER, ANALYZER)
    return index


def read_stamp(searcher: tantivy.Searcher) -> Stamp | None:
    """The marker of a searcher's snapshot; None when there is none (or two)."""
    found = searcher.search(term_query("marker", _MARKER), 2, count=False).hits
    if len(found) != 1:
        return None
    address = found[0][1]
    generation = searcher.fast_field_values("generation", [address])[0]
    fmt = searcher.fast_field_values("format", [address])[0]
    if not isinstance(generation, int) or not isinstance(fmt, int):
        return None
    doc = searcher.doc(address)
    key = doc.get_first("key")
    commit = (generation, key.decode() if isinstance(key, bytes) else "")
    base, base_key = doc.get_first("base_generation"), doc.get_first("base_key")
    if not isinstance(base, int) or not isinstance(base_key, bytes):
        return Stamp(commit, fmt)
    added, deleted = doc.get_first("undo_added"), doc.get_first("undo_deleted")
    return Stamp(commit, fmt, (base, base_key.decode()), _ids_from(added), _ids_from(deleted))


def term_query(field: str, value: object) -> tantivy.Query:
    """One term, scored with term frequencies (the fields hold no positions)."""
    return tantivy.Query.term_query(SCHEMA, field, value, index_option="freq")


def _passage_doc(pid: int, search_text: str, context: str) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_unsigned("pid", pid)
    doc.add_text("search_text", search_text)
    doc.add_text("context", context)
    return doc


def _marker_doc(stamp: Stamp) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_unsigned("marker", _MARKER)
    doc.add_unsigned("generation", stamp.generation)
    doc.add_unsigned("format", stamp.format)
    doc.add_bytes("key", stamp.commit[1].encode())
    if stamp.base is not None and stamp.added is not None and stamp.deleted is not None:
        doc.add_unsigned("base_generation", stamp.base[0])
        doc.add_bytes("base_key", stamp.base[1].encode())
        doc.add_bytes("undo_added", _ids_bytes(stamp.added))
        doc.add_bytes("undo_deleted", _ids_bytes(stamp.deleted))
    return doc


def _writer(index: tantivy.Index, threads: int) -> tantivy.IndexWriter:
    return index.writer(heap_size=WRITER_HEAP, num_threads=threads)


def _delete(writer: tantivy.IndexWriter, passage_ids: list[int]) -> None:
    """Delete passages by id, as one term-set query. Not ``delete_documents_by_term``:
    tantivy-py makes a Python int an i64 term, which never matches a u64 field, and
    deletes nothing without a word (tantivy 0.27.0)."""
    if passage_ids:
        writer.delete_documents_by_query(tantivy.Query.term_set_query(SCHEMA, "pid", passage_ids))


def build(
    db: sqlite3.Connection,
    directory: Path,
    *,
    threads: int = 1,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write the index anew from SQLite's committed rows, stamped with their generation.

    Rows and generation are read in one transaction, so they agree even if a writer
    commits meanwhile. The index is built beside ``directory`` and swapped in by two
    renames: at every instant ``directory`` is the old index, absent, or the new one,
    and a reader that finds it absent searches FTS5. Returns the passages indexed.
    """
    fresh = directory.with_name(directory.name + ".new")
    old = directory.with_name(directory.name + ".old")
    for leftover in (fresh, old):
        shutil.rmtree(leftover, ignore_errors=True)
    fresh.mkdir(parents=True)
    index = tantivy.Index(SCHEMA, path=str(fresh))
    index.register_tokenizer(TOKENIZER, ANALYZER)
    writer = _writer(index, threads)
    own = not db.in_transaction
    if own:
        db.execute("BEGIN")
    try:
        commit = commit_of(read_manifest(db))
        count = 0
        for row in fulltext.all_rows(db):
            writer.add_document(_passage_doc(*row))
            count += 1
            if progress is not None and count % PROGRESS_ROWS == 0:
                progress(PROGRESS_ROWS)
    finally:
        if own:
            db.execute("COMMIT")
    writer.add_document(_marker_doc(Stamp(commit, FORMAT)))
    writer.commit()
    writer.wait_merging_threads()
    if directory.exists():
        directory.rename(old)
    fresh.rename(directory)
    shutil.rmtree(old, ignore_errors=True)
    return count


def apply(
    directory: Path,
    base: Commit,
    commit: Commit,
    deleted: Sequence[int],
    added: Iterable[Row],
    *,
    threads: int = 1,
) -> int:
    """Commit one generation's change: ``deleted`` passage ids out, ``added`` rows in.

    Call inside the SQLite transaction that makes ``commit`` of ``base``, just before
    its COMMIT: a kill after this commit and before SQLite's leaves tantivy one ahead,
    which the marker's record of this change lets ``bring_in_step`` undo. Costs in
    proportion to the change (a new segment; deletes marked in the others); tantivy's
    merge policy folds small segments together on the writer's threads. Raises
    ``NotInStep`` unless the index holds ``base``; returns tantivy's opstamp.
    """
    index = open_index(directory)
    current = read_stamp(index.searcher())
    if current is None or current.format != FORMAT or current.commit != base:
        raise NotInStep(f"tantivy holds {current and current.commit}, not {base}")
    writer = _writer(index, threads)
    _delete(writer, [int(pid) for pid in deleted])
    new_ids: list[int] = []
    for pid, search_text, context in added:
        writer.add_document(_passage_doc(pid, search_text, context))
        new_ids.append(pid)
    stamp = Stamp(commit, FORMAT)
    if len(new_ids) + len(deleted) <= UNDO_LIMIT:
        ids = np.array(new_ids, dtype=np.int64), np.array(deleted, dtype=np.int64)
        stamp = Stamp(commit, FORMAT, base, *ids)
    writer.delete_documents_by_query(term_query("marker", _MARKER))
    writer.add_document(_marker_doc(stamp))
    opstamp = writer.commit()
    writer.wait_merging_threads()
    return opstamp


def bring_in_step(
    db: sqlite3.Connection,
    directory: Path,
    *,
    threads: int = 1,
    progress: Callable[[int], None] | None = None,
) -> str:
    """Make the index hold SQLite's committed generation, at the least cost.

    In step (the same commit): nothing. One change ahead of SQLite's commit, with that
    change recorded (a run killed between tantivy's commit and SQLite's): the change is
    undone. Anything else (absent, unreadable, another format, behind because a run
    went without tantivy, ahead of another commit): rebuilt from SQLite. Returns which
    of the three it did. Call under the indexer's write lock, outside any transaction.
    """
    committed = commit_of(read_manifest(db))
    try:
        stamp = read_stamp(open_index(directory).searcher())
    except (ValueError, OSError):  # absent, or not an index tantivy can open
        stamp = None
    if stamp is not None and stamp.format == FORMAT:
        if stamp.commit == committed:
            return "in step"
        if stamp.base == committed and _undo(db, directory, stamp, threads):
            return "undone"
    build(db, directory, threads=threads, progress=progress)
    return "rebuilt"


def _undo(db: sqlite3.Connection, directory: Path, stamp: Stamp, threads: int) -> bool:
    """Take back the last change: its added ids out, its deleted rows back from SQLite
    (which still holds them: its transaction never committed). False when that record
    is missing or does not fit SQLite (then the caller rebuilds)."""
    if stamp.base is None or stamp.added is None or stamp.deleted is None:
        return False
    back = rows_of(db, stamp.deleted.tolist())
    if len(back) != len(stamp.deleted):
        return False
    index = open_index(directory)
    writer = _writer(index, threads)
    _delete(writer, stamp.added.tolist())
    for row in back:
        writer.add_document(_passage_doc(*row))
    writer.delete_documents_by_query(term_query("marker", _MARKER))
    writer.add_document(_marker_doc(Stamp(stamp.base, FORMAT)))
    writer.commit()
    writer.wait_merging_threads()
    return True


def rows_of(db: sqlite3.Connection, passage_ids: Sequence[int]) -> list[Row]:
    """``(id, search_text, context)`` of the given passages that exist, in id order."""
    return fulltext.rows_of(db, passage_ids)
