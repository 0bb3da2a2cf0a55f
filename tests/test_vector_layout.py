"""The vector file's layout: float16 codes, and the float32 files of the previous version.

Tiny real FAISS files first (no model): a round trip stays within the documented fp16
bound (``qa.vectors.flat``), the bound itself holds for FAISS's encoder, and garbage in
the codes is caught. Then the seed index with the real model: a float32 file of the
previous layout is read, trusted and searched, and the next committing ``qa index``
replaces it with float16.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa import store, vectors
from qa.check import check_index
from qa.factory import build_index, open_searcher
from qa.fsutil import file_stat
from qa.locations import db_path, vectors_path
from qa.store import Manifest
from qa.vectors import FlatIndex, VectorFileDamaged
from qa.vectors.flat import COMPONENT_ERROR, FP16_UNIT_ROUNDOFF, NORM_TOLERANCE
from tests.conftest import SEEDS, cable_path

DIM = 384
COUNT = 300
QUESTION = "How much is Kazakhstan asking in damages for the Proton rocket accident?"


def _unit(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _ids(n: int = COUNT) -> np.ndarray:
    return np.array([vectors.vector_id(pid, pid % 3) for pid in range(1, n + 1)], dtype=np.int64)


def _float32_file(path: Path, ids: np.ndarray, data: np.ndarray) -> int:
    """A vector file exactly as the previous version wrote it: IndexIDMap2(IndexFlatIP)."""
    import faiss

    native = faiss.IndexIDMap2(faiss.IndexFlatIP(data.shape[1]))
    native.add_with_ids(np.ascontiguousarray(data, dtype=np.float32), ids)
    faiss.write_index(native, str(path))
    return path.stat().st_size


def _committed(folder: Path, size: int, count: int = COUNT) -> Manifest:
    path = vectors_path(folder, 1)
    return Manifest(
        dim=DIM,
        generation=1,
        vector_count=count,
        vector_bytes=size,
        vector_stat=file_stat(path.stat()),
    )


def _codes_span(path: Path, index: FlatIndex) -> tuple[int, int]:
    """Where the float16 codes lie in the file (found, not assumed: FAISS's header)."""
    data = path.read_bytes()
    codes = index.codes().tobytes()
    start = data.find(codes)
    assert start > 0 and data.find(codes, start + 1) == -1
    return start, start + len(codes)


def test_round_trip_within_the_fp16_bound(tmp_path: Path) -> None:
    ids, data = _ids(), _unit(COUNT)
    index = FlatIndex.empty(DIM)
    index.add(ids, data)
    assert index.layout == "fp16" and index.codes().dtype == np.float16
    size = index.save(vectors_path(tmp_path, 1))
    float32_size = _float32_file(tmp_path / "float32.faiss", ids, data)
    assert size < 0.51 * float32_size  # half the bytes (header and ids aside)

    back = vectors.open_committed(tmp_path, _committed(tmp_path, size))
    assert back.layout == "fp16" and back.is_pilcrow()
    assert np.array_equal(back.ids(), ids)  # identical, in order
    decoded = np.vstack(list(back.blocks(chunk=64)))  # the chunked reader, several chunks
    assert np.max(np.abs(decoded - data)) <= COMPONENT_ERROR
    assert np.array_equal(back.rows(np.array([7, 3])), decoded[[7, 3]])
    one = back.vector(int(ids[5]))
    assert one is not None and np.allclose(one, data[5], atol=COMPONENT_ERROR, rtol=0)
    assert back.vector(7) is None  # an id the file does not hold
    norms = np.einsum("ij,ij->i", decoded.astype(np.float64), decoded.astype(np.float64))
    assert np.max(np.abs(norms - 1)) <= NORM_TOLERANCE and back.not_unit_length() == 0
    assert back.concentration() == pytest.approx(float(np.sum(data.mean(axis=0) ** 2)), abs=1e-6)
    for q in range(0, COUNT, 37):  # each vector still finds itself first
        scores, found = back.search(data[q], 5)
        assert found[0] == ids[q] and abs(scores[0] - 1) <= 2 * COMPONENT_ERROR
    allowed = ids[::10]
    _, found = back.search(data[11], 5, allowed)  # filters work on the float16 index
    assert len(found) == 5 and set(found) <= set(allowed)


def test_faiss_rounds_within_the_documented_bound() -> None:
    """2^-11 relative for normal values, 2^-25 absolute below 2^-14: the bound every
    tolerance is derived from, checked on FAISS's own encoder over a wide range."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((64, DIM)) * 10.0 ** rng.uniform(-6, 0, (64, DIM))).astype(np.float32)
    x = np.clip(x, -1, 1)
    index = FlatIndex.empty(DIM)
    index.add(np.arange(64, dtype=np.int64) + 16, x)
    decoded = index.rows(np.arange(64))
    error = np.abs(decoded - x)
    assert np.all(error <= FP16_UNIT_ROUNDOFF * np.abs(x) + 2.0**-25)
    assert np.max(error) <= COMPONENT_ERROR


def test_norms_at_the_cache_limit_still_pass_and_beyond_it_do_not() -> None:
    """The cache admits squared norms within 1e-3 of 1; fp16 rounding on top of that
    must still pass, and a vector clearly off the unit sphere must not."""
    data = _unit(8)
    data[:4] *= np.sqrt(1 + 0.99e-3)  # the most the cache lets through
    data[4:] *= np.sqrt(1 + 3e-3)
    index = FlatIndex.empty(DIM)
    index.add(np.arange(8, dtype=np.int64) + 16, data)
    assert index.not_unit_length() == 4


def test_garbage_in_the_codes_is_caught(tmp_path: Path) -> None:
    ids = _ids()
    index = FlatIndex.empty(DIM)
    index.add(ids, _unit(COUNT))
    path = vectors_path(tmp_path, 1)
    manifest = _committed(tmp_path, index.save(path))
    start, end = _codes_span(path, index)
    assert end - start == COUNT * DIM * 2  # two bytes a component
    pristine = path.read_bytes()
    row = 2 * DIM  # bytes per vector
    damages = {
        "random bytes": lambda b: (
            b[: start + 5 * row] + np.random.default_rng(1).bytes(64) + b[start + 5 * row + 64 :]
        ),
        "0xff (NaN)": lambda b: b[: start + 9 * row] + b"\xff" * 64 + b[start + 9 * row + 64 :],
        "a zeroed tail of codes": lambda b: b[: end - 3 * row] + bytes(3 * row) + b[end:],
    }
    expected = {"random bytes": 1, "0xff (NaN)": 1, "a zeroed tail of codes": 3}
    for what, damage in damages.items():
        path.write_bytes(damage(pristine))
        with pytest.raises(VectorFileDamaged) as caught:
            vectors.open_committed(tmp_path, manifest)
        assert f"({expected[what]} of {COUNT} vectors are not unit length)" in str(caught.value)
    # One component doubled (its exponent bumped): a small change a norm still shows.
    codes = np.frombuffer(pristine[start:end], dtype=np.float16).copy().reshape(COUNT, DIM)
    biggest = int(np.argmax(np.abs(codes[4])))
    codes[4, biggest] *= 2
    path.write_bytes(pristine[:start] + codes.tobytes() + pristine[end:])
    with pytest.raises(VectorFileDamaged, match="1 of 300 vectors are not unit length"):
        vectors.open_committed(tmp_path, manifest)


def test_other_vectors_in_the_fp16_layout_differ_from_the_cache(tmp_path: Path) -> None:
    """Unit vectors of the right ids, size and layout, but not the cached ones (another
    model's): only the comparison with the cache shows them, at the tolerance of fp16's
    rounding plus the cache's own codec."""
    ids, data = _ids(20), _unit(20)
    index = FlatIndex.empty(DIM)
    index.add(ids, data)
    path = vectors_path(tmp_path, 1)
    index.save(path)
    sample = [
        (int(i) // vectors.WINDOWS, ["x"] * (int(i) % vectors.WINDOWS) + [f"h{n}"])
        for n, i in enumerate(ids)
    ]
    db = store.connect(db_path(tmp_path / "store"), create=True)
    try:
        with store.transaction(db):
            store.put_embeddings(db, "m", [f"h{n}" for n in range(20)], data)
        vectors.check_against_cache(db, index, path, "m", sample)  # fp16 of the same: agrees
        other = _unit(20, seed=5)  # another model's: what the cache holds, the file lacks
        with store.transaction(db):
            store.put_embeddings(db, "m", [f"h{n}" for n in range(20)], other)
        with pytest.raises(VectorFileDamaged, match="20 of 20 sampled vectors differ"):
            vectors.check_against_cache(db, index, path, "m", sample)
    finally:
        db.close()


def test_a_float32_file_of_the_previous_layout_is_trusted_and_compacted(tmp_path: Path) -> None:
    ids, data = _ids(), _unit(COUNT)
    size = _float32_file(vectors_path(tmp_path, 1), ids, data)
    old = vectors.open_committed(tmp_path, _committed(tmp_path, size))
    assert old.layout == "float32" and old.is_pilcrow() and old.codes().dtype == np.float32
    assert np.array_equal(old.rows(np.arange(COUNT)), data)  # float32: exact
    assert old.search(data[8], 1)[1][0] == ids[8]
    new = old.compact()
    assert new.layout == "fp16" and new.compact() is new
    assert np.array_equal(new.ids(), ids)
    assert np.max(np.abs(new.rows(np.arange(COUNT)) - data)) <= COMPONENT_ERROR


def test_other_faiss_layouts_are_not_ours() -> None:
    import faiss

    sq8 = faiss.IndexScalarQuantizer(DIM, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    l2 = faiss.IndexScalarQuantizer(DIM, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_L2)
    for inner in (sq8, l2, faiss.IndexFlatL2(DIM)):
        assert not FlatIndex(faiss.IndexIDMap2(inner)).is_pilcrow()
    plain = faiss.IndexScalarQuantizer(
        DIM, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    assert not FlatIndex(plain).is_pilcrow()  # no id map


# -- the real indexer: an index of the previous version --------------------------------


def _as_previous_version(index: Path) -> None:
    """Rewrite generation 1's vector file as the previous version wrote it (float32, the
    cache's exact values) and record its size and stat as that version's commit did."""
    db = store.connect(db_path(index))
    try:
        manifest = store.read_manifest(db)
        rows = list(store.all_view_hashes(db))
        cache = store.get_embeddings(db, manifest.model, [h for _, hs in rows for h in hs], DIM)
        ids = [vectors.vector_id(pid, w) for pid, hs in rows for w in range(len(hs))]
        data = np.vstack([cache[h] for _, hs in rows for h in hs])
        path = vectors_path(index, 1)
        size = _float32_file(path, np.array(ids, dtype=np.int64), data)
        with store.transaction(db):
            store.write_manifest(
                db, replace(manifest, vector_bytes=size, vector_stat=file_stat(path.stat()))
            )
    finally:
        db.close()


def test_an_index_of_the_previous_version_is_searched_then_rewritten_as_fp16(
    seed_index: Path, tmp_path: Path
) -> None:
    index, corpus = tmp_path / "index", tmp_path / "corpus"
    shutil.copytree(seed_index, index)
    shutil.copytree(SEEDS, corpus)
    fp16_bytes = vectors_path(index, 1).stat().st_size
    _as_previous_version(index)
    assert vectors_path(index, 1).stat().st_size > 1.9 * fp16_bytes

    searcher = open_searcher(index)
    assert isinstance(searcher.vectors, FlatIndex) and searcher.vectors.layout == "float32"
    top = searcher.ask(QUESTION, k=1, mode="dense").hits[0].citation
    searcher.close()
    assert top == "07MOSCOW5292 ¶3"
    report = check_index(index)
    assert report.ok and report.vector_layout == "float32", report.problems
    assert build_index(SEEDS, index).generation == 1  # nothing to commit: left as it is
    assert FlatIndex.open(vectors_path(index, 1)).layout == "float32"

    shutil.copy(cable_path("09TELAVIV1098"), corpus / "09TELAVIV1098.html")
    summary = build_index(corpus, index)  # the next committing run
    assert summary.generation == 2
    new = vectors.open_checked(vectors_path(index, 2), DIM)
    assert new.layout == "fp16"
    old = FlatIndex.open(vectors_path(index, 1))  # kept one generation for readers
    kept = np.isin(new.ids(), old.ids())
    assert kept.sum() == old.count  # every old vector carried over, within fp16's bound
    rows = np.flatnonzero(kept)
    at = {vid: row for row, vid in enumerate(old.ids().tolist())}
    expected = old.rows(np.array([at[vid] for vid in new.ids()[rows].tolist()]))
    assert np.max(np.abs(new.rows(rows) - expected)) <= COMPONENT_ERROR
    report = check_index(index)
    assert report.ok and report.vectors == new.count, report.problems
    assert report.to_json()["vector_layout"] == "fp16"
    searcher = open_searcher(index)
    assert searcher.ask(QUESTION, k=1, mode="dense").hits[0].citation == top
    searcher.close()
