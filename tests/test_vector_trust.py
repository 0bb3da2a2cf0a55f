"""The one rule for trusting the committed vector file, on tiny real FAISS files (no model).

``qa ask``, ``qa index`` and ``qa index --check`` all open the file through
``qa.vectors.generation``; each fault gives one message: the file, what is wrong, the fix.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa import store, vectors
from qa.fsutil import file_stat
from qa.locations import db_path, vectors_path
from qa.store import Manifest
from qa.vectors import FlatIndex, VectorFileDamaged

DIM = 8
COUNT = 20


def _unit(n: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _ids(n: int = COUNT) -> np.ndarray:
    return np.array([vectors.vector_id(pid, 0) for pid in range(1, n + 1)], dtype=np.int64)


@pytest.fixture
def committed(tmp_path: Path) -> tuple[Path, Manifest]:
    """A folder holding generation 1's vector file and the manifest that commits it."""
    index = FlatIndex.empty(DIM)
    index.add(_ids(), _unit(COUNT))
    path = vectors_path(tmp_path, 1)
    size = index.save(path)
    manifest = Manifest(
        dim=DIM,
        generation=1,
        vector_count=COUNT,
        vector_bytes=size,
        vector_stat=file_stat(path.stat()),
    )
    return tmp_path, manifest


def _fault(folder: Path, manifest: Manifest) -> VectorFileDamaged:
    with pytest.raises(VectorFileDamaged) as caught:
        vectors.open_committed(folder, manifest)
    error = caught.value
    assert str(error).startswith(str(vectors_path(folder, manifest.generation)))
    assert error.fault.startswith("vectors-000001.faiss")
    assert "qa index" in str(error) and str(error).count("\n") == 0
    return error


def test_a_sound_file_opens_and_is_as_committed(committed: tuple[Path, Manifest]) -> None:
    folder, manifest = committed
    index = vectors.open_committed(folder, manifest)
    assert index.count == COUNT and index.dim == DIM
    assert np.array_equal(np.sort(index.ids()), _ids())
    assert vectors.as_committed(folder, manifest)


def test_a_missing_file(committed: tuple[Path, Manifest]) -> None:
    folder, manifest = committed
    vectors_path(folder, 1).unlink()
    assert _fault(folder, manifest).fault == "vectors-000001.faiss is missing"
    assert not vectors.as_committed(folder, manifest)


def test_a_directory_in_place_of_the_file(committed: tuple[Path, Manifest]) -> None:
    folder, manifest = committed
    path = vectors_path(folder, 1)
    path.unlink()
    path.mkdir()
    assert _fault(folder, manifest).fault == "vectors-000001.faiss is not a file"
    assert not vectors.as_committed(folder, manifest)


def test_a_truncated_file(committed: tuple[Path, Manifest]) -> None:
    folder, manifest = committed
    path = vectors_path(folder, 1)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    error = _fault(folder, manifest)
    half = manifest.vector_bytes // 2
    assert f"damaged ({half} bytes, the manifest says {manifest.vector_bytes}: truncated" in str(
        error
    )
    assert not vectors.as_committed(folder, manifest)


def test_a_file_of_another_size(committed: tuple[Path, Manifest]) -> None:
    folder, manifest = committed
    with vectors_path(folder, 1).open("ab") as fh:
        fh.write(b"\0" * 16)  # FAISS still reads it: only the recorded size tells
    error = _fault(folder, manifest)
    assert f"the manifest says {manifest.vector_bytes}: truncated or overwritten" in str(error)


def test_a_wrong_count(committed: tuple[Path, Manifest]) -> None:
    folder, manifest = committed
    error = _fault(folder, replace(manifest, vector_count=COUNT + 1))
    assert error.fault == f"vectors-000001.faiss holds {COUNT} vectors, the manifest says 21"
    assert error.found == COUNT


def test_another_dimension_needs_a_rebuild(committed: tuple[Path, Manifest]) -> None:
    folder, manifest = committed
    error = _fault(folder, replace(manifest, dim=16))
    assert "vectors have dimension 8, the manifest says 16" in str(error)
    assert str(error).endswith("rebuild with `qa index --rebuild`")


def test_vectors_that_are_not_unit_length(committed: tuple[Path, Manifest]) -> None:
    folder, manifest = committed
    index = FlatIndex.empty(DIM)
    index.add(_ids(), _unit(COUNT) * 2)
    size = index.save(vectors_path(folder, 1))
    error = _fault(folder, replace(manifest, vector_bytes=size))
    assert f"{COUNT} of {COUNT} vectors are not unit length" in str(error)


def test_a_foreign_faiss_file(committed: tuple[Path, Manifest]) -> None:
    import faiss

    folder, manifest = committed
    other = faiss.IndexFlatL2(DIM)
    other.add(_unit(COUNT))
    faiss.write_index(other, str(vectors_path(folder, 1)))
    assert "not a Pilcrow vector file (IndexFlatL2)" in str(_fault(folder, manifest))


def test_a_touched_file_is_no_longer_as_committed(committed: tuple[Path, Manifest]) -> None:
    folder, manifest = committed
    path = vectors_path(folder, 1)
    later = time.time() + 10
    os.utime(path, (later, later))
    assert not vectors.as_committed(folder, manifest)
    assert not vectors.as_committed(folder, replace(manifest, vector_stat=""))
    vectors.open_committed(folder, manifest)  # still sound: it is read and checked instead


def test_vectors_are_compared_with_the_embedding_cache(
    committed: tuple[Path, Manifest], tmp_path: Path
) -> None:
    folder, manifest = committed
    index = vectors.open_committed(folder, manifest)
    path = vectors_path(folder, 1)
    sample = [(pid, [f"h{pid}"]) for pid in range(1, COUNT + 1)]
    db = store.connect(db_path(tmp_path / "store"), create=True)
    try:
        with store.transaction(db):
            store.put_embeddings(db, "m", [h for _, (h,) in sample], _unit(COUNT))
        vectors.check_against_cache(db, index, path, "m", sample)  # the same vectors
        with store.transaction(db):
            store.put_embeddings(db, "m", ["h3", "h5"], _unit(2, seed=9))
        with pytest.raises(VectorFileDamaged) as caught:
            vectors.check_against_cache(db, index, path, "m", sample)
        assert caught.value.fault == (
            "vectors-000001.faiss: 2 of 20 sampled vectors differ from the embedding cache"
            " (another model's vectors?)"
        )
        vectors.check_against_cache(db, index, path, "other-model", sample)  # nothing cached
    finally:
        db.close()
