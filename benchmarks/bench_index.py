"""Figure 1 (and the indexing half of 3): `qa index` against the bare model, same run.

    python -m benchmarks.bench_index [--cables 200] [--repeats 3]

On a copy of ``--cables`` cables spread evenly over the Cablegate corpus (all 1,295 with
``--cables 0``) it measures, interleaved so both see the same machine load:

* ``qa index`` from scratch: wall time, passages/s, peak RSS, index size on disk;
* the bare model, twice over: a fresh Python that loads the model and embeds exactly the
  texts the indexer embeds, (a) as sentence-transformers ``encode`` on torch, as the issue
  defines it, and (b) on the backend ``qa index`` uses (onnxruntime by default) without
  anything of Pilcrow around it. Order: ST, backend, qa index, backend, ST; each
  reference is the mean of its two runs. Overhead = (index wall - bare backend wall) /
  index wall: everything that is not the model;
* a no-op re-index (nothing changed), ``--repeats`` times;
* a re-index after one cable changed (a different small edit each time), and the bare
  backend's load+embed of exactly the texts that edit made the indexer embed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
from pathlib import Path

from benchmarks.common import (
    CORPUS,
    DATA,
    QA,
    dir_mib,
    fresh_dir,
    header,
    median,
    python,
    record,
    run,
    save,
)

BARE = """
import json, os, sys, time
t0 = time.perf_counter()
texts = json.load(open(sys.argv[1]))
if sys.argv[2] == "torch":  # sentence-transformers, as the issue defines the bare model
    from sentence_transformers import SentenceTransformer
    from qa.embed import resolve_model_path
    model = SentenceTransformer(resolve_model_path("all-MiniLM-L6-v2"), device="cpu")
    encode = lambda t: model.encode(t, batch_size=64, normalize_embeddings=True,
                                    show_progress_bar=False)
else:  # the same model on the backend `qa index` uses, without Pilcrow around it
    os.environ["PILCROW_EMBED_BACKEND"] = sys.argv[2]
    from qa.embed import load_embedder
    encode = load_embedder("all-MiniLM-L6-v2").embed
t1 = time.perf_counter()
if texts:
    encode(texts)
t2 = time.perf_counter()
print(json.dumps({"load": t1 - t0, "encode": t2 - t1, "texts": len(texts)}))
"""


def pick_cables(count: int) -> list[Path]:
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and not p.name.startswith("."))
    if count <= 0 or count >= len(files):
        return files
    step = len(files) / count
    return [files[int(i * step)] for i in range(count)]


def copy_corpus(files: list[Path], dest: Path) -> Path:
    fresh_dir(dest)
    for f in files:
        target = dest / f.relative_to(CORPUS)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
    return dest


def view_texts(corpus: Path, only: list[Path] | None = None) -> dict[str, str]:
    """hash -> text of every view the indexer would embed for these files."""
    from qa.index import file_sources
    from qa.index.rows import parsed, view_texts

    docs = []
    for src in file_sources(corpus):
        if only is not None and src.path not in only:
            continue
        docs.append(parsed(src.load(), ""))
    return view_texts(docs)


def uncached(index: Path, texts: dict[str, str]) -> list[str]:
    db = sqlite3.connect(f"file:{index / 'pilcrow.sqlite'}?mode=ro", uri=True)
    try:
        have = {row[0] for row in db.execute("SELECT text_hash FROM embeddings")}
    finally:
        db.close()
    return [t for h, t in texts.items() if h not in have]


def bare(
    texts: list[str], path: Path, backend: str = "torch"
) -> tuple[float, dict[str, float], float]:
    path.write_text(json.dumps(texts))
    result = python(BARE, str(path), backend)
    return result.seconds, json.loads(result.stdout.strip().splitlines()[-1]), result.peak_mib


def qa_index(corpus: Path, index: Path) -> tuple[float, dict[str, object], float]:
    result = run([QA, "index", "--corpus", str(corpus), "--index", str(index), "--json"])
    lines = [x for x in result.stdout.splitlines() if x.startswith("{")]
    if not lines:
        raise RuntimeError(f"qa index printed no summary:\n{result.stdout}\n{result.stderr}")
    return result.seconds, json.loads(lines[-1]), result.peak_mib


def edit_one(path: Path, n: int) -> None:
    """A small real edit: a sentence appended to the last paragraph of the cable."""
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    marker = "</pre>" if "</pre>" in text else None
    addition = f" Benchmark edit number {n} changes this paragraph."
    if marker:
        i = text.rfind(marker)
        text = text[:i] + addition + text[i:]
    else:
        text += addition
    path.write_text(text, encoding="utf-8", errors="surrogateescape")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cables", type=int, default=200, help="0 = all cables")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    files = pick_cables(args.cables)
    size = f"{len(files)}c"
    work = DATA / "bench" / f"index-{len(files)}"
    header(f"indexing {len(files)} cables ({work})")
    corpus = copy_corpus(files, work / "corpus")
    index = work / "index"
    texts = list(view_texts(corpus).values())

    backend = os.environ.get("PILCROW_EMBED_BACKEND", "onnx")
    st1, st_parts1, _ = bare(texts, work / "texts.json")
    be1, be_parts1, _ = bare(texts, work / "texts.json", backend)
    fresh_dir(index)
    wall, summary, rss = qa_index(corpus, index)
    be2, be_parts2, bare_rss = bare(texts, work / "texts.json", backend)
    st2, st_parts2, _ = bare(texts, work / "texts.json")
    st_wall, be_wall = (st1 + st2) / 2, (be1 + be2) / 2
    st_encode = (st_parts1["encode"] + st_parts2["encode"]) / 2
    be_encode = (be_parts1["encode"] + be_parts2["encode"]) / 2
    passages = int(summary["passages"])  # type: ignore[call-overload]
    record("index: passages", size, passages, "", f"{len(texts)} embedded texts (views)")
    record("index: wall time (qa index, from scratch)", size, wall, "s", f"backend {backend}")
    record("index: passages/s", size, passages / wall, "/s")
    record(
        "bare ST (torch): load+encode wall, mean of 2", size, st_wall, "s", f"{st1:.1f}/{st2:.1f}"
    )
    record("bare ST (torch): encode only", size, st_encode, "s")
    record("index wall / bare ST wall", size, wall / st_wall, "x")
    record("index wall / bare ST encode", size, wall / st_encode, "x")
    record(
        f"bare {backend}: load+encode wall, mean of 2", size, be_wall, "s", f"{be1:.1f}/{be2:.1f}"
    )
    record(f"bare {backend}: encode only", size, be_encode, "s")
    record(
        f"index overhead vs bare {backend} = (wall - bare)/wall",
        size,
        100 * (wall - be_wall) / wall,
        "%",
        "target <= 10%",
    )
    record("index: peak RSS", size, rss, "MiB")
    record(f"bare {backend}: peak RSS", size, bare_rss, "MiB")
    record("index size on disk", size, dir_mib(index), "MiB")
    vec = sorted(index.glob("vectors-*.faiss"))
    if vec:
        record("  of which vector file", size, vec[-1].stat().st_size / 2**20, "MiB")
    record(
        "  of which SQLite (+WAL)",
        size,
        sum(p.stat().st_size for p in index.glob("pilcrow.sqlite*")) / 2**20,
        "MiB",
    )

    noop = [qa_index(corpus, index)[0] for _ in range(args.repeats)]
    record(
        "no-op re-index (median)",
        size,
        median(noop),
        "s",
        f"runs {', '.join(f'{x:.2f}' for x in noop)}; target <= 1 s",
    )

    target = files[len(files) // 2]
    changed = corpus / target.relative_to(CORPUS)
    walls, bares, embedded = [], [], []
    for n in range(args.repeats):
        edit_one(changed, n)
        todo = uncached(index, view_texts(corpus, only=[changed]))
        t_wall, summary, _ = qa_index(corpus, index)
        t_bare, _, _ = bare(todo, work / "changed.json", backend)
        walls.append(t_wall)
        bares.append(t_bare)
        embedded.append(int(summary.get("passages_embedded", len(todo))))  # type: ignore[call-overload]
    over = [w - b for w, b in zip(walls, bares, strict=True)]
    record(
        "one changed cable: re-index wall (median)",
        size,
        median(walls),
        "s",
        f"{changed.name}, {median(embedded):.0f} texts embedded",
    )
    record(f"one changed cable: bare {backend} load+embed (median)", size, median(bares), "s")
    record("one changed cable: wall - bare (median)", size, median(over), "s", "target <= 2 s")
    save(f"index-{len(files)}")


if __name__ == "__main__":
    main()
