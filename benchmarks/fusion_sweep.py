"""Compare fusion methods on one index and question set, from one pass of candidate lists.

Dense and lexical candidates (depth 100) are computed once per question; every fusion
variant is then scored with ranx on the same lists, so the comparison is exact and fast.

    python -m benchmarks.fusion_sweep QUESTIONS [--index DIR]

QUESTIONS is our JSONL format or a BEIR folder (indexed into the eval cache as by
`qa eval`). Prints a table of nDCG@10 / MRR@10 / R@5 per variant.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qa import store
from qa.evaluate import EvalSet, load_eval_set
from qa.factory import index_beir, open_searcher
from qa.locations import db_path
from qa.models import Filters
from qa.search import lexical
from qa.search import rank as rules

Ranked = list[tuple[int, float]]


def rrf(lists: list[Ranked], weights: tuple[float, ...], k: int = 60) -> Ranked:
    scores: dict[int, float] = {}
    for ranked, w in zip(lists, weights, strict=True):
        for rank, (pid, _) in enumerate(ranked):
            scores[pid] = scores.get(pid, 0.0) + w / (k + rank + 1)
    return sorted(scores.items(), key=lambda x: -x[1])


def _norm(ranked: Ranked, how: str) -> dict[int, float]:
    if not ranked:
        return {}
    s = np.array([x[1] for x in ranked], dtype=float)
    if how == "minmax":
        lo, hi = s.min(), s.max()
        s = (s - lo) / (hi - lo) if hi > lo else np.ones_like(s)
    elif how == "z":
        s = (s - s.mean()) / (s.std() or 1.0)
    elif how == "max":
        s = s / (s.max() or 1.0)
    return {pid: float(v) for (pid, _), v in zip(ranked, s, strict=True)}


def convex(dense: Ranked, lex: Ranked, alpha: float, how: str) -> Ranked:
    d, lx = _norm(dense, how), _norm(lex, how)
    floor_d = min(d.values(), default=0.0)
    floor_l = min(lx.values(), default=0.0)
    ids = set(d) | set(lx)
    fused = {i: alpha * d.get(i, floor_d) + (1 - alpha) * lx.get(i, floor_l) for i in ids}
    return sorted(fused.items(), key=lambda x: -x[1])


def _top_z(ranked: Ranked) -> float:
    if len(ranked) < 3:
        return 0.0
    s = np.array([x[1] for x in ranked], dtype=float)
    return float((s[0] - s.mean()) / (s.std() or 1.0))


def zconf(dense: Ranked, lex: Ranked, power: float, prior: float) -> Ranked:
    """Convex z-score fusion whose dense weight grows with how much dense's top stands out."""
    zd, zl = max(_top_z(dense), 1e-6) ** power, max(_top_z(lex), 1e-6) ** power
    alpha = prior * zd / (prior * zd + (1 - prior) * zl)
    return convex(dense, lex, alpha, "z")


def with_doc_prior(fused: Ranked, doc_of: dict[int, str], gamma: float) -> Ranked:
    """Add gamma x the summed score of the same document's other top passages."""
    by_doc: dict[str, float] = {}
    for pid, score in fused[:30]:
        by_doc[doc_of[pid]] = by_doc.get(doc_of[pid], 0.0) + score
    out = [(pid, s + gamma * (by_doc.get(doc_of[pid], 0.0) - s)) for pid, s in fused]
    return sorted(out, key=lambda x: -x[1])


SUMMARIES: set[int] = set()  # passage ids that present themselves as summaries
PRIOR = [0.5]  # the index's own rank.dense_prior, set in main()


def summaries_defer(fused: Ranked, delta: float, window: int = 50) -> Ranked:
    """What ``qa.search.rank.defer_summaries`` does, with the penalty as a parameter."""
    head = [(pid, s - delta if pid in SUMMARIES else s) for pid, s in fused[:window]]
    return sorted(head, key=lambda x: -x[1]) + fused[window:]


def shipped(dense: Ranked, lex: Ranked) -> Ranked:
    """What the searcher ranks in hybrid mode (qa.search.rank), on the same lists."""
    return rules.defer_summaries(rules.fuse(dense, lex, prior=PRIOR[0]), SUMMARIES)


def variants(doc_of: dict[int, str]) -> dict[str, Callable[[Ranked, Ranked], Ranked]]:
    out: dict[str, Callable[[Ranked, Ranked], Ranked]] = {
        "dense": lambda d, lx: d,
        "lexical": lambda d, lx: lx,
    }
    for wd in (0.7, 1.0, 1.5, 2.0):
        for k in (10, 30, 60):
            out[f"rrf k={k} wd={wd}"] = lambda d, lx, wd=wd, k=k: rrf([d, lx], (wd, 1.0), k)
    for how in ("minmax", "z"):
        for alpha in (0.3, 0.5, 0.6, 0.7, 0.8):
            out[f"{how} a={alpha}"] = lambda d, lx, a=alpha, h=how: convex(d, lx, a, h)
    for power in (1.0, 2.0):
        for prior in (0.5, 0.6, 0.9, 0.98, 0.9995):
            out[f"zconf p={power} prior={prior}"] = lambda d, lx, p=power, pr=prior: zconf(
                d, lx, p, pr
            )
    for delta in (0.5, 1.0, 1.5, 2.0, 3.0):
        out[f"zconf p=2 + summaries -{delta}"] = lambda d, lx, dl=delta: summaries_defer(
            zconf(d, lx, 2.0, 0.5), dl
        )
    out["shipped: rank.fuse (index prior, BM25 evidence floor) + defer"] = shipped
    for gamma in ():
        out[f"rrf60 + doc g={gamma}"] = lambda d, lx, g=gamma: with_doc_prior(
            rrf([d, lx], (1.0, 1.0), 60), doc_of, g
        )
        out[f"z0.6 + doc g={gamma}"] = lambda d, lx, g=gamma: with_doc_prior(
            convex(d, lx, 0.6, "z"), doc_of, g
        )
    return out


def collect(evalset: EvalSet, index: Path | None) -> dict[str, tuple[Ranked, Ranked]]:
    searcher = open_searcher(index)
    db = store.connect(db_path(searcher.index_dir), readonly=True)
    embedder = searcher.warm()
    lists = {}
    for q in evalset.questions:
        vec = embedder.embed([q.text])[0]
        dense = searcher._dense(vec, 100, Filters())
        lex = lexical.search(db, q.text, 100, None)
        lists[q.qid] = (dense, lex)
    return lists


def score(evalset: EvalSet, searcher_rows, fused: dict[str, Ranked]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from ranx import Qrels, Run, evaluate

    run = {}
    for qid, ranked in fused.items():
        scored: dict[str, float] = {}
        for pid, _ in ranked:
            row = searcher_rows[pid]
            key = row
            scored.setdefault(key, float(100 - len(scored)))
            if len(scored) == 10:
                break
        run[qid] = scored or {"none": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evaluate(Qrels(evalset.qrels), Run(run), ["ndcg@10", "mrr@10", "recall@5"])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("questions", type=Path)
    parser.add_argument("--index", type=Path, default=None)
    args = parser.parse_args()
    evalset = load_eval_set(args.questions)
    index = index_beir(evalset.corpus) if evalset.corpus else args.index
    lists = collect(evalset, index)
    searcher = open_searcher(index)
    PRIOR[0] = rules.dense_prior(searcher.manifest.concentration, searcher.vectors.count)
    pids = {pid for d, lx in lists.values() for pid, _ in d + lx}
    rows = searcher_rows = {}
    doc_of: dict[int, str] = {}
    from qa.store import hit_rows, passage_leads
    from qa.views import is_summary

    db = store.connect(db_path(searcher.index_dir), readonly=True)
    leads = passage_leads(db, sorted(pids))
    SUMMARIES.update(pid for pid, lead in leads.items() if is_summary(*lead))
    for pid, row in hit_rows(db, sorted(pids)).items():
        para = row["paragraph"] if row["paragraph"] is not None else row["label"]
        rows[pid] = row["doc_id"] if evalset.unit == "document" else f"{row['doc_id']}#{para}"
        doc_of[pid] = row["doc_id"]
    print(f"{evalset.name}: {len(evalset.questions)} questions")
    print(f"{'variant':24} {'ndcg@10':>8} {'mrr@10':>8} {'R@5':>8}")
    kinds = sorted({q.kind for q in evalset.questions})
    print(f"{'variant':24} {'ndcg@10':>8} {'mrr@10':>8} {'R@5':>8}  mrr@10 by kind {kinds}")
    for name, fuse in variants(doc_of).items():
        fused = {qid: fuse(d, lx) for qid, (d, lx) in lists.items()}
        m = score(evalset, searcher_rows, fused)
        per_kind = []
        for kind in kinds:
            ids = {q.qid for q in evalset.questions if q.kind == kind}
            sub = EvalSet(
                kind,
                [q for q in evalset.questions if q.qid in ids],
                {k: v for k, v in evalset.qrels.items() if k in ids},
                evalset.unit,
            )
            per_kind.append(score(sub, searcher_rows, {k: v for k, v in fused.items() if k in ids}))
        kind_txt = " ".join(f"{pk['mrr@10']:.3f}" for pk in per_kind)
        print(f"{name:24} {m['ndcg@10']:8.3f} {m['mrr@10']:8.3f} {m['recall@5']:8.3f}  {kind_txt}")


if __name__ == "__main__":
    main()
