"""Exact vs approximate vector search on one index's vectors: latency, recall@10, memory.

    python -m benchmarks.bench_ann INDEX [--label 1M] [--hnsw] [--float32]

Loads the index's flat vector file and compares, one query at a time and on one thread
as ``qa ask`` does (``qa.vectors.VectorIndex.search``):

* exact: the flat inner-product index the indexer writes (``IndexIDMap2`` over
  ``IndexScalarQuantizer(QT_fp16)``; ``IndexFlatIP`` float32 in files of the previous
  layout), and with ``--float32`` the same vectors in a float32 ``IndexFlatIP`` beside it;
* IVF-SQfp16 (what ``qa.vectors.sidecar.write_ann`` writes above ``ANN_MIN_VECTORS``) at several
  ``nprobe``; IVF-Flat and IVF-SQ8 at ``ANN_NPROBE``; HNSW32 with ``--hnsw`` (slow to build
  at 1M on two cores, and it cannot delete, which incremental indexing needs).

Queries: the dev-set questions embedded by the real model, plus stored vectors with noise
(cosine ≈ 0.85 to a stored one), 200 in all. recall@10 = overlap of the top-10 vector ids
with the exact top-10.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import dev_questions, header, percentile, record, save
from qa.vectors import FlatIndex, sidecar


def queries(stored: FlatIndex, total: int = 200) -> np.ndarray:
    import os

    os.environ.setdefault("PILCROW_EMBED_BACKEND", "onnx")
    from qa.embed import load_embedder

    real = load_embedder("all-MiniLM-L6-v2").embed(dev_questions())
    rng = np.random.default_rng(7)
    rows = np.sort(rng.choice(stored.count, total - len(real), replace=False))
    dim = stored.dim
    noisy = stored.rows(rows) + rng.standard_normal((len(rows), dim)).astype(np.float32) * (
        0.6 / np.sqrt(dim)
    )
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return np.ascontiguousarray(np.vstack([real, noisy]), dtype=np.float32)


def timed_search(index, qs: np.ndarray, k: int, params=None):  # type: ignore[no-untyped-def]
    times, found = [], []
    for q in qs:
        started = time.perf_counter()
        if params is None:
            _, ids = index.search(q[None, :], k)
        else:
            _, ids = index.search(q[None, :], k, params=params)
        times.append((time.perf_counter() - started) * 1000)
        found.append(ids[0])
    return np.array(found), times


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)])
    )


def index_mib(index) -> float:  # type: ignore[no-untyped-def]
    import faiss

    return faiss.serialize_index(index).size / 2**20


def add_all(index, stored: FlatIndex) -> None:  # type: ignore[no-untyped-def]
    """Add every stored vector to another FAISS index, decoded a chunk at a time."""
    ids = stored.ids()
    start = 0
    for block in stored.blocks():
        index.add_with_ids(block, ids[start : start + len(block)])
        start += len(block)


def main(argv: list[str] | None = None) -> None:
    import faiss

    from qa.vectors import ivf

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--label", default="")
    parser.add_argument("--hnsw", action="store_true")
    parser.add_argument(
        "--float32", action="store_true", help="also time the previous float32 flat layout"
    )
    args = parser.parse_args(argv)
    label = args.label or args.index.name
    faiss.omp_set_num_threads(1)  # one query at a time, as VectorIndex.search does
    files = sorted(args.index.glob("vectors-*.faiss"))
    stored = FlatIndex.open(files[-1])
    flat = stored.native
    header(f"vector search at {flat.ntotal:,} vectors ({label}, {stored.layout} flat file)")
    qs = queries(stored)
    k = 10
    truth_found, exact_times = timed_search(flat, qs, k)
    record("vectors in index", label, flat.ntotal, "")
    tag = f"exact flat {stored.layout}"
    record(f"{tag}: p50", label, percentile(exact_times, 50), "ms")
    record(f"{tag}: p95", label, percentile(exact_times, 95), "ms")
    record(f"{tag}: memory", label, stored.codes().nbytes / 2**20, "MiB")
    if args.float32 and stored.layout != "float32":
        plain = faiss.IndexIDMap2(faiss.IndexFlatIP(flat.d))
        add_all(plain, stored)
        found, times = timed_search(plain, qs, k)
        record("exact flat float32: p50", label, percentile(times, 50), "ms")
        record("exact flat float32: p95", label, percentile(times, 95), "ms")
        record("exact flat float32: memory", label, flat.ntotal * flat.d * 4 / 2**20, "MiB")
        record("exact fp16 top-10 vs float32 top-10", label, recall(truth_found, found), "")
        del plain
    nlist = ivf.ann_lists(flat.ntotal)

    def measure(name: str, index, nprobes=(None,)) -> None:  # type: ignore[no-untyped-def]
        for nprobe in nprobes:
            params = None
            tag = name
            if nprobe is not None:
                params = faiss.SearchParametersIVF(nprobe=nprobe)
                tag = f"{name} nprobe={nprobe}"
            found, times = timed_search(index, qs, k, params)
            record(f"{tag}: p50", label, percentile(times, 50), "ms")
            record(f"{tag}: p95", label, percentile(times, 95), "ms")
            record(
                f"{tag}: recall@10 vs exact",
                label,
                recall(found, truth_found),
                "",
                "target >= 0.95",
            )

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:  # the sidecar, as the indexer writes it
        target = Path(scratch) / "vectors-000001.faiss"
        ivf.ANN_MIN_VECTORS = 0
        side = sidecar.write_ann(stored, target)
        assert side is not None, "the sidecar could not be written"
        ann = faiss.read_index(str(side))  # loaded, not mapped: search speed alone
    record(f"IVF{nlist},SQfp16 (build_ann): build", label, time.perf_counter() - started, "s")
    record(f"IVF{nlist},SQfp16: memory", label, index_mib(ann), "MiB")
    measure(f"IVF{nlist},SQfp16", ann, (8, 16, 32, 64))
    for spec in ("Flat", "SQ8"):
        started = time.perf_counter()
        coarse = faiss.clone_index(ann.quantizer)  # same lists: compare only the codes
        if spec == "Flat":
            other = faiss.IndexIVFFlat(coarse, flat.d, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            other = faiss.IndexIVFScalarQuantizer(
                coarse, flat.d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
            step = max(1, stored.count // (nlist * 64))
            other.train(stored.rows(np.arange(0, stored.count, step)))
        add_all(other, stored)
        record(
            f"IVF{nlist},{spec}: build (lists reused)", label, time.perf_counter() - started, "s"
        )
        record(f"IVF{nlist},{spec}: memory", label, index_mib(other), "MiB")
        measure(f"IVF{nlist},{spec}", other, (ivf.ANN_NPROBE,))
        del other, coarse
    if args.hnsw:
        started = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(flat.d, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 40
        for block in stored.blocks():
            hnsw.add(block)
        record("HNSW32: build", label, time.perf_counter() - started, "s")
        record("HNSW32: memory", label, index_mib(hnsw), "MiB")
        for ef in (64, 128):
            params = faiss.SearchParametersHNSW(efSearch=ef)
            found, times = timed_search(hnsw, qs, k, params)
            ids = stored.ids()
            found = np.where(found >= 0, ids[np.clip(found, 0, None)], -1)
            record(f"HNSW32 ef={ef}: p50", label, percentile(times, 50), "ms")
            record(f"HNSW32 ef={ef}: p95", label, percentile(times, 95), "ms")
            record(f"HNSW32 ef={ef}: recall@10 vs exact", label, recall(found, truth_found), "")
    save(f"ann-{label}")


if __name__ == "__main__":
    main()
