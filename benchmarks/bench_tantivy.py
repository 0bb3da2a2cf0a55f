"""BM25 on tantivy (block-max WAND) against FTS5: quality, latency, size, build, updates.

    python -m benchmarks.bench_tantivy synth  --base bench-data/cables-index --passages 1000000 \\
        --out bench-data/tantivy-work/synth-1m
    python -m benchmarks.bench_tantivy build   INDEX --tantivy DIR
    python -m benchmarks.bench_tantivy quality INDEX --tantivy DIR [--hybrid]
    python -m benchmarks.bench_tantivy speed   INDEX --tantivy DIR [--rounds 2]
    python -m benchmarks.bench_tantivy update  INDEX --tantivy DIR

INDEX is read only (the tantivy index goes to ``--tantivy``, so a shared base such as
bench-data/cables-index stays untouched). ``synth`` writes a lexical-only index
(documents, passages, FTS5, lexicon, manifest; no vectors; each body its passages'
texts): the base's passages once, as they are (so the gold passages of the question sets
are there, under their own cable IDs), and then recombined copies: each copy of a
passage is the first half of its words and the second half of another passage's, under
the cable ID ``<id>-C<n>``. Unlike ``benchmarks.synth`` (exact copies, 67 of each
passage at 1M), no two passages are alike, so top-k pruning cannot ride on ties, and
quality at scale means something: the gold passage must still win among a million
distractors made of real cable text.

Questions: the dev set and benchmarks/data/tuning-questions{,-2,-3}.jsonl. MRR@10 is
scored as ``qa eval`` scores it: the first 10 hits, judged as ``DOC#paragraph``.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from benchmarks.common import DEV_SET, ROOT, load_average, percentile
from qa.store import PASSAGE_TEXT, fulltext
from qa.views import clean

Ranked = list[tuple[int, float]]
Engine = Callable[[str, int], Ranked]
SETS = [
    DEV_SET,
    ROOT / "benchmarks/data/tuning-questions.jsonl",
    ROOT / "benchmarks/data/tuning-questions-2.jsonl",
    ROOT / "benchmarks/data/tuning-questions-3.jsonl",
]
TABLES = ("documents", "passages", "passages_document", "documents_date", "lexicon", "manifest")


def connect(index: Path) -> sqlite3.Connection:
    """Read-only, outside qa.store (whose schema may be newer than the file's)."""
    return sqlite3.connect(f"file:{index / 'pilcrow.sqlite'}?mode=ro", uri=True)


def questions(path: Path) -> list[dict[str, object]]:
    """One question set, as its JSONL items."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def all_questions() -> list[str]:
    """The texts of every set, in order (repeats kept: they are asked as often)."""
    return [str(q["question"]) for path in SETS for q in questions(path)]


# -- synthetic index ------------------------------------------------------------------


def _create_schema(db: sqlite3.Connection, base: Path) -> None:
    """The base's own table definitions (documents, passages, FTS5, lexicon, manifest)."""
    src = connect(base)
    for name in TABLES:
        db.execute(
            src.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
        )
    fts = src.execute("SELECT sql FROM sqlite_master WHERE name = 'passages_fts'").fetchone()[0]
    db.execute(fts)
    db.executemany(
        "INSERT INTO manifest(key, value) VALUES (?, ?)",
        src.execute("SELECT key, value FROM manifest").fetchall(),
    )
    src.close()


def _recombined(rows: list[tuple], copy: int, rng: np.random.Generator) -> Iterator[tuple]:  # type: ignore[type-arg]
    """One copy of the base passages: each the first half of its own words and the second
    half of another's (drawn at random), its context marked with the copy. A row is
    ``(document_id, seq, label, paragraph, heading, text_hash, text, context, hashes)``."""
    partners = rng.integers(len(rows), size=len(rows))
    for row, other in zip(rows, partners.tolist(), strict=True):
        words, tail = row[6].split(), rows[other][6].split()
        text = " ".join(words[: len(words) // 2] + tail[len(tail) // 2 :])
        yield (*row[:6], text, f"{row[7]} [copy {copy}]", row[8])


def synth(base: Path, out: Path, passages: int) -> dict[str, object]:
    """Write the recombined lexical-only index of about ``passages`` passages."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    (out / "pilcrow.sqlite").unlink(missing_ok=True)
    db = sqlite3.connect(out / "pilcrow.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    _create_schema(db, base)
    src = connect(base)
    docs = src.execute(
        "SELECT id, doc_id, kind, title, date, origin, classification, tags,"
        " source, file_hash FROM documents ORDER BY id"
    ).fetchall()
    rows = src.execute(
        "SELECT p.document_id, p.seq, p.label, p.paragraph, p.heading, p.text_hash,"
        f" {PASSAGE_TEXT}, p.context, p.view_hashes FROM passages p"
        " JOIN documents d ON d.id = p.document_id ORDER BY p.document_id, p.seq"
    ).fetchall()
    src.close()
    stride = max(d[0] for d in docs) + 1
    rng = np.random.default_rng(12)
    copy, total = 0, 0
    while total < passages:
        _insert_copy(db, docs, rows, copy, stride, rng)
        total += len(rows)
        copy += 1
    filled = time.perf_counter()
    from qa.store import refresh_lexicon

    db.execute("BEGIN")
    count = refresh_lexicon(db)
    db.execute("UPDATE manifest SET value = ? WHERE key = 'lexicon_passages'", (str(count),))
    db.execute("COMMIT")
    db.close()
    return {
        "passages": count,
        "copies": copy,
        "seconds": time.perf_counter() - started,
        "fts_and_rows_seconds": filled - started,
    }


def _insert_copy(
    db: sqlite3.Connection,
    docs: list[tuple],
    rows: list[tuple],  # type: ignore[type-arg]
    copy: int,
    stride: int,
    rng: np.random.Generator,
) -> None:
    """Copy 0 is the base's passages as they are (their texts the same words, so the gold
    passages score as in the base); copy n > 0 is recombined, under ``<id>-C<n>``. Each
    document's body is its passages' texts one after another, as the slices they are
    read from; FTS5 is fed ``clean`` of each (``qa.store.fulltext``)."""
    suffix = f"-C{copy}" if copy else ""
    offset = copy * stride
    made = rows if not copy else list(_recombined(rows, copy, rng))
    by_doc: dict[int, list[tuple]] = {}  # type: ignore[type-arg]
    for row in made:
        by_doc.setdefault(row[0], []).append(row)
    db.execute("BEGIN")
    for d in docs:
        texts = [row[6] for row in by_doc.get(d[0], [])]
        body = "\n\n".join(texts)
        db.execute(
            "INSERT INTO documents(id, doc_id, kind, title, date, origin, classification, tags,"
            " source, file_hash, body) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (d[0] + offset, d[1] + suffix, *d[2:8], f"copy{copy}/{d[8]}", d[9], body),
        )
        start = 0
        for row in by_doc.get(d[0], []):
            end = start + len(row[6])
            cur = db.execute(
                "INSERT INTO passages(document_id, seq, label, paragraph, heading, start,"
                ' "end", text_hash, context, view_hashes) VALUES (?,?,?,?,?,?,?,?,?,?)',
                (d[0] + offset, *row[1:5], start, end, row[5], row[7], row[8]),
            )
            fulltext.add(db, [(int(cur.lastrowid or 0), clean(row[6]), row[7])])
            start = end + 2
    db.execute("COMMIT")


# -- build, size ----------------------------------------------------------------------


def fts_bytes(db: sqlite3.Connection) -> dict[str, int]:
    """Bytes of the FTS5 tables and of the lexicon (what tantivy would make redundant)."""
    rows = db.execute(
        "SELECT name LIKE 'passages_fts%', sum(pgsize) FROM dbstat"
        " WHERE name LIKE 'passages_fts%' OR name = 'lexicon' GROUP BY 1"
    ).fetchall()
    found = {bool(is_fts): int(size) for is_fts, size in rows}
    return {"fts5": found.get(True, 0), "lexicon": found.get(False, 0)}


def dir_bytes(path: Path) -> int:
    """Bytes of the files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def build(index: Path, directory: Path, threads: int) -> dict[str, object]:
    """Build the tantivy index from INDEX's passages; time, size, FTS5's size beside it."""
    from qa.bm25 import engine
    from qa.search import tantivy_lexical as tl

    db = connect(index)
    started = time.perf_counter()
    count = engine.build(db, directory, threads=threads)
    seconds = time.perf_counter() - started
    return {
        "passages": count,
        "build_seconds": round(seconds, 1),
        "threads": threads,
        "tantivy_bytes": dir_bytes(directory),
        "segments": tl.TantivyLexical(directory)._searcher.num_segments,
        "sqlite_bytes": (index / "pilcrow.sqlite").stat().st_size,
        **fts_bytes(db),
        "load": round(load_average(), 2),
    }


# -- quality ----------------------------------------------------------------------------


def keys_of(db: sqlite3.Connection, ids: list[int]) -> dict[int, str]:
    """``DOC#paragraph`` (or ``DOC#label``) of each passage, as ``qa eval`` judges hits."""
    out: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for pid, doc, para, label in db.execute(
            "SELECT p.id, d.doc_id, p.paragraph, p.label FROM passages p JOIN documents d"
            f" ON d.id = p.document_id WHERE p.id IN ({marks})",
            chunk,
        ):
            out[pid] = f"{doc}#{para if para is not None else label}"
    return out


def reciprocal_rank(ranked: Ranked, keys: dict[int, str], gold: set[str]) -> float:
    """1/rank of the first gold key among the first 10 hits' distinct keys."""
    seen: list[str] = []
    for pid, _ in ranked[:10]:
        key = keys[pid]
        if key not in seen:
            seen.append(key)
        if key in gold:
            return 1.0 / len(seen)
    return 0.0


def mrr_table(db: sqlite3.Connection, runs: dict[str, dict[str, Ranked]]) -> dict[str, object]:
    """MRR@10 of every run, per set and per kind of question."""
    ids = sorted({pid for run in runs.values() for r in run.values() for pid, _ in r[:10]})
    keys = keys_of(db, ids)
    table: dict[str, object] = {}
    for path in SETS:
        items = questions(path)
        kinds = sorted({str(q.get("kind", "all")) for q in items})
        for name, run in runs.items():
            by: dict[str, list[float]] = {kind: [] for kind in ["all", *kinds]}
            for q in items:
                gold = {f"{q['doc']}#{g}" for g in q["gold"]}  # type: ignore[attr-defined]
                rr = reciprocal_rank(run[str(q["question"])], keys, gold)
                by["all"].append(rr)
                by[str(q.get("kind", "all"))].append(rr)
            table[f"{path.stem} | {name}"] = {
                k: (round(statistics.mean(v), 4), len(v)) for k, v in by.items()
            }
    return table


def lexical_variants(db: sqlite3.Connection, directory: Path) -> dict[str, Engine]:
    """FTS5 as shipped and without its posting budget; tantivy as shipped (candidates
    rescored by FTS5's formula), with FTS5's budget, and its first stage alone."""
    from qa.search import lexical
    from qa.search import tantivy_lexical as tl

    engine = tl.TantivyLexical(directory)

    def fts5(budget: int) -> Engine:
        def run(q: str, k: int) -> Ranked:
            saved, lexical.POSTING_BUDGET = lexical.POSTING_BUDGET, budget
            try:
                return lexical.search(db, q, k)
            finally:
                lexical.POSTING_BUDGET = saved

        return run

    def tantivy(budget: int | None = None, idf: str = "lexicon", rescore: bool = True) -> Engine:
        def run(q: str, k: int) -> Ranked:
            saved = tl.ROW_IDF, tl.RESCORE
            tl.ROW_IDF, tl.RESCORE = idf, rescore
            try:
                return engine.search(db, q, k, budget=budget)
            finally:
                tl.ROW_IDF, tl.RESCORE = saved

        return run

    return {
        "fts5 (shipped: budget 12k)": fts5(lexical.POSTING_BUDGET),
        "fts5 exact (no budget)": fts5(10**12),
        "tantivy": tantivy(),
        "tantivy, budget 12k": tantivy(lexical.POSTING_BUDGET),
        "tantivy, not rescored": tantivy(rescore=False),
        "tantivy, not rescored, its own IDF": tantivy(idf="off", rescore=False),
    }


def dense_runs(
    db: sqlite3.Connection, index: Path, texts: list[str]
) -> tuple[dict[str, Ranked], float]:
    """FAISS top-300 windows → best per passage (the searcher's dense part), and the
    index's dense prior for fusion."""
    import faiss

    from qa.factory import shared_embedder
    from qa.search import rank

    manifest = dict(db.execute("SELECT key, value FROM manifest").fetchall())
    vectors = faiss.read_index(str(index / manifest["vectors"]))
    embedder = shared_embedder(manifest["model"])
    runs: dict[str, Ranked] = {}
    for text in texts:
        vector = embedder.embed([text])[0].astype(np.float32)[None, :]
        scores, ids = vectors.search(vector, 300)
        keep = ids[0] >= 0
        runs[text] = rank.best_per_passage(
            scores[0][keep].tolist(), (ids[0][keep] // 16).tolist(), 100
        )
    prior = rank.dense_prior(manifest.get("concentration"), int(manifest["vector_count"]))
    return runs, prior


def hybrid(db: sqlite3.Connection, text: str, dense: Ranked, lex: Ranked, prior: float) -> Ranked:
    """What ``Searcher._rank`` does in hybrid mode, on the given lists."""
    from qa.search import rank
    from qa.search.query import Query
    from qa.search.searcher import summaries_among

    boost: set[int] = set()
    for doc_id in Query.parse(text).cable_ids:
        boost.update(
            pid
            for (pid,) in db.execute(
                "SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id"
                " WHERE d.doc_id = ? COLLATE NOCASE",
                (doc_id,),
            )
        )
    fused = rank.fuse(dense, lex, boost=boost, prior=prior)
    return rank.defer_summaries(fused, summaries_among(db, rank.summary_window(fused)))


def quality(index: Path, directory: Path, with_hybrid: bool) -> dict[str, object]:
    """MRR@10 per set and kind: each lexical variant alone, and (``--hybrid``, an index
    with vectors) FTS5's and tantivy's lists fused with the dense list."""
    db = connect(index)
    texts = sorted(set(all_questions()))
    variants = lexical_variants(db, directory)
    runs = {name: {t: fn(t, 100) for t in texts} for name, fn in variants.items()}
    if with_hybrid:
        dense, prior = dense_runs(db, index, texts)
        runs["dense"] = dense
        for name in [n for n in variants if "its own" not in n]:
            runs[f"hybrid with {name}"] = {
                t: hybrid(db, t, dense[t], runs[name][t], prior) for t in texts
            }
    return mrr_table(db, runs)


# -- speed ----------------------------------------------------------------------------


def timed(
    engines: dict[str, Engine], texts: list[str], rounds: int, k: int = 100
) -> dict[str, list[float]]:
    """Milliseconds per question for each engine, interleaved question by question so
    both see the same load; one untimed pass first (warm)."""
    for fn in engines.values():
        for text in texts:
            fn(text, k)
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for text in texts:
            for name, fn in engines.items():
                started = time.perf_counter()
                fn(text, k)
                times[name].append((time.perf_counter() - started) * 1000)
    return times


def summary(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Count, p50, p95 (nearest rank) and max of each engine's milliseconds."""
    return {
        name: {
            "n": len(ms),
            "p50": round(percentile(ms, 50), 2),
            "p95": round(percentile(ms, 95), 2),
            "max": round(max(ms), 1),
        }
        for name, ms in times.items()
    }


def filtered_engines(db: sqlite3.Connection, directory: Path) -> dict[str, Engine]:
    """FTS5 and tantivy under a narrow filter (one origin) and a broad one (a date)."""
    from qa.models import Filters
    from qa.search import lexical
    from qa.search import tantivy_lexical as tl

    engine = tl.TantivyLexical(directory)

    def fts5(filters: Filters) -> Engine:
        return lambda q, k: lexical.search(db, q, k, filters)

    def tantivy(filters: Filters) -> Engine:
        return lambda q, k: engine.search(db, q, k, filters)

    out: dict[str, Engine] = {}
    for label, filters in (
        ("origin Moscow", Filters(origin="Moscow")),
        ("since 2008-01-01", Filters(since="2008-01-01")),
    ):
        out[f"fts5, {label}"] = fts5(filters)
        out[f"tantivy, {label}"] = tantivy(filters)
    return out


def speed(index: Path, directory: Path, rounds: int) -> dict[str, object]:
    """BM25 top-100 latency, FTS5 vs tantivy, warm; filtered on the dev questions; the
    top-10 overlap of the filtered lists (they should agree as the unfiltered do)."""
    variants = lexical_variants(connect(index), directory)
    names = ["fts5 (shipped: budget 12k)", "tantivy", "tantivy, budget 12k"]
    texts = all_questions()
    result: dict[str, object] = {"questions": len(texts), "load_before": load_average()}
    result["unfiltered"] = summary(timed({n: variants[n] for n in names}, texts, rounds))
    dev = [str(q["question"]) for q in questions(DEV_SET)]
    result["filtered (dev)"] = summary(timed(filtered_engines(connect(index), directory), dev, 1))
    result["load_after"] = load_average()
    result["cold"] = cold_open(index, directory, texts[0])
    return result


COLD = """
import sys, time, sqlite3
from pathlib import Path
t0 = time.perf_counter()
from qa.search import lexical, tantivy_lexical as tl
t1 = time.perf_counter()
db = sqlite3.connect(f"file:{sys.argv[1]}/pilcrow.sqlite?mode=ro", uri=True)
engine = tl.TantivyLexical(Path(sys.argv[2]))
t2 = time.perf_counter()
engine.search(db, sys.argv[3], 100)
t3 = time.perf_counter()
lexical.search(db, sys.argv[3], 100)
t4 = time.perf_counter()
print(f"{(t1-t0)*1000:.1f} {(t2-t1)*1000:.1f} {(t3-t2)*1000:.1f} {(t4-t3)*1000:.1f}")
"""


def cold_open(index: Path, directory: Path, text: str) -> dict[str, float]:
    """A fresh process (page cache as it is, not dropped: the machine is shared): import,
    open the tantivy reader, its first query, then FTS5's first query; ms, median of 3."""
    runs = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", COLD, str(index), str(directory), text],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout.split()
        runs.append([float(x) for x in out])
    med = np.median(np.array(runs), axis=0).tolist()
    return dict(
        zip(["import_ms", "open_ms", "first_tantivy_ms", "first_fts5_ms"], med, strict=True)
    )


# -- updates --------------------------------------------------------------------------


def update(index: Path, directory: Path) -> dict[str, object]:
    """The write path at this size: one changed cable (its passages out, the same rows
    back under new ids), a 20,000-passage part, and the undo of each (what a run killed
    between tantivy's commit and SQLite's costs the next run). Seconds."""
    from qa.bm25 import engine
    from qa.search import tantivy_lexical as tl
    from qa.store import read_manifest

    db = connect(index)
    base = engine.commit_of(read_manifest(db))
    top = int(db.execute("SELECT max(id) FROM passages").fetchone()[0])
    cable = db.execute(
        "SELECT document_id FROM passages GROUP BY document_id HAVING count(*) BETWEEN 10 AND 14"
        " LIMIT 1"
    ).fetchone()[0]
    old = [r[0] for r in db.execute("SELECT id FROM passages WHERE document_id = ?", (cable,))]
    part = [r[0] for r in db.execute("SELECT id FROM passages ORDER BY id LIMIT 20000")]
    out: dict[str, object] = {
        "segments_before": tl.TantivyLexical(directory)._searcher.num_segments
    }
    for label, deleted, source in (("one cable", old, old), ("20k-passage part", [], part)):
        found = engine.rows_of(db, source)
        rows = [(top + 1 + i, text, ctx) for i, (_, text, ctx) in enumerate(found)]
        started = time.perf_counter()
        engine.apply(directory, base, (base[0] + 1, f"bench {label}"), deleted, rows)
        out[f"apply {label} ({len(deleted)} out, {len(rows)} in)"] = round(
            time.perf_counter() - started, 3
        )
        started = time.perf_counter()
        did = engine.bring_in_step(db, directory)
        out[f"bring_in_step after the {label} ({did})"] = round(time.perf_counter() - started, 3)
    reader = tl.TantivyLexical(directory)
    out["in step after"] = reader.in_step(base)
    out["passages after"] = reader.passages
    out["segments_after"] = reader._searcher.num_segments
    return out


def main(argv: list[str] | None = None) -> None:
    """Run one step and print its result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["synth", "build", "quality", "speed", "update"])
    parser.add_argument("index", type=Path, nargs="?")
    parser.add_argument("--tantivy", type=Path)
    parser.add_argument("--base", type=Path, default=ROOT / "bench-data/cables-index")
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--hybrid", action="store_true")
    args = parser.parse_args(argv)
    if args.step == "synth":
        result: object = synth(args.base, args.out, args.passages)
    elif args.step == "build":
        result = build(args.index, args.tantivy, args.threads)
    elif args.step == "quality":
        result = quality(args.index, args.tantivy, args.hybrid)
    elif args.step == "speed":
        result = speed(args.index, args.tantivy, args.rounds)
    else:
        result = update(args.index, args.tantivy)
    print(
        json.dumps(
            {"step": args.step, "index": str(args.index), "pid": os.getpid(), "result": result},
            indent=1,
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
