"""Small commits write a delta vector file beside the base; the base is rewritten rarely.

Real model, SQLite and FAISS: a change to an index writes only its own vectors, leaves the
base file untouched (same inode, same bytes), hides the dropped passages' vectors from
every search, and answers exactly as an index built in one go over the same files.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest

import qa.index.commit
from qa import store, vectors
from qa.check import check_index
from qa.factory import build_index, open_searcher
from qa.locations import db_path, delta_path, vectors_path
from qa.vectors import FlatIndex, SegmentedIndex, Segments, should_compact
from qa.vectors.basefile import BaseFile, write_base
from qa.vectors.segments import COMPACT_DELTAS, DELTA_SEARCH_MAX
from tests.conftest import SAMPLE_CABLES, SEEDS, cable_path

QUESTION = "How many Israeli judges are under 24-hour police guard?"


# -- the rule (pure) -------------------------------------------------------------------


def test_a_small_change_to_a_big_base_writes_a_delta() -> None:
    assert not should_compact(base=1_000_000, deltas=[40], adding=12, removed=9, final=True)


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("nothing to add to", {"base": 0, "deltas": [], "adding": 5, "removed": 0}),
        ("deltas as big as the base", {"base": 100, "deltas": [60], "adding": 40, "removed": 0}),
        ("too many deltas", {"base": 10**6, "deltas": [1] * COMPACT_DELTAS, "adding": 1}),
        ("a tenth removed", {"base": 1000, "deltas": [], "adding": 0, "removed": 100}),
    ],
)
def test_the_base_is_rewritten_when(case: str, kwargs: dict[str, object]) -> None:
    args = {"removed": 0, "final": False, **kwargs}
    assert should_compact(**args), case  # type: ignore[arg-type]


def test_a_runs_last_commit_folds_in_deltas_too_big_to_search_exactly() -> None:
    big = {"base": 10**7, "deltas": [DELTA_SEARCH_MAX], "adding": 1, "removed": 0}
    assert not should_compact(**big, final=False)  # a part: the run is not done
    assert should_compact(**big, final=True)
    small = {"base": 10**6, "deltas": [10], "adding": 1, "removed": 0}
    assert should_compact(**small, final=True, sidecar_due=True)  # parts wrote no sidecar


def test_a_first_build_in_parts_rewrites_each_vector_about_log_parts_times() -> None:
    base, deltas, written = 0, [], 0
    for _ in range(32):  # 32 parts of 1,000 vectors
        if should_compact(base=base, deltas=deltas, adding=1000, removed=0, final=False):
            base, deltas = base + sum(deltas) + 1000, []
            written += base
        else:
            deltas.append(1000)
            written += 1000
    assert base + sum(deltas) == 32_000
    assert written <= 32_000 * 6  # not the 528,000 of a rewrite per part


# -- merged search over segments (FAISS, no model) -------------------------------------


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    data = rng.standard_normal((n, 8)).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


def test_segments_search_as_one_index_without_the_removed_passages() -> None:
    rng = np.random.default_rng(7)
    base_vecs, delta_vecs = _unit(rng, 40), _unit(rng, 10)
    base_ids = np.arange(100, 140, dtype=np.int64) * 16
    delta_ids = np.arange(200, 210, dtype=np.int64) * 16
    base, delta, whole = FlatIndex.empty(8), FlatIndex.empty(8), FlatIndex.empty(8)
    base.add(base_ids, base_vecs)
    delta.add(delta_ids, delta_vecs)
    removed = np.array([100, 105, 203], dtype=np.int64)  # passages, in both files
    live_base = ~np.isin(base_ids // 16, removed)
    live_delta = ~np.isin(delta_ids // 16, removed)
    whole.add(base_ids[live_base], base_vecs[live_base])
    whole.add(delta_ids[live_delta], delta_vecs[live_delta])
    segmented = SegmentedIndex(base, [delta], removed)
    for query in _unit(rng, 5):
        got_scores, got_ids = segmented.search(query, 7)
        want_scores, want_ids = whole.search(query, 7)
        assert got_ids.tolist() == want_ids.tolist()
        assert np.allclose(got_scores, want_scores)
    allowed = np.array([101 * 16, 105 * 16, 204 * 16], dtype=np.int64)
    _, ids = segmented.search(_unit(rng, 1)[0], 5, allowed)
    assert sorted(ids.tolist()) == [101 * 16, 204 * 16]  # 105 was removed


def test_a_compaction_streams_the_live_vectors_into_the_file_a_merge_would_write(
    tmp_path: Path,
) -> None:
    """The base read in place plus a delta, less removed and dropped passages, written
    block by block: the same bytes as FAISS writes for the merged index."""
    rng = np.random.default_rng(8)
    base_vecs, delta_vecs = _unit(rng, 300), _unit(rng, 20)
    base_ids = np.arange(100, 400, dtype=np.int64) * 16
    delta_ids = np.arange(500, 520, dtype=np.int64) * 16
    base, delta = FlatIndex.empty(8), FlatIndex.empty(8)
    base.add(base_ids, base_vecs)
    delta.add(delta_ids, delta_vecs)
    base.save(tmp_path / "base.faiss")
    stored = BaseFile.open(tmp_path / "base.faiss")
    assert stored is not None and stored.count == 300
    segments = Segments(stored, [delta], np.array([100, 150, 503], dtype=np.int64))
    assert segments.vector(150 * 16) is None and segments.vector(504 * 16) is not None
    dropped = np.array([101, 510], dtype=np.int64)
    size, count, _ = write_base(tmp_path / "new.faiss", 8, segments.live_blocks(dropped))

    gone = np.array([100, 150, 503, 101, 510])
    want = FlatIndex.empty(8)
    for ids, vecs in ((base_ids, base_vecs), (delta_ids, delta_vecs)):
        live = ~np.isin(ids // 16, gone)
        want.add(ids[live], vecs[live])
    assert count == want.count == 320 - 5
    assert (tmp_path / "new.faiss").read_bytes() == faiss.serialize_index(want.native).tobytes()
    assert size == (tmp_path / "new.faiss").stat().st_size


# -- through the indexer ----------------------------------------------------------------


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(SEEDS, folder)
    for doc_id in SAMPLE_CABLES[:5]:
        shutil.copy(cable_path(doc_id), folder / f"{doc_id}.html")
    return folder


def _manifest(index: Path) -> store.Manifest:
    db = store.connect(db_path(index), readonly=True)
    try:
        return store.read_manifest(db)
    finally:
        db.close()


def _answers(index: Path, question: str = QUESTION) -> list[tuple[str, float]]:
    searcher = open_searcher(index)
    try:
        hits = searcher.ask(question, k=8, mode="dense", highlight=False).hits
    finally:
        searcher.close()
    return [(hit.citation, round(hit.score, 3)) for hit in hits]


def test_a_change_writes_a_delta_and_leaves_the_base_untouched(
    corpus: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index)
    base = vectors_path(index, 1)
    before = (base.stat().st_ino, base.stat().st_mtime_ns, base.read_bytes())
    article = corpus / "china-finds-eager-space-partners.txt"
    article.write_text(article.read_text().replace("tug-of-war", "long dispute"))
    (corpus / "fence.txt").write_text("Fence\n\nThe embassy's new perimeter fence.\n")
    summary = build_index(corpus, index)
    assert (summary.added, summary.changed, summary.generation) == (1, 1, 2)
    after = (base.stat().st_ino, base.stat().st_mtime_ns, base.read_bytes())
    assert after == before  # not rewritten, not even touched
    manifest = _manifest(index)
    (delta,) = manifest.delta_files
    assert delta.name == delta_path(index, 2).name and manifest.vectors == base.name
    db = store.connect(db_path(index), readonly=True)
    try:
        removed = store.removed_passages(db)
        live = {pid for pid, _ in store.all_view_hashes(db)}
        gone = len(live & set(removed.tolist()))
        new_windows = sum(len(hs) for pid, hs in store.all_view_hashes(db) if pid > removed.max())
    finally:
        db.close()
    assert len(removed) == manifest.removed_passages > 0 and gone == 0
    assert delta.count == new_windows  # only the commit's own vectors
    report = check_index(index)
    assert report.ok, report.problems
    fresh = tmp_path / "fresh"
    build_index(corpus, fresh)
    assert _answers(index) == _answers(fresh)  # same citations, same scores


def test_deltas_past_the_limit_are_folded_into_a_new_base(corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(corpus, index)
    for n in range(COMPACT_DELTAS + 1):
        (corpus / f"note-{n}.txt").write_text(f"Note {n}\n\nThe embassy's note number {n}.\n")
        if n % 2:  # and one removed: its passages listed as removed
            (corpus / f"note-{n - 1}.txt").unlink()
        build_index(corpus, index)
    manifest = _manifest(index)
    assert manifest.generation == COMPACT_DELTAS + 2
    assert len(manifest.delta_files) < COMPACT_DELTAS  # folded in at least once
    leftovers = sorted(p.name for p in index.glob("vectors-*"))
    assert all(
        p in {manifest.vectors, *(d.name for d in manifest.delta_files)}
        or p.startswith(f"vectors-{manifest.generation - 1:06d}")
        for p in leftovers
    ), leftovers
    fresh = tmp_path / "fresh"
    build_index(corpus, fresh)
    assert _answers(index, "embassy note number 7") == _answers(fresh, "embassy note number 7")
    assert check_index(index).ok


def test_a_damaged_delta_is_reported_then_repaired_by_a_plain_run(
    corpus: Path, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    build_index(corpus, index)
    (corpus / "note.txt").write_text("Note\n\nA note about the embassy's new fence.\n")
    build_index(corpus, index)
    delta = delta_path(index, 2)
    data = bytearray(delta.read_bytes())
    data[200:260] = bytes(60)  # zeroed codes: no longer unit vectors
    delta.write_bytes(bytes(data))
    report = check_index(index)
    assert not report.ok and "vectors-000002.delta.faiss" in report.problems[0]
    summary = build_index(corpus, index)
    assert summary.generation == 3 and check_index(index).ok
    assert not _manifest(index).delta_files  # rebuilt from the cache as one base
    assert _answers(index, "the embassy's new fence")[0][0].startswith("note")


def test_a_searcher_at_an_older_generation_moves_to_the_delta(corpus: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    build_index(corpus, index)
    searcher = open_searcher(index)
    try:
        (corpus / "fence.txt").write_text("Fence\n\nThe embassy's new perimeter fence.\n")
        build_index(corpus, index)
        hits = searcher.ask("embassy perimeter fence", k=3, mode="dense").hits
        assert hits[0].citation.startswith("fence") and searcher.manifest.generation == 2
        assert isinstance(searcher.vectors, vectors.SegmentedIndex)
    finally:
        searcher.close()


def test_a_part_commit_writes_its_own_vectors_not_the_earlier_parts(
    cables_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[tuple[str, int]] = []
    real_save = FlatIndex.save

    def recorded(self: FlatIndex, path: Path, **kwargs: object) -> int:
        writes.append((path.name, self.count))
        return real_save(self, path, **kwargs)  # type: ignore[arg-type]

    def recorded_base(path: Path, dim: int, blocks, **kwargs):  # type: ignore[no-untyped-def]
        size, count, concentration = write_base(path, dim, blocks, **kwargs)
        writes.append((path.name, count))
        return size, count, concentration

    monkeypatch.setattr(FlatIndex, "save", recorded)  # deltas
    monkeypatch.setattr(qa.index.commit, "write_base", recorded_base)  # bases, streamed
    monkeypatch.setenv("PILCROW_GENERATION_PASSAGES", "5")  # parts are whole documents
    summary = build_index(cables_corpus, tmp_path / "index")
    final = _manifest(tmp_path / "index")
    total = final.vector_count + final.delta_vectors
    deltas = [count for name, count in writes if ".delta." in name]
    assert summary.generation >= len(writes) >= 8 and len(deltas) >= len(writes) // 2
    assert max(deltas) < total / 3  # a part's own vectors, never the index's
    # A rewrite per part would write ~parts/2 times the index; segments, a few times.
    assert sum(count for _, count in writes) <= 4 * total, writes
    assert check_index(tmp_path / "index").ok
