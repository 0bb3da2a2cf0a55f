"""The manifest is parsed in one place and written back byte for byte (no model needed)."""

from __future__ import annotations

import math
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from qa import store
from qa.locations import db_path
from qa.store import UNRECORDED, Manifest

# What `qa index` records, key for key, in the order it writes them.
RECORDED = {
    "model": "sentence-transformers/all-MiniLM-L6-v2",
    "dim": "384",
    "normalized": "true",
    "metric": "inner_product",
    "chunker": "ingest-7",
    "views": "views-3",
    "generation": "12",
    "vectors": "vectors-000012.faiss",
    "vector_count": "13862",
    "vector_bytes": "21400000",
    "vector_stat": "21400000:1700000000000000000:1700000000000000001:4242",
    "ann_bytes": "",
    "concentration": "0.203117",
    "lexicon_passages": "13500",
    "lexicon_churn": "362",
    "sentences": "2:sentence-transformers/all-MiniLM-L6-v2",
    "updated_at": "2026-12-02T10:00:00+0000",
}


def test_round_trip_keeps_every_key_and_value() -> None:
    manifest = Manifest.from_values(RECORDED)
    assert manifest.to_values() == RECORDED
    assert list(manifest.to_values()) == list(RECORDED)  # same keys, same order
    assert manifest.generation == 12 and manifest.dim == 384
    assert manifest.vector_count == 13862 and manifest.vector_bytes == 21400000
    assert manifest.ann_bytes is None  # recorded: no sidecar
    assert manifest.concentration == pytest.approx(0.203117)
    assert manifest.lexicon_passages == 13500 and manifest.lexicon_churn == 362


def test_an_empty_table_reads_as_nothing_committed() -> None:
    manifest = Manifest.from_values({})
    assert manifest == Manifest() and manifest.is_empty
    assert manifest.generation == 0 and manifest.model == "" and manifest.dim == 0
    assert manifest.chunker is None and manifest.views is None
    assert manifest.vector_count is None and manifest.vector_bytes is None
    assert manifest.ann_bytes is UNRECORDED and manifest.lexicon_passages is UNRECORDED
    assert manifest.concentration is None
    assert Manifest.from_values(manifest.to_values()) == manifest  # numbers are written as 0


def test_absent_and_empty_keys_mean_different_things() -> None:
    older = Manifest.from_values({"generation": "3"})  # before sidecars and the lexicon
    assert older.ann_bytes is UNRECORDED and older.lexicon_passages is UNRECORDED
    assert not older.is_empty
    part = Manifest.from_values({"generation": "3", "ann_bytes": "", "lexicon_passages": ""})
    assert part.ann_bytes is None and part.lexicon_passages is None
    assert part.to_values()["ann_bytes"] == part.to_values()["lexicon_passages"] == ""
    assert not {"ann_bytes", "lexicon_passages", "concentration"} & set(older.to_values())
    assert Manifest.from_values(older.to_values()) == older
    assert Manifest.from_values(part.to_values()) == part


def test_values_that_are_not_numbers_read_as_unknown() -> None:
    manifest = Manifest.from_values(
        {
            "dim": "abc",
            "generation": "",
            "vector_count": "-1",
            "vector_bytes": "١٢",
            "ann_bytes": "x",
        }
        | {"concentration": "", "lexicon_churn": "?"}
    )
    assert manifest.dim == 0 and manifest.generation == 0
    assert manifest.vector_count is None and manifest.vector_bytes is None
    assert manifest.ann_bytes is None
    assert manifest.concentration is not None and math.isnan(manifest.concentration)
    assert manifest.lexicon_churn == 0


def test_lexicon_is_stale_unless_taken_and_close(tmp_path: Path) -> None:
    taken = Manifest(lexicon_passages=1000)
    assert not store.lexicon_stale(1040, 10, taken)
    assert store.lexicon_stale(1060, 0, taken)  # moved by more than LEXICON_DRIFT
    assert store.lexicon_stale(1000, 60, taken)  # churned by more
    assert store.lexicon_stale(1000, 0, Manifest(lexicon_passages=None))
    assert store.lexicon_stale(1000, 0, Manifest())


def test_written_rows_are_the_values_and_read_back_equal(tmp_path: Path) -> None:
    db = store.connect(db_path(tmp_path), create=True)
    try:
        manifest = Manifest.from_values(RECORDED)
        with store.transaction(db):
            store.write_manifest(db, manifest)
        assert store.read_manifest(db) == manifest
    finally:
        db.close()
    raw = sqlite3.connect(db_path(tmp_path))
    assert dict(raw.execute("SELECT key, value FROM manifest").fetchall()) == RECORDED
    raw.close()


def test_parts_pending_is_written_with_a_part_and_removed_by_the_last_commit(
    tmp_path: Path,
) -> None:
    db = store.connect(db_path(tmp_path), create=True)
    try:
        recorded = Manifest.from_values(RECORDED)
        assert recorded.parts_pending == 0  # an index from before the key: none pending
        with store.transaction(db):
            store.write_manifest(db, replace(recorded, parts_pending=2))
        assert store.read_manifest(db).parts_pending == 2
        with store.transaction(db):
            store.write_manifest(db, recorded)
        assert store.read_manifest(db) == recorded
    finally:
        db.close()
    raw = sqlite3.connect(db_path(tmp_path))
    assert dict(raw.execute("SELECT key, value FROM manifest").fetchall()) == RECORDED
    raw.close()
