"""The base file and its sidecar, written and read a block at a time: FAISS's bytes exactly.

A 3 GB base must never be loaded whole by a build, so ``qa.vectors.basefile`` and
``qa.vectors.sidecar`` write and read FAISS's own file layouts themselves. These tests
hold them to FAISS's serialisation byte for byte (real FAISS, no model), so every FAISS
reader, and every check written against FAISS, reads what they write.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from qa.vectors import FlatIndex, IVFIndex, ivf, sidecar
from qa.vectors.basefile import BaseFile, BaseWriter, write_base


def _unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    data = rng.standard_normal((n, dim)).astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


def _clustered(rng: np.random.Generator, n: int, dim: int, clusters: int) -> np.ndarray:
    centres = rng.standard_normal((clusters, dim))
    data = centres[rng.integers(0, clusters, n)] + 0.3 * rng.standard_normal((n, dim))
    data = data.astype(np.float32)
    return data / np.linalg.norm(data, axis=1, keepdims=True)


@pytest.mark.parametrize(("dim", "n"), [(4, 0), (4, 3), (384, 1000)])
def test_a_streamed_base_file_is_faiss_own_serialisation(tmp_path: Path, dim: int, n: int) -> None:
    rng = np.random.default_rng(dim + n)
    vecs = _unit(rng, n, dim)
    ids = (np.arange(n, dtype=np.int64) + 1) * 16
    index = FlatIndex.empty(dim)
    index.add(ids, vecs)
    path = tmp_path / "vectors-000001.faiss"
    with path.open("wb") as fh:  # half as float32 vectors, half as float16 codes
        writer = BaseWriter(fh, dim)
        writer.add(ids[: n // 2], vecs[: n // 2])
        writer.add(ids[n // 2 :], index.codes()[n // 2 :])
        writer.finish()
    assert path.read_bytes() == faiss.serialize_index(index.native).tobytes()

    stored = BaseFile.open(path)
    assert stored is not None and (stored.count, stored.dim) == (n, dim)
    assert stored.ids().tolist() == ids.tolist()
    assert stored.not_unit_length() == 0
    assert stored.concentration() == pytest.approx(index.concentration(), abs=1e-12)
    assert writer.concentration() == pytest.approx(index.concentration(), abs=1e-12)
    if n:
        last = int(ids[-1])
        assert np.array_equal(stored.vector(last), index.vector(last))
        assert stored.vector(7) is None
        assert np.array_equal(stored.rows(np.array([0, n - 1])), index.rows(np.array([0, n - 1])))


def test_write_base_reports_size_count_and_concentration(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    vecs = _unit(rng, 50, 8)
    ids = np.arange(1, 51, dtype=np.int64) * 16
    size, count, concentration = write_base(tmp_path / "b.faiss", 8, [(ids, vecs)])
    index = FlatIndex.open(tmp_path / "b.faiss")  # FAISS reads it back
    assert (size, count) == ((tmp_path / "b.faiss").stat().st_size, 50)
    assert index.ids().tolist() == ids.tolist()
    assert concentration == pytest.approx(index.concentration(), abs=1e-12)


def test_other_layouts_and_damaged_files_are_not_read_in_place(tmp_path: Path) -> None:
    """BaseFile reads only the exact layout; anything else goes through FAISS, whose
    errors the checks turn into messages (``test_vector_trust``)."""
    rng = np.random.default_rng(4)
    vecs = _unit(rng, 20, 8)
    ids = np.arange(1, 21, dtype=np.int64) * 16
    older = faiss.IndexIDMap2(faiss.IndexFlatIP(8))  # the previous version's float32 layout
    older.add_with_ids(vecs, ids)
    faiss.write_index(older, str(tmp_path / "old.faiss"))
    assert BaseFile.open(tmp_path / "old.faiss") is None

    write_base(tmp_path / "new.faiss", 8, [(ids, vecs)])
    whole = (tmp_path / "new.faiss").read_bytes()
    (tmp_path / "short.faiss").write_bytes(whole[:-8])
    (tmp_path / "garbage.faiss").write_bytes(b"IxM2" + bytes(200))
    (tmp_path / "empty.faiss").write_bytes(b"")
    for name in ("short", "garbage", "empty"):
        assert BaseFile.open(tmp_path / f"{name}.faiss") is None, name


def _reference_sidecar(side: Path, index: FlatIndex) -> bytes:
    """What FAISS writes for an IVF index of ``index``'s vectors, routed by the
    centroids of the sidecar at ``side``, added in storage order."""
    read = faiss.read_index(str(side))  # kept: the IVF view below does not own it
    written = faiss.extract_index_ivf(read)
    ref = sidecar._empty_index(index.dim, written.nlist)
    faiss.extract_index_ivf(ref).quantizer.add(written.quantizer.reconstruct_n(0, written.nlist))
    ref.is_trained = True
    ref.add_with_ids(index.rows(np.arange(index.count)), index.ids())
    return faiss.serialize_index(ref).tobytes()


def test_a_streamed_sidecar_is_what_faiss_writes(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(ivf, "ANN_MIN_VECTORS", 1000)
    monkeypatch.setattr(sidecar, "GROUP_BYTES", 64 * 1024)  # many groups of lists
    rng = np.random.default_rng(5)
    vecs = _clustered(rng, 20_000, 32, 50)
    ids = (np.arange(20_000, dtype=np.int64) + 1) * 16
    index = FlatIndex.empty(32)
    index.add(ids, vecs)
    path = tmp_path / "vectors-000001.faiss"
    index.save(path)
    stored = BaseFile.open(path)
    assert stored is not None
    side = sidecar.write_ann(stored, path)
    assert side == ivf.ann_path(path)
    assert side.read_bytes() == _reference_sidecar(side, index)
    assert sidecar.write_ann(index, path) == side  # from memory: the same file
    assert side.read_bytes() == _reference_sidecar(side, index)

    monkeypatch.setattr(ivf, "ANN_MIN_VECTORS", 30_000)
    assert sidecar.write_ann(stored, path) is None and not side.exists()


def test_a_sidecar_with_few_lists_filled_is_written_sparse(tmp_path: Path) -> None:
    """FAISS writes list sizes as (list, size) pairs when at most half the lists hold
    vectors: so does the writer."""
    rng = np.random.default_rng(6)
    vecs = _clustered(rng, 2000, 16, 3)
    ids = (np.arange(2000, dtype=np.int64) + 1) * 16
    index = FlatIndex.empty(16)
    index.add(ids, vecs)
    native = sidecar._empty_index(16, 64)
    centroids = np.vstack([vecs[:3], _unit(rng, 61, 16) * -1])  # three near the data
    faiss.extract_index_ivf(native).quantizer.add(centroids)
    native.is_trained = True
    _, found = faiss.extract_index_ivf(native).quantizer.search(index.rows(np.arange(2000)), 1)
    lists = found[:, 0].astype(np.int64)
    assert len(np.unique(lists)) <= 32
    side = tmp_path / "vectors-000001.faiss.ivf"
    sidecar._write(side, native, lists, index)
    assert b"sprs" in side.read_bytes()[-2000 * 40 - 200 :]
    assert side.read_bytes() == _reference_sidecar(side, index)


def test_the_next_sidecar_keeps_the_routing_and_is_searched_mapped(
    tmp_path: Path, monkeypatch
) -> None:
    """A compaction's sidecar reuses the previous one's centroids and lists (no
    retraining), holds exactly the new base's vectors, and finds their neighbours."""
    monkeypatch.setattr(ivf, "ANN_MIN_VECTORS", 1000)
    rng = np.random.default_rng(7)
    vecs = _clustered(rng, 21_000, 32, 50)
    ids = (np.arange(21_000, dtype=np.int64) + 1) * 16
    first, second = FlatIndex.empty(32), FlatIndex.empty(32)
    first.add(ids[:20_000], vecs[:20_000])
    second.add(ids[500:], vecs[500:])  # 500 removed, 1,000 added
    old, new = tmp_path / "vectors-000001.faiss", tmp_path / "vectors-000002.faiss"
    first.save(old)
    second.save(new)
    sidecar.write_ann(first, old)
    side = sidecar.write_ann(second, new, previous=old)
    assert side is not None
    read_before = faiss.read_index(str(ivf.ann_path(old)))
    read_after = faiss.read_index(str(side))
    before = faiss.extract_index_ivf(read_before)
    after = faiss.extract_index_ivf(read_after)
    centroids = before.quantizer.reconstruct_n(0, before.nlist)
    assert np.array_equal(after.quantizer.reconstruct_n(0, after.nlist), centroids)
    assert side.read_bytes() == _reference_sidecar(side, second)

    ann = IVFIndex.open(side)
    lists = faiss.downcast_InvertedLists(faiss.extract_index_ivf(ann.native).invlists)
    assert isinstance(lists, faiss.OnDiskInvertedLists)  # mapped, not loaded
    assert sorted(ann.ids().tolist()) == sorted(second.ids().tolist())
    hits = sum(len(set(second.search(q, 10)[1]) & set(ann.search(q, 10)[1])) for q in vecs[-100:])
    assert hits / 1000 >= 0.95
