"""``qa index --check``: verify that an index is whole and self-consistent.

Checks what can go wrong on disk: SQLite integrity, a manifest that names a readable
vector file of the right dimension, one vector per embedded window of every passage
(and no vector without a passage), the FTS index in step with the passages, and every
passage's text equal to its slice of the document body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa import store, vectors
from qa.errors import QAError
from qa.locations import db_path, vectors_path


@dataclass
class CheckReport:
    documents: int = 0
    passages: int = 0
    vectors: int = 0
    generation: int = 0
    problems: list[str] = field(default_factory=list)

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
            "problems": self.problems,
        }


def check_index(index_dir: Path) -> CheckReport:
    """Every inconsistency found, as sentences naming the fix; empty when all is well."""
    report = CheckReport()
    try:
        db = store.connect(db_path(index_dir), readonly=True)
    except QAError as exc:
        report.problems.append(str(exc))
        return report
    try:
        _check(db, index_dir, report)
    finally:
        db.close()
    return report


def _check(db, index_dir: Path, report: CheckReport) -> None:  # type: ignore[no-untyped-def]
    integrity = db.execute("PRAGMA quick_check").fetchone()[0]
    if integrity != "ok":
        report.problems.append(f"SQLite integrity check failed: {integrity}")
        return
    manifest = store.read_manifest(db)
    if not manifest.get("generation"):
        report.problems.append("no generation committed yet: run `qa index`")
        return
    report.generation = int(manifest["generation"])
    report.documents, report.passages = store.counts(db)
    fts_rows = db.execute("SELECT count(*) FROM passages_fts_docsize").fetchone()[0]
    if fts_rows != report.passages:
        report.problems.append(
            f"full-text index has {fts_rows} rows for {report.passages} passages"
        )
    bad_slices = db.execute(
        "SELECT count(*) FROM passages p JOIN documents d ON d.id = p.document_id "
        'WHERE substr(d.body, p.start + 1, p."end" - p.start) != p.text'
    ).fetchone()[0]
    if bad_slices:
        report.problems.append(f"{bad_slices} passages do not match their document text")
    path = vectors_path(index_dir, report.generation)
    try:
        index = vectors.read(path, int(manifest["dim"]))
    except FileNotFoundError:
        report.problems.append(f"{path.name} is missing: run `qa index` to rebuild it from cache")
        return
    except QAError as exc:
        report.problems.append(str(exc))
        return
    report.vectors = int(index.ntotal)
    expected: list[int] = []
    for pid, hashes in store.all_view_hashes(db):
        expected.extend(vectors.vector_id(pid, w) for w in range(len(hashes)))
    stored = np.sort(vectors.stored_ids(index))
    if len(stored) != len(expected) or not np.array_equal(stored, np.sort(np.array(expected))):
        report.problems.append(
            f"{path.name} holds {len(stored)} vectors, the passages need {len(expected)}; "
            "run `qa index --rebuild`"
        )
