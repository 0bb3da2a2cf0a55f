"""The fast paths behave like the plain ones: onnxruntime embeddings, the IVF sidecar.

Correctness only; speed is measured by `make bench` (docs/benchmarks.md), never asserted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa import store, vectors
from qa.locations import db_path
from qa.store import Manifest
from qa.vectors import FlatIndex, ivf


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def clustered() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    centres = _unit(rng, 40, 32)
    x = centres[rng.integers(0, 40, 6000)] + 0.2 * _unit(rng, 6000, 32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.arange(6000, dtype=np.int64) * vectors.WINDOWS + 1, x.astype(np.float32)


def _for_search(folder: Path, generation: int, count: int) -> vectors.VectorIndex:
    """What a reader loads for generation ``generation`` of ``folder`` (an empty store:
    no cached embeddings to sample)."""
    db = store.connect(db_path(folder), create=True)
    try:
        manifest = Manifest(dim=32, generation=generation, vector_count=count)
        return vectors.open_for_search(db, folder, manifest)
    finally:
        db.close()


def test_sidecar_written_above_threshold_and_searched(tmp_path, monkeypatch, clustered):
    ids, x = clustered
    flat = FlatIndex.empty(32)
    flat.add(ids, x)
    path = tmp_path / "vectors-000001.faiss"
    flat.save(path)

    monkeypatch.setattr(ivf, "ANN_MIN_VECTORS", 10_000)
    assert vectors.write_ann(flat, path) is None  # below the threshold: exact only
    monkeypatch.setattr(ivf, "ANN_MIN_VECTORS", 1_000)
    assert vectors.write_ann(flat, path) == ivf.ann_path(path)

    ann = _for_search(tmp_path, 1, flat.count)
    assert ann.count == flat.count and ann.approximate
    hits = 0
    for q in x[:50]:
        exact = set(flat.search(q, 10)[1])
        hits += len(exact & set(ann.search(q, 10)[1]))
    assert hits / 500 >= 0.95

    allowed = ids[::97]  # a filter: exact over the allowed ids, k results still come back
    s1, i1 = flat.search(x[5], 10, allowed)
    s2, i2 = ann.search(x[5], 10, allowed)
    assert list(i1) == list(i2) and len(i2) == 10
    assert np.allclose(s1, s2, atol=1e-3)


def test_sidecar_follows_the_flat_file_incrementally(tmp_path, monkeypatch, clustered):
    ids, x = clustered
    monkeypatch.setattr(ivf, "ANN_MIN_VECTORS", 1_000)
    flat = FlatIndex.empty(32)
    flat.add(ids, x)
    first = tmp_path / "vectors-000001.faiss"
    flat.save(first)
    vectors.write_ann(flat, first)

    flat.remove(ids[:100])
    new_ids = (np.arange(100, dtype=np.int64) + 10_000) * vectors.WINDOWS
    flat.add(new_ids, x[:100])
    second = tmp_path / "vectors-000002.faiss"
    flat.save(second)
    vectors.write_ann(flat, second, previous=first)

    ann = _for_search(tmp_path, 2, flat.count)
    assert ann.approximate and np.array_equal(np.sort(ann.ids()), np.sort(flat.ids()))
    # A sidecar that does not match the manifest's count is ignored: exact search.
    side = ivf.ann_path(second)
    assert ivf.trusted_sidecar(side, 32, flat.count + 1, None, []) is None
    assert ivf.trusted_sidecar(side, 32, 5, None, []) is None


def test_onnx_backend_matches_torch(tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from qa import embed
    from qa.locations import DEFAULT_MODEL

    texts = ["Kazakhstan sought damages over the Baikonur lease.", "", "short", "x " * 400]
    monkeypatch.setenv("PILCROW_EMBED_BACKEND", "torch")
    torch_model = embed.load_embedder("all-MiniLM-L6-v2")
    assert isinstance(torch_model, embed.SentenceTransformerEmbedder)
    monkeypatch.setenv("PILCROW_EMBED_BACKEND", "onnx")
    onnx_model = embed.load_embedder("all-MiniLM-L6-v2")
    assert isinstance(onnx_model, embed.OnnxEmbedder)
    assert onnx_model.name == torch_model.name == DEFAULT_MODEL
    a, b = onnx_model.embed(texts), torch_model.embed(texts)
    assert a.shape == b.shape == (4, 384)
    assert float((a * b).sum(axis=1).min()) > 0.9999
    assert onnx_model.count_tokens(texts[0]) == torch_model.count_tokens(texts[0])
    seen: list[int] = []
    onnx_model.embed(texts * 20, batch_size=16, progress=seen.append)
    assert sum(seen) == 80


def test_int8_backend_is_named_apart(monkeypatch):
    from qa import embed
    from qa.errors import ModelError
    from qa.locations import DEFAULT_MODEL

    monkeypatch.setenv("PILCROW_EMBED_BACKEND", "onnx-int8")
    assert embed.canonical_model_name("all-MiniLM-L6-v2") == DEFAULT_MODEL + "@int8"
    monkeypatch.setenv("PILCROW_EMBED_BACKEND", "onnx")
    assert embed.canonical_model_name(DEFAULT_MODEL + "@int8").endswith("@int8")
    assert embed.canonical_model_name("all-MiniLM-L6-v2") == DEFAULT_MODEL
    monkeypatch.setenv("PILCROW_EMBED_BACKEND", "gpu")
    with pytest.raises(ModelError):
        embed.backend_name()


def test_searcher_uses_a_sound_sidecar_and_falls_back_when_it_is_not(
    cables_corpus, tmp_path, monkeypatch
):
    """Real index, real model: above the threshold `qa ask` searches the IVF sidecar and
    cites the same paragraphs; a sidecar from elsewhere or of the wrong size is ignored."""
    import shutil

    from qa.factory import build_index, open_searcher
    from qa.locations import vectors_path

    monkeypatch.setattr(ivf, "ANN_MIN_VECTORS", 100)
    monkeypatch.setattr(ivf, "ann_lists", lambda count: 8)  # ~180 vectors here
    monkeypatch.setattr(ivf, "ANN_NPROBE", 8)  # every list: results equal exact
    index = tmp_path / "index"
    build_index(cables_corpus, index)
    side = ivf.ann_path(vectors_path(index, 1))
    assert side.exists()

    question = "How many judges receive police protection in Israel?"
    searcher = open_searcher(index)
    assert searcher.vectors.approximate  # the approximate index is what is searched
    assert searcher.ask(question, k=1, mode="dense").hits[0].citation == "09TELAVIV1098 ¶19"
    searcher.close()

    # A sidecar of the same ids, dimension, count and kind but other vectors: exact search.
    ids = vectors.open_checked(vectors_path(index, 1), 384).ids()
    flat = FlatIndex.empty(384)
    flat.add(ids, _unit(np.random.default_rng(0), len(ids), 384))
    foreign = tmp_path / "foreign.faiss"
    flat.save(foreign)
    vectors.write_ann(flat, foreign)
    shutil.copy(ivf.ann_path(foreign), side)
    monkeypatch.setattr(ivf, "trusted_sidecar", _without_size_check(ivf.trusted_sidecar))
    searcher = open_searcher(index)
    assert not searcher.vectors.approximate
    assert searcher.ask(question, k=1, mode="dense").hits[0].citation == "09TELAVIV1098 ¶19"
    searcher.close()

    side.write_bytes(b"\0" * 100)  # damaged: exact search, same answer
    searcher = open_searcher(index)
    assert not searcher.vectors.approximate
    assert searcher.ask(question, k=1, mode="dense").hits[0].citation == "09TELAVIV1098 ¶19"
    searcher.close()


def _without_size_check(check):  # type: ignore[no-untyped-def]
    """The sample check alone (a foreign sidecar of exactly the recorded size is rare)."""
    return lambda side, dim, count, ann_bytes, samples: check(side, dim, count, None, samples)
