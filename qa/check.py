"""``qa index --check``: verify that an index is whole and self-consistent.

Checks what can go wrong on disk: SQLite integrity, a manifest written by this version's
chunker and views, naming a readable vector file of the recorded size and dimension, one
vector per embedded window of every passage (and no vector without a passage), vectors
equal to the cached embeddings they were built from, the FTS index in step with the
passages, and every passage's text (its slice of the document body) the text that was
indexed. Everything is read in one SQLite snapshot, so a concurrent ``qa index`` cannot
make it mix generations.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa import bm25, locations, store, vectors
from qa.errors import IndexDamagedError, IndexUnreadableError, NoIndexError, QAError
from qa.ingest import CHUNKER_VERSION
from qa.store import Manifest
from qa.vectors import VectorFileDamaged
from qa.views import VIEWS_VERSION, text_hash

SAMPLED_VECTORS = 512  # vectors compared value by value with the embedding cache


@dataclass
class CheckReport:
    documents: int = 0
    passages: int = 0
    vectors: int = 0
    generation: int = 0
    model: str = ""
    # "fp16", or "float32" for a vector file of the previous layout (sound, and rewritten
    # as fp16 by the next committing `qa index`); "" when the file could not be read.
    vector_layout: str = ""
    problems: list[str] = field(default_factory=list)
    # What costs speed, never an answer, and the next `qa index` mends (a BM25 index out
    # of step, as a run in progress or killed leaves it): said, but the index is ok.
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "documents": self.documents,
            "passages": self.passages,
            "vectors": self.vectors,
            "generation": self.generation,
            "model": self.model,
            "vector_layout": self.vector_layout,
            "problems": self.problems,
            "notes": self.notes,
        }


def check_index(index_dir: Path) -> CheckReport:
    """Every inconsistency found, as sentences naming the fix; empty when all is well.

    Raises ``NoIndexError`` when there is no index (or no committed generation) at all,
    and ``IndexUnreadableError`` when this user may not read its vector file (what to
    grant, not damage: a rebuild would not help).
    A check that finds problems while a writer commits (a big run commits parts seconds
    apart, and cleans up the vector file the check's snapshot names) is run once more on
    the new generation, so a busy index is not reported damaged.
    """
    report = _check_once(index_dir)
    if report.problems and report.generation and _moved_on(index_dir, report.generation):
        return _check_once(index_dir)
    return report


def _moved_on(index_dir: Path, generation: int) -> bool:
    """Whether a generation after ``generation`` has been committed since."""
    try:
        db = store.connect(locations.db_path(index_dir), readonly=True)
        try:
            return store.read_manifest(db).generation != generation
        finally:
            db.close()
    except QAError:
        return False


def _check_once(index_dir: Path) -> CheckReport:
    """One pass of the checks, in one read snapshot."""
    report = CheckReport()
    try:
        db = store.connect(locations.db_path(index_dir), readonly=True)
    except NoIndexError:
        raise
    except QAError as exc:
        report.problems.append(str(exc))
        return report
    try:
        db.execute("BEGIN")  # one read snapshot for every query below
        _check(db, index_dir, report)
    except (NoIndexError, IndexUnreadableError):  # no index, or a permission to grant:
        raise  # not damage, so never "damaged: rebuild" (the CLI's one line, as `qa ask`)
    except QAError as exc:  # damage found by a query (garbage inside the database)
        report.problems.append(str(exc))
    finally:
        db.close()
    return report


def _check(db: sqlite3.Connection, index_dir: Path, report: CheckReport) -> None:
    try:
        store.verify(db)  # PRAGMA quick_check, as one line
    except IndexDamagedError as exc:
        report.problems.append(f"SQLite integrity check failed: {exc}")
        return
    manifest = store.read_manifest(db)
    if not manifest.generation:
        raise NoIndexError(f"index at {index_dir} has no committed generation: run `qa index`")
    report.generation = manifest.generation
    report.model = manifest.model
    _check_versions(manifest, report)
    report.documents, report.passages = store.counts(db)
    fts_rows = db.execute("SELECT count(*) FROM passages_fts_docsize").fetchone()[0]
    if fts_rows != report.passages:
        report.problems.append(
            f"full-text index has {fts_rows} rows for {report.passages} passages; "
            "rebuild with `qa index --rebuild`"
        )
    bad_slices = _passages_unlike_indexed(db)
    if bad_slices:
        report.problems.append(
            f"{bad_slices} passages do not match their document text; "
            "rebuild with `qa index --rebuild`"
        )
    view_hashes = dict(store.all_view_hashes(db))
    sound = _check_cache(db, report.model, view_hashes, report)
    _check_vectors(db, index_dir, manifest, view_hashes, report, compare=sound)
    _check_bm25(index_dir, manifest, report)


def _check_bm25(index_dir: Path, manifest: Manifest, report: CheckReport) -> None:
    """The BM25 index (tantivy, ``qa.bm25``), where there is one this install would
    search: it holds the committed generation and every passage. Out of step it costs
    speed, never an answer (readers search FTS5 meanwhile), and a run in progress
    leaves it so for moments: a note, not a problem; the next `qa index` brings it in
    step or rebuilds it. With ``PILCROW_BM25=fts5`` it is neither searched nor kept, and
    not checked."""
    directory = locations.bm25_path(index_dir)
    if locations.bm25_setting() == "fts5" or not directory.is_dir() or not bm25.available():
        return
    from qa.bm25 import engine
    from qa.search.tantivy_lexical import TantivyLexical

    reader = TantivyLexical.open(directory)
    advice = "searches use FTS5 (slower) until `qa index` brings it in step"
    if reader is None:
        report.notes.append(f"BM25 index {directory} cannot be opened: {advice}")
    elif not reader.in_step(engine.commit_of(manifest)):
        held = "no marker" if reader.stamp is None else f"generation {reader.stamp.generation}"
        report.notes.append(
            f"BM25 index {directory} holds {held}, not the committed generation "
            f"{manifest.generation}: {advice}"
        )
    elif reader.passages != report.passages:
        report.notes.append(
            f"BM25 index {directory} holds {reader.passages} passages of "
            f"{report.passages}: {advice}"
        )


def _passages_unlike_indexed(db: sqlite3.Connection) -> int:
    """How many passages' text (their slice of the body: schema 6 stores it once) is not
    the text that was indexed, by its ``text_hash``, or whose offsets leave the body: a
    body or offsets changed since. One row per document, so each body is read once."""
    rows = db.execute(
        'SELECT d.body, json_group_array(json_array(p.start, p."end", p.text_hash))'
        " FROM documents d JOIN passages p ON p.document_id = d.id GROUP BY d.id"
    )
    return sum(
        not _as_indexed(body, start, end, stored)
        for body, spans in rows
        for start, end, stored in json.loads(spans)
    )


def _as_indexed(body: object, start: object, end: object, stored: object) -> bool:
    """``body[start:end]`` exists and hashes to ``stored`` (values as SQLite holds them)."""
    if not (isinstance(body, str) and isinstance(start, int) and isinstance(end, int)):
        return False
    return 0 <= start <= end <= len(body) and text_hash(body[start:end]) == stored


def _check_versions(manifest: Manifest, report: CheckReport) -> None:
    built = (
        "?" if manifest.chunker is None else manifest.chunker,
        "?" if manifest.views is None else manifest.views,
    )
    if built != (CHUNKER_VERSION, VIEWS_VERSION):
        report.problems.append(
            f"built by chunker {built[0]} / views {built[1]}, this Pilcrow uses "
            f"{CHUNKER_VERSION} / {VIEWS_VERSION}, so citations may differ from the sources: "
            "run `qa index` (re-parses every document) or `qa index --rebuild`"
        )


def _check_cache(
    db: sqlite3.Connection,
    model: str,
    view_hashes: dict[int, list[str]],
    report: CheckReport,
) -> bool:
    """Every embedded text must be cached for the manifest's model (what repairs use),
    as a finite unit vector; returns whether the entries present are sound (only then
    is comparing them with the vector file meaningful)."""
    wanted = {h for hashes in view_hashes.values() for h in hashes}
    missing = len(wanted - store.cached_hashes(db, model, wanted))
    if missing:
        report.problems.append(
            f"{missing} of {len(wanted)} embedded texts are not in the embedding cache of "
            f"model {model or '(none)'}; rebuild with `qa index --rebuild`"
        )
    damaged = len(wanted.intersection(store.unsound_embeddings(db, model)))  # one scan
    if damaged:
        report.problems.append(
            f"{damaged} of {len(wanted)} embedded texts have a damaged entry in the embedding "
            f"cache of model {model} (not finite unit vectors); rebuild with "
            "`qa index --rebuild` (it embeds those again)"
        )
    return not damaged


def _check_vectors(
    db: sqlite3.Connection,
    index_dir: Path,
    manifest: Manifest,
    view_hashes: dict[int, list[str]],
    report: CheckReport,
    *,
    compare: bool = True,
) -> None:
    """The vector files (base and deltas) by the rule every reader applies, then one live
    vector per embedded window of every passage, then (``compare``) a sample of values
    against the cache."""
    path = vectors.committed_path(index_dir, manifest)
    try:
        index = vectors.open_segments(db, index_dir, manifest)
    except VectorFileDamaged as exc:
        report.vectors = exc.found or 0
        report.problems.append(str(exc))
        return
    report.vector_layout = index.layout
    expected = np.array(
        [
            vectors.vector_id(pid, w)
            for pid, hashes in view_hashes.items()
            for w in range(len(hashes))
        ],
        dtype=np.int64,
    )
    stored = np.sort(index.ids())
    report.vectors = len(stored)
    if len(stored) != len(expected) or not np.array_equal(stored, np.sort(expected)):
        if manifest.delta_files:
            path = path.with_name(f"{path.name} and its {len(manifest.delta_files)} deltas")
        lacking = len(np.setdiff1d(expected, stored))
        extra = len(np.setdiff1d(stored, expected))
        report.problems.append(
            f"{path.name} holds {len(stored)} vectors for {len(expected)} passage windows: "
            f"{lacking} windows have no vector and {extra} vectors belong to no passage; "
            "run `qa index --rebuild`"
        )
        return
    if not compare:
        return
    sample = [(pid, view_hashes[pid]) for pid in _sample(sorted(view_hashes), SAMPLED_VECTORS)]
    try:
        vectors.check_against_cache(db, index, path, report.model, sample)
    except QAError as exc:  # differing vectors, or cached vectors of another dimension
        report.problems.append(str(exc))


def _sample(items: list[int], n: int) -> list[int]:
    """Up to ``n`` items spread evenly over ``items`` (deterministic)."""
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]
