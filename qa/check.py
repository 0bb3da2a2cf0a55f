"""``qa index --check``: verify that an index is whole and self-consistent.

Checks what can go wrong on disk: SQLite integrity, a manifest written by this version's
chunker and views, naming a readable vector file of the recorded size and dimension, one
vector per embedded window of every passage (and no vector without a passage), vectors
equal to the cached embeddings they were built from, the FTS index in step with the
passages, and every passage's text equal to its slice of the document body. Everything
is read in one SQLite snapshot, so a concurrent ``qa index`` cannot make it mix
generations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa import store, vectors
from qa.errors import NoIndexError, QAError
from qa.ingest import CHUNKER_VERSION
from qa.locations import db_path, vectors_path
from qa.views import VIEWS_VERSION

SAMPLED_VECTORS = 512  # vectors compared value by value with the embedding cache
VECTOR_TOLERANCE = 1e-4


@dataclass
class CheckReport:
    documents: int = 0
    passages: int = 0
    vectors: int = 0
    generation: int = 0
    model: str = ""
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
            "model": self.model,
            "problems": self.problems,
        }


def check_index(index_dir: Path) -> CheckReport:
    """Every inconsistency found, as sentences naming the fix; empty when all is well.

    Raises ``NoIndexError`` when there is no index (or no committed generation) at all.
    """
    report = CheckReport()
    try:
        db = store.connect(db_path(index_dir), readonly=True)
    except NoIndexError:
        raise
    except QAError as exc:
        report.problems.append(str(exc))
        return report
    try:
        db.execute("BEGIN")  # one read snapshot for every query below
        _check(db, index_dir, report)
    except NoIndexError:
        raise
    except QAError as exc:  # damage found by a query (garbage inside the database)
        report.problems.append(str(exc))
    finally:
        db.close()
    return report


def _check(db, index_dir: Path, report: CheckReport) -> None:  # type: ignore[no-untyped-def]
    integrity = db.execute("PRAGMA quick_check").fetchone()[0]
    if integrity != "ok":
        report.problems.append(
            f"SQLite integrity check failed: {integrity}; rebuild with `qa index --rebuild`"
        )
        return
    manifest = store.read_manifest(db)
    if not manifest.get("generation"):
        raise NoIndexError(f"index at {index_dir} has no committed generation: run `qa index`")
    report.generation = int(manifest["generation"])
    report.model = manifest.get("model", "")
    _check_versions(manifest, report)
    report.documents, report.passages = store.counts(db)
    fts_rows = db.execute("SELECT count(*) FROM passages_fts_docsize").fetchone()[0]
    if fts_rows != report.passages:
        report.problems.append(
            f"full-text index has {fts_rows} rows for {report.passages} passages; "
            "rebuild with `qa index --rebuild`"
        )
    bad_slices = db.execute(
        "SELECT count(*) FROM passages p JOIN documents d ON d.id = p.document_id "
        'WHERE substr(d.body, p.start + 1, p."end" - p.start) != p.text'
    ).fetchone()[0]
    if bad_slices:
        report.problems.append(
            f"{bad_slices} passages do not match their document text; "
            "rebuild with `qa index --rebuild`"
        )
    view_hashes = dict(store.all_view_hashes(db))
    _check_cache(db, report.model, view_hashes, report)
    _check_vectors(db, index_dir, manifest, view_hashes, report)


def _check_versions(manifest: dict[str, str], report: CheckReport) -> None:
    built = (manifest.get("chunker", "?"), manifest.get("views", "?"))
    if built != (CHUNKER_VERSION, VIEWS_VERSION):
        report.problems.append(
            f"built by chunker {built[0]} / views {built[1]}, this Pilcrow uses "
            f"{CHUNKER_VERSION} / {VIEWS_VERSION}, so citations may differ from the sources: "
            "run `qa index` (re-parses every document) or `qa index --rebuild`"
        )


def _check_cache(
    db,  # type: ignore[no-untyped-def]
    model: str,
    view_hashes: dict[int, list[str]],
    report: CheckReport,
) -> None:
    """Every embedded text must be cached for the manifest's model (what repairs use)."""
    wanted = {h for hashes in view_hashes.values() for h in hashes}
    missing = len(wanted - store.cached_hashes(db, model, wanted))
    if missing:
        report.problems.append(
            f"{missing} of {len(wanted)} embedded texts are not in the embedding cache of "
            f"model {model or '(none)'}; rebuild with `qa index --rebuild`"
        )


def _check_vectors(
    db,  # type: ignore[no-untyped-def]
    index_dir: Path,
    manifest: dict[str, str],
    view_hashes: dict[int, list[str]],
    report: CheckReport,
) -> None:
    path = vectors_path(index_dir, report.generation)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        report.problems.append(
            f"{path.name} is missing: run `qa index` to rebuild it from the embedding cache"
        )
        return
    recorded = manifest.get("vector_bytes", "")
    if recorded.isdigit() and int(recorded) != size:
        report.problems.append(
            f"{path.name} is {size} bytes, the manifest says {recorded} (truncated or "
            "overwritten): run `qa index` to rebuild it from the embedding cache"
        )
        return
    try:
        index = vectors.read(path, int(manifest.get("dim", "0")))
    except QAError as exc:
        report.problems.append(str(exc))
        return
    report.vectors = int(index.ntotal)
    recorded = manifest.get("vector_count", "")
    if recorded.isdigit() and int(recorded) != report.vectors:
        report.problems.append(
            f"{path.name} holds {report.vectors} vectors, the manifest says {recorded}; "
            "run `qa index --rebuild`"
        )
    expected = np.array(
        [
            vectors.vector_id(pid, w)
            for pid, hashes in view_hashes.items()
            for w in range(len(hashes))
        ],
        dtype=np.int64,
    )
    stored = np.sort(vectors.stored_ids(index))
    if len(stored) != len(expected) or not np.array_equal(stored, np.sort(expected)):
        report.problems.append(
            f"{path.name} holds {len(stored)} vectors, the passages need {len(expected)}; "
            "run `qa index --rebuild`"
        )
        return
    sample = [(pid, view_hashes[pid]) for pid in _sample(sorted(view_hashes), SAMPLED_VECTORS)]
    try:
        differing, compared = vectors_differing(db, index, report.model, sample)
    except QAError as exc:  # cached vectors of another dimension
        report.problems.append(str(exc))
        return
    if differing:
        report.problems.append(
            f"{differing} of {compared} sampled vectors in {path.name} differ from the "
            "embedding cache (another model's vectors?); run `qa index --rebuild`"
        )


def vectors_differing(
    db,  # type: ignore[no-untyped-def]
    index: Any,
    model: str,
    sample: list[tuple[int, list[str]]],
) -> tuple[int, int]:
    """``(differing, compared)``: stored vectors of ``sample`` passages vs the cache.

    Catches a vector file that is whole and unit-length but holds other vectors (copied
    from another index, written by another model) — what no cheaper check can see.
    Windows missing from the cache or the file are not compared (other checks count them).
    """
    cache = store.get_embeddings(db, model, [h for _, hs in sample for h in hs], index.d)
    differing = compared = 0
    for pid, hashes in sample:
        for window, h in enumerate(hashes):
            vid = vectors.vector_id(pid, window)
            if h not in cache:
                continue
            try:
                vec = index.reconstruct(int(vid))
            except RuntimeError:  # id not in the file
                continue
            compared += 1
            if not np.allclose(vec, cache[h], atol=VECTOR_TOLERANCE):
                differing += 1
    return differing, compared


def _sample(items: list[int], n: int) -> list[int]:
    """Up to ``n`` items spread evenly over ``items`` (deterministic)."""
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]
