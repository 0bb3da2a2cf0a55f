"""Embedding backends: torch (sentence-transformers) vs onnxruntime float vs onnxruntime int8.

    python -m benchmarks.bench_embed [--texts 200] [--rounds 3] [--quality] [--eval-cables 200]

Speed: the same passage views (the texts `qa index` embeds) and the dev-set questions one
at a time, each backend in turn, ``--rounds`` rounds interleaved so every backend sees the
same machine load; medians and per-round ratios against torch.

Quality (``--quality``): dev-set MRR@10 (hybrid and dense) of each backend on the same
corpus: an index per vector kind (float: shared by torch and onnx, whose vectors agree to
cosine 0.99999; int8: its own) over the dev set's gold cables plus cables spread over the
corpus to ``--eval-cables`` (``--eval-cables 0`` = all 1,295; slow), then ``qa eval``
with ``PILCROW_EMBED_BACKEND`` set to each backend.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.common import (
    CORPUS,
    DATA,
    DEV_SET,
    QA,
    dev_questions,
    header,
    median,
    record,
    run,
    save,
)

BACKENDS = ("torch", "onnx", "onnx-int8")


def load(backend: str):  # type: ignore[no-untyped-def]
    os.environ["PILCROW_EMBED_BACKEND"] = backend
    from qa.embed import load_embedder

    started = time.perf_counter()
    embedder = load_embedder("all-MiniLM-L6-v2")
    return embedder, time.perf_counter() - started


def speed(texts: list[str], rounds: int) -> None:
    questions = dev_questions()
    models = {b: load(b)[0] for b in BACKENDS}
    reference = models["torch"].embed(texts[:50])
    for b, m in models.items():
        cos = (m.embed(texts[:50]) * reference).sum(axis=1)
        record(
            f"embed {b}: cosine to torch (min/mean)",
            f"{len(cos)}t",
            float(cos.min()),
            "",
            f"mean {cos.mean():.5f}",
        )
    passage: dict[str, list[float]] = {b: [] for b in BACKENDS}
    query: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for _ in range(rounds):
        for b, m in models.items():
            started = time.perf_counter()
            m.embed(texts)
            passage[b].append(time.perf_counter() - started)
            times = []
            for q in questions:
                started = time.perf_counter()
                m.embed([q])
                times.append(time.perf_counter() - started)
            query[b].append(median(times) * 1000)
    size = f"{len(texts)}t"
    for b in BACKENDS:
        record(f"embed {b}: passage views/s (median)", size, len(texts) / median(passage[b]), "/s")
        ratios = [t / x for t, x in zip(passage["torch"], passage[b], strict=True)]
        record(f"embed {b}: speed-up vs torch, passages", size, median(ratios), "x")
        record(f"embed {b}: one question (median)", "1q", median(query[b]), "ms")
        ratios = [t / x for t, x in zip(query["torch"], query[b], strict=True)]
        record(f"embed {b}: speed-up vs torch, one question", "1q", median(ratios), "x")


def eval_corpus(count: int) -> Path:
    from benchmarks.bench_index import copy_corpus, pick_cables

    gold = {json.loads(line)["doc"] for line in DEV_SET.read_text().splitlines() if line.strip()}
    files = pick_cables(count)
    chosen = set(files)
    for f in CORPUS.rglob("*"):
        if f.is_file() and f.stem in gold:
            chosen.add(f)
    return copy_corpus(sorted(chosen), DATA / "bench" / f"eval-{count}" / "corpus")


def quality(count: int) -> None:
    corpus = eval_corpus(count)
    size = f"{sum(1 for p in corpus.rglob('*') if p.is_file())}c"
    for kind, backend in (("float", "onnx"), ("int8", "onnx-int8")):
        index = corpus.parent / f"index-{kind}"
        env = {"PILCROW_EMBED_BACKEND": backend}
        built = run(
            [QA, "index", "--corpus", str(corpus), "--index", str(index), "--json"], env=env
        )
        record(f"eval index ({kind}) build wall", size, built.seconds, "s")
        users = ("torch", "onnx") if kind == "float" else ("onnx-int8",)
        for user in users:
            result = run(
                [QA, "eval", str(DEV_SET), "--index", str(index), "--mode", "all", "--json"],
                env={"PILCROW_EMBED_BACKEND": user},
            )
            modes = json.loads(result.stdout.strip().splitlines()[-1])["modes"]
            for mode in ("hybrid", "dense"):
                record(f"dev MRR@10 {mode}, {user}", size, modes[mode]["mrr@10"], "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--eval-cables", type=int, default=200)
    args = parser.parse_args(argv)

    from benchmarks.bench_index import pick_cables, view_texts

    header("embedding backends")
    texts_path = DATA / "bench" / "embed-texts.json"
    if not texts_path.exists():
        from benchmarks.bench_index import copy_corpus

        corpus = copy_corpus(pick_cables(60), DATA / "bench" / "embed-corpus")
        texts_path.write_text(json.dumps(list(view_texts(corpus).values())))
    texts = json.loads(texts_path.read_text())
    rng = np.random.default_rng(0)
    texts = [texts[i] for i in sorted(rng.choice(len(texts), min(args.texts, len(texts)), False))]
    speed(texts, args.rounds)
    if args.quality:
        quality(args.eval_cables)
    save("embed")


if __name__ == "__main__":
    main()
