"""Telling apart the paragraphs of one cable: features beside the bi-encoder, cross-validated.

Issue 14: 17 of 37 unseen natural misses had the right cable first but another of its
paragraphs. This script computes, once per question, the dense and BM25 candidate lists
(depth 100, as the searcher does) and what each candidate needs for the features of
``benchmarks.paragraph_features`` (its window vectors, its cable's mean window vector, its
stored sentence vectors, its text), keeps them in memory, and then scores every variant on
the same lists in milliseconds. Everything runs in one process, so nothing is cached to
disk between a collecting and a scoring step (the project never loads pickles).

Parameters are chosen by 5-fold cross-validation over the pooled tuning questions
(folds grouped by cable, so no cable is in both a fitting and a scoring fold) and the
held-out scores reported with standard errors; BEIR and the seed questions are scored
with every fold's choice.

    python -m benchmarks.paragraph_sweep [--index DIR] [--seeds-index DIR]
        [--sets NAME=QUESTIONS,...]

NAME is the set's name in the tables; the pooled tuning questions are the sets named
tuning1, tuning2 and tuning3. A BEIR folder brings its own corpus (indexed once into the
eval cache, ``PILCROW_EVAL_CACHE``); the set named ``seeds`` is searched on --seeds-index
and every other on --index. The defaults are the three tuning sets, BEIR msmarco and
dbpedia and the seed questions. Commands and results: docs/evaluation.md (issue 14).
"""

from __future__ import annotations

import argparse
import math
import random
import sqlite3
import sys
from pathlib import Path

import numpy as np

from benchmarks.paragraph_features import Cand, Ranked, Record, SetData, Variant, families
from qa import store
from qa.evaluate import EvalSet, load_eval_set
from qa.factory import index_beir, open_searcher
from qa.highlight import sentence_key
from qa.locations import db_path
from qa.models import Filters
from qa.search import lexical
from qa.search import rank as rules
from qa.search.searcher import Searcher
from qa.vectors.flat import FlatIndex
from qa.views import is_summary, text_hash

TUNING = ("tuning1", "tuning2", "tuning3")
DEFAULT_SETS = {
    "tuning1": Path("benchmarks/data/tuning-questions.jsonl"),
    "tuning2": Path("benchmarks/data/tuning-questions-2.jsonl"),
    "tuning3": Path("benchmarks/data/tuning-questions-3.jsonl"),
    "msmarco": Path("../shared/eval/beir/msmarco"),
    "dbpedia": Path("../shared/eval/beir/dbpedia"),
    "seeds": Path("benchmarks/data/seed-questions.jsonl"),
}
Pooled = list[tuple[str, Record]]  # (set name, question) for every pooled tuning question
Metrics = dict[str, float]

# -- collect ------------------------------------------------------------------------------


def _all_vectors(searcher: Searcher) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Every window vector by vector id, and the index's mean vector.

    Read from the exact (flat) file: the features must see the vectors the dense scores
    were computed from, which an approximate sidecar does not store."""
    vecs = searcher.vectors
    if not isinstance(vecs, FlatIndex):
        raise SystemExit(f"{searcher.index_dir}: the sweep needs the exact (flat) vector file")
    ids = vecs.ids()
    data = vecs.codes().astype(np.float32)
    return {int(i): data[n] for n, i in enumerate(ids)}, data.mean(axis=0)


def _cable_windows(
    db: sqlite3.Connection, by_id: dict[int, np.ndarray]
) -> tuple[dict[int, list[np.ndarray]], dict[str, np.ndarray]]:
    """Window vectors by passage id (vector id // 16), and each cable's mean window vector
    (the ``contrast`` feature subtracts it)."""
    pid_doc = dict(
        db.execute("SELECT p.id, d.doc_id FROM passages p JOIN documents d ON d.id = p.document_id")
    )
    windows: dict[int, list[np.ndarray]] = {}
    for vid, v in by_id.items():
        windows.setdefault(vid // 16, []).append(v)
    doc_sum: dict[str, list[np.ndarray]] = {}
    for pid, ws in windows.items():
        doc_sum.setdefault(pid_doc.get(pid, "?"), []).extend(ws)
    doc_mean = {d: np.mean(ws, axis=0) for d, ws in doc_sum.items()}
    return windows, doc_mean


def collect(name: str, questions: Path, index: Path | None) -> SetData:
    """One set's candidate lists and everything the features read, in memory."""
    evalset = load_eval_set(questions)
    index = index_beir(evalset.corpus) if evalset.corpus else index
    searcher = open_searcher(index)
    db = store.connect(db_path(searcher.index_dir), readonly=True)
    try:
        embedder = searcher.warm()
        by_id, mu = _all_vectors(searcher)
        windows, doc_mean = _cable_windows(db, by_id)
        n_pass = max(len(windows), 1)
        prior = rules.dense_prior(searcher.manifest.concentration, searcher.vectors.count)
        data = SetData(name, evalset.unit, prior, mu, doc_mean, {})
        gold = evalset.qrels
        for q in evalset.questions:
            vec = embedder.embed([q.text])[0]
            dense = searcher._dense(vec, 100, Filters())
            lex = lexical.search(db, q.text, 100, None)
            data.records.append(Record(q.qid, q.kind, q.text, vec, dense, lex, gold.get(q.qid, {})))
            toks = lexical.query_tokens(q.text)
            for t, df in lexical.document_frequencies(db, toks).items():
                data.idf[t] = math.log(1 + (n_pass - df + 0.5) / (df + 0.5))
        _add_candidates(data, db, searcher.model_name, evalset, windows)
    finally:
        db.close()
        searcher.close()
    print(f"{name}: {len(data.records)} questions, {len(data.cands)} candidates", file=sys.stderr)
    return data


def _add_candidates(
    data: SetData,
    db: sqlite3.Connection,
    model: str,
    evalset: EvalSet,
    windows: dict[int, list[np.ndarray]],
) -> None:
    """Every passage on any question's dense or BM25 list, read once for all questions."""
    pids = sorted({pid for r in data.records for pid, _ in r.dense + r.lex})
    rows = store.hit_rows(db, pids)
    leads = store.passage_leads(db, pids)
    keys = {pid: _sent_key(rows[pid]) for pid in pids if pid in rows}
    stored = store.get_sentence_vectors(db, model, [k for k in keys.values() if k], 384)
    for pid in pids:
        row = rows.get(pid)
        if row is None:
            continue
        para = row["paragraph"] if row["paragraph"] is not None else row["label"]
        key = row["doc_id"] if evalset.unit == "document" else f"{row['doc_id']}#{para}"
        sv = stored.get(keys.get(pid) or "")
        data.cands[pid] = Cand(
            key,
            row["doc_id"],
            is_summary(*leads.get(pid, ("", ""))),
            np.array(windows.get(pid, [np.zeros_like(data.mu)]), dtype=np.float32),
            np.asarray(sv.vectors, dtype=np.float32) if sv is not None else None,
            set(lexical.query_tokens(row["text"])),
            row["text"],
        )


def _sent_key(row: sqlite3.Row) -> str | None:
    """The key the passage's stored sentence vectors are under; None when its text no
    longer matches the hash they were computed for (stale vectors are not used)."""
    views = (row["view_hashes"] or "").split()
    if text_hash(row["text"]) != row["text_hash"]:
        return None
    return sentence_key(row["text_hash"], views)


# -- metrics ------------------------------------------------------------------------------


def top_keys(data: SetData, ranked: Ranked, k: int = 10) -> list[str]:
    """The first ``k`` distinct hit keys (a paragraph's windows count once)."""
    keys: list[str] = []
    for pid, _ in ranked:
        c = data.cands.get(pid)
        if c is not None and c.key not in keys:
            keys.append(c.key)
            if len(keys) == k:
                break
    return keys


def metrics(data: SetData, r: Record, ranked: Ranked) -> Metrics:
    """MRR@10, R@1, R@5 and nDCG@10 of one ranking against the question's gold."""
    keys = top_keys(data, ranked)
    rels = [r.gold.get(k, 0) for k in keys]
    first = next((i for i, g in enumerate(rels) if g > 0), None)
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(rels))
    ideal = sorted((g for g in r.gold.values() if g > 0), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal)) or 1.0
    return {
        "mrr": 0.0 if first is None else 1.0 / (first + 1),
        "r1": float(first == 0),
        "r5": float(first is not None and first < 5),
        "ndcg": dcg / idcg,
    }


def per_question(data: SetData, variant: Variant) -> dict[str, Metrics]:
    """One variant's metrics for every question of a set, by question id."""
    return {r.qid: metrics(data, r, variant(data, r)) for r in data.records}


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and its standard error (NaN where there are too few values for one)."""
    a = np.array(values, dtype=float)
    if len(a) < 2:
        return float(a.mean()) if len(a) else math.nan, math.nan
    return float(a.mean()), float(a.std(ddof=1) / math.sqrt(len(a)))


# -- cross-validation -----------------------------------------------------------------------


def doc_folds(pooled: Pooled, k: int = 5, seed: int = 14) -> list[int]:
    """A fold per pooled question, grouped by the gold cable (no cable on both sides)."""
    docs = sorted({_doc_of(r) for _, r in pooled})
    random.Random(seed).shuffle(docs)
    fold_of = {d: i % k for i, d in enumerate(docs)}
    return [fold_of[_doc_of(r)] for _, r in pooled]


def _doc_of(r: Record) -> str:
    """The question's gold cable (its question id where it has no gold)."""
    return next(iter(r.gold)).split("#")[0] if r.gold else r.qid


Results = dict[str, dict[str, dict[str, Metrics]]]  # param -> set -> qid -> metrics


def run_family(sets: dict[str, SetData], grid: dict[str, Variant]) -> Results:
    """Every parameter of a family scored on every set."""
    return {p: {n: per_question(d, v) for n, d in sets.items()} for p, v in grid.items()}


def cross_validate(
    res: Results, pooled: Pooled, folds: list[int]
) -> tuple[list[Metrics], list[str]]:
    """Held-out metrics per pooled question, and the parameter each fold chose."""
    held: list[Metrics] = [{} for _ in pooled]
    chosen = []
    for f in sorted(set(folds)):
        fit = [i for i, g in enumerate(folds) if g != f]

        def fit_mrr(p: str, fit: list[int] = fit) -> float:
            return float(np.mean([res[p][pooled[i][0]][pooled[i][1].qid]["mrr"] for i in fit]))

        best = max(res, key=fit_mrr)
        chosen.append(best)
        for i, g in enumerate(folds):
            if g == f:
                held[i] = res[best][pooled[i][0]][pooled[i][1].qid]
    return held, chosen


# -- report ---------------------------------------------------------------------------------


def report(name: str, held: list[Metrics], base: list[Metrics], pooled: Pooled) -> str:
    """A family's held-out MRR@10 and its paired difference from shipped, by slice."""
    cells = []
    for label, pick in (
        ("all", lambda s, r: True),
        ("nat", lambda s, r: r.kind == "natural"),
        ("kw", lambda s, r: r.kind == "keywords"),
        ("t3 nat", lambda s, r: s == "tuning3" and r.kind == "natural"),
    ):
        idx = [i for i, (s, r) in enumerate(pooled) if pick(s, r)]
        m, se = mean_se([held[i]["mrr"] for i in idx])
        dm, dse = mean_se([held[i]["mrr"] - base[i]["mrr"] for i in idx])
        cells.append(f"{label} {m:.3f}±{se:.3f} (Δ{dm:+.3f}±{dse:.3f})")
    return f"{name:16} " + " | ".join(cells)


def sweep(sets: dict[str, SetData]) -> None:
    """Score every family on every set, cross-validate on the pooled tuning questions and
    print the tables. Sets are listed by name, whatever order they were given in."""
    sets = dict(sorted(sets.items()))
    pooled = [(n, r) for n in TUNING if n in sets for r in sets[n].records]
    folds = doc_folds(pooled)
    fams = families()
    all_res = {name: run_family(sets, grid) for name, grid in fams.items()}
    base_res = all_res["shipped"][""]
    base = [base_res[s][r.qid] for s, r in pooled]
    print(f"pooled tuning questions: {len(pooled)}; folds {np.bincount(folds).tolist()}")
    for name, res in all_res.items():
        held, chosen = cross_validate(res, pooled, folds)
        print(report(name, held, base, pooled), " chosen:", ",".join(chosen))
        for p in res:
            print("   ", _grid_line(p, res[p], sets))


def _grid_line(p: str, res: dict[str, dict[str, Metrics]], sets: dict[str, SetData]) -> str:
    """One parameter's score on every set and kind (nDCG@10 for BEIR, else MRR@10)."""
    parts = []
    for n, d in sets.items():
        for kind in sorted({r.kind for r in d.records}):
            qs = [r.qid for r in d.records if r.kind == kind]
            metric = "ndcg" if d.unit == "document" else "mrr"
            m, se = mean_se([res[n][q][metric] for q in qs])
            r1 = np.mean([res[n][q]["r1"] for q in qs])
            r5 = np.mean([res[n][q]["r5"] for q in qs])
            parts.append(f"{n}/{kind[:3]} {m:.3f}±{se:.3f} ({r1:.2f}/{r5:.2f})")
    return f"{p or '-':8} " + "  ".join(parts)


def _parse_sets(spec: str) -> dict[str, Path]:
    """``NAME=QUESTIONS,...`` as a name -> path mapping, in the order given."""
    sets: dict[str, Path] = {}
    for item in spec.split(","):
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise argparse.ArgumentTypeError(f"{item!r}: expected NAME=QUESTIONS")
        sets[name.strip()] = Path(path.strip())
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--index",
        type=Path,
        default=Path("bench-data/cables-index"),
        help="index the cable sets are searched on (default: %(default)s)",
    )
    parser.add_argument(
        "--seeds-index",
        type=Path,
        default=Path("bench-data/nq-work/seeds"),
        help="index the set named seeds is searched on (default: %(default)s)",
    )
    parser.add_argument(
        "--sets",
        type=_parse_sets,
        default=DEFAULT_SETS,
        help="comma-separated NAME=QUESTIONS (a .jsonl or a BEIR folder); "
        "default: " + ",".join(f"{n}={p}" for n, p in DEFAULT_SETS.items()),
    )
    args = parser.parse_args()
    sets = {
        name: collect(name, path, args.seeds_index if name == "seeds" else args.index)
        for name, path in args.sets.items()
    }
    sweep(sets)


if __name__ == "__main__":
    main()
