"""Incremental indexing against real files, the real model, SQLite and FAISS."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from qa import store
from qa.errors import IndexBusyError
from qa.factory import build_index, open_searcher
from qa.index import write_lock
from qa.locations import db_path


def _vector_count(index: Path) -> int:
    searcher = open_searcher(index)
    try:
        return searcher.vectors.count
    finally:
        searcher.close()


def test_seed_index_contents(seed_index: Path) -> None:
    db = store.connect(db_path(seed_index), readonly=True)
    assert store.counts(db) == (2, 17)  # 07MOSCOW5292: header + 7; article: title + 8
    manifest = store.read_manifest(db)
    assert manifest.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest.dim == 384
    assert manifest.generation == 1
    assert manifest.vector_count == _vector_count(seed_index)


def test_noop_reindex_embeds_nothing_and_keeps_generation(seed_index: Path, fresh_copy) -> None:  # type: ignore[no-untyped-def]
    index = fresh_copy(seed_index, "index")
    from tests.conftest import SEEDS

    summary = build_index(SEEDS, index)
    assert (summary.added, summary.changed, summary.removed, summary.unchanged) == (0, 0, 0, 2)
    assert summary.passages_embedded == 0
    assert summary.generation == 1


def test_touching_one_cable_reembeds_only_its_changed_passage(
    cables_corpus: Path, fresh_copy, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    corpus = fresh_copy(cables_corpus, "corpus")
    index = tmp_path / "index"
    first = build_index(corpus, index)
    assert first.added == 11 and first.skipped == 0
    before = _vector_count(index)

    cable = corpus / "07MOSCOW5292.txt"
    text = cable.read_text(encoding="utf-8")
    cable.write_text(text.replace("about $60 million", "about $61 million"), encoding="utf-8")
    second = build_index(corpus, index)
    assert (second.added, second.changed, second.unchanged) == (0, 1, 10)
    assert second.passages_embedded == 1  # only ¶3 changed text
    assert _vector_count(index) == before

    searcher = open_searcher(index)
    hits = searcher.ask("Kazakhstan damages Proton rocket accident", k=3, mode="lexical").hits
    assert hits[0].citation == "07MOSCOW5292 ¶3"
    assert "$61 million" in hits[0].text
    searcher.close()


def test_deleted_document_disappears_from_search(
    seed_index: Path, fresh_copy, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import SEEDS

    corpus = fresh_copy(SEEDS, "corpus")
    index = fresh_copy(seed_index, "index")
    (corpus / "07MOSCOW5292.txt").unlink()
    summary = build_index(corpus, index)
    assert (summary.removed, summary.unchanged, summary.documents) == (1, 1, 1)
    searcher = open_searcher(index)
    hits = searcher.ask("Proton rocket damages Kazakhstan", k=5).hits
    assert hits and all(h.doc_id == "china-finds-eager-space-partners" for h in hits)
    assert searcher.vectors.count == 9
    searcher.close()


def test_bad_file_is_skipped_and_nothing_indexed_is_lost(seed_index: Path, fresh_copy) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import SEEDS

    corpus = fresh_copy(SEEDS, "corpus")
    index = fresh_copy(seed_index, "index")
    (corpus / "07MOSCOW5292.txt").write_bytes(b"\x00\x01\x02" * 100)  # now binary garbage
    (corpus / "empty.txt").write_bytes(b"")
    summary = build_index(corpus, index)
    assert summary.skipped == 2
    assert any("07MOSCOW5292.txt" in w for w in summary.warnings)
    assert any("empty.txt" in w for w in summary.warnings)
    searcher = open_searcher(index)
    assert searcher.ask("Proton rocket damages", k=1, mode="lexical").hits[0].citation == (
        "07MOSCOW5292 ¶3"
    )
    searcher.close()


def test_model_change_rebuilds_instead_of_mixing(seed_index: Path, fresh_copy) -> None:  # type: ignore[no-untyped-def]
    index = fresh_copy(seed_index, "index")
    db = sqlite3.connect(db_path(index))
    db.execute("UPDATE manifest SET value = 'some/other-model' WHERE key = 'model'")
    db.commit()
    db.close()
    from tests.conftest import SEEDS

    summary = build_index(SEEDS, index)
    assert "model changed from some/other-model" in summary.rebuilt
    assert summary.added == 2 and summary.generation == 2


def test_second_writer_is_refused(tmp_path: Path) -> None:
    with (
        write_lock(tmp_path),
        pytest.raises(IndexBusyError, match="another `qa index`"),
        write_lock(tmp_path),
    ):
        pass


def test_noop_reindex_reads_no_file_whose_stat_is_unchanged(
    cables_corpus: Path, fresh_copy, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import os
    import time

    corpus = fresh_copy(cables_corpus, "corpus")
    hour_ago = time.time_ns() - 3600 * 10**9  # not "racily clean": see FileSource.digest
    for path in corpus.iterdir():
        os.utime(path, ns=(hour_ago, hour_ago))
    index = tmp_path / "index"
    assert build_index(corpus, index).files_read == 11
    noop = build_index(corpus, index)
    assert (noop.files_read, noop.unchanged, noop.generation) == (0, 11, 1)

    # touch: same bytes, new mtime -> read once, found unchanged, its new stat remembered.
    cable = corpus / "07MOSCOW5292.txt"
    os.utime(cable, ns=(cable.stat().st_atime_ns, cable.stat().st_mtime_ns + 10**9))
    touched = build_index(corpus, index)
    assert (touched.files_read, touched.unchanged, touched.generation) == (1, 11, 1)
    assert build_index(corpus, index).files_read == 0

    # An edit of the same size with the old mtime put back is still seen (ctime changed).
    stat = cable.stat()
    text = cable.read_text(encoding="utf-8")
    cable.write_text(text.replace("$60 million", "$70 million"), encoding="utf-8")
    os.utime(cable, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cable.stat().st_size == stat.st_size
    edited = build_index(corpus, index)
    assert (edited.files_read, edited.changed, edited.generation) == (1, 1, 2)
    hits = open_searcher(index).ask("Kazakhstan damages Proton", k=1, mode="lexical").hits
    assert "$70 million" in hits[0].text


def test_noop_reindex_still_repairs_a_rewritten_vector_file(seed_index: Path, fresh_copy) -> None:  # type: ignore[no-untyped-def]
    from qa.locations import vectors_path
    from tests.conftest import SEEDS

    index = fresh_copy(seed_index, "index")
    path = vectors_path(index, 1)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 1536] = bytes(1536)  # same size, zeroed codes: only a read shows it
    path.write_bytes(bytes(data))
    summary = build_index(SEEDS, index)
    assert summary.repaired and summary.generation == 2
    assert open_searcher(index).ask("Proton rocket damages", k=1).hits[0].citation == (
        "07MOSCOW5292 ¶3"
    )


def test_a_file_modified_just_now_is_hashed_again(seed_index: Path, fresh_copy, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Git's "racily clean" rule: a same-size rewrite within one timestamp tick would keep
    the stat, so a file modified in the last seconds is not trusted by its stat."""
    import shutil

    from tests.conftest import SEEDS

    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    for path in corpus.iterdir():
        path.touch()  # mtime: now
    index = tmp_path / "index"
    build_index(corpus, index)
    assert build_index(corpus, index).files_read == 2
