"""Figures 2 and 3 (query side): warm latency split, `qa ask` cold start and peak RSS.

    python -m benchmarks.bench_query INDEX [--label 13.5k] [--rounds 3]

Warm, in one process: the dev-set questions, ``--rounds`` times each after one warm-up
pass. Each question's time is split the way ``Searcher.ask`` spends it, by calling the
same functions it calls, in the same order:

* embed:     ``embedder.embed([question])``
* search:    per mode, ``Searcher._retrieve`` (FAISS and, on a worker thread beside it,
             FTS5 BM25), fusion, the cable-ID boost and ``hydrate`` (one SQLite query for
             the rows of the top k); the two engines are also timed alone, one after the other
* highlight: ``Searcher._highlighted`` over the top-k passages (stored sentence vectors
             read from SQLite, ``highlight.best_spans``; passages without them embed their
             sentences now)
* end-to-end ``Searcher.ask(question, mode="hybrid")`` (highlights on), as a check that
             the parts add up

Cold, as subprocesses: ``qa ask QUESTION --index INDEX`` (wall to first answer, peak RSS)
and ``qa ask -`` with 1 and with 41 questions on stdin (medians of 3): the marginal cost of one more
question, against the bare embedding of one question measured in this run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.common import (
    QA,
    dev_questions,
    dir_mib,
    header,
    median,
    percentile,
    record,
    run,
    save,
)

K = 5


def _ms(fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - started) * 1000


def warm(index: Path, label: str, rounds: int, exact: bool) -> float:
    if exact:
        from benchmarks.exact_hook import install

        install()
    from qa import store
    from qa.factory import open_searcher
    from qa.locations import db_path
    from qa.models import Filters, Mode
    from qa.search import lexical
    from qa.search.hydrate import hydrate
    from qa.search.query import Query
    from qa.search.searcher import CANDIDATES

    searcher, open_ms = _ms(lambda: open_searcher(index))
    record(
        "open searcher (SQLite + vectors)", label, open_ms, "ms", type(searcher.vectors).__name__
    )
    db = store.connect(db_path(index), readonly=True)  # the benchmark's own, as BM25's is
    _, load_ms = _ms(searcher.warm)
    embedder = searcher.warm()
    info = searcher.info()
    record("passages in index", label, info.passages, "")
    record("model load in a warm process", label, load_ms, "ms")
    questions = dev_questions()
    filters = Filters()
    depth = max(K, CANDIDATES)
    times: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        times.setdefault(name, []).append(value)

    for mode in ("dense", "lexical", "hybrid"):  # warm-up pass: caches, first-call costs
        for q in questions[:5]:
            searcher.ask(q, k=K, mode=mode)
    for _ in range(rounds):
        for q in questions:
            vec, t = _ms(lambda q=q: embedder.embed([q])[0])
            add("embed", t)
            _, t_dense = _ms(lambda vec=vec: searcher._dense(vec, depth, filters))
            add("  dense: FAISS top-300 + per-passage best", t_dense)
            _, t_lex = _ms(lambda q=q: lexical.search(db, q, depth, filters))
            add("  lexical: FTS5 BM25 top-100", t_lex)
            for mode in (Mode.DENSE, Mode.LEXICAL, Mode.HYBRID):
                # What ask() does after embedding: BM25 beside FAISS, fusion, SQLite rows.
                def search(q=q, vec=vec, mode=mode):  # type: ignore[no-untyped-def]
                    query = Query.parse(q)
                    _, found_dense, found_lex = searcher._retrieve(
                        query, depth, mode, filters, lambda: vec
                    )
                    ranked = searcher._rank(query, found_dense, found_lex, mode, filters)
                    return hydrate(db, ranked[:K])

                found, t_search = _ms(search)
                add(f"search {mode.value}", t_search)
            _, t = _ms(lambda found=found, vec=vec: searcher._highlighted(found, vec))
            add("highlight (top 5)", t)
            _, t = _ms(lambda q=q: searcher.ask(q, k=K, mode="hybrid"))
            add("end-to-end ask, hybrid + highlight", t)
    for name, values in times.items():
        record(f"{name}: p50", label, percentile(values, 50), "ms")
        record(f"{name}: p95", label, percentile(values, 95), "ms", f"n={len(values)}")
    ratio = median(times["end-to-end ask, hybrid + highlight"]) / median(times["embed"])
    record("ask (hybrid+highlight) / bare question embedding", label, ratio, "x", "in-process")
    searcher.close()
    return median(times["embed"])


def st_reference(questions: list[str], rounds: int, label: str) -> float:
    """p50 of sentence-transformers ``encode`` (torch) of one question: the issue's bare model."""
    from qa.embed import load_torch_embedder
    from qa.locations import model_name

    model = load_torch_embedder(model_name())
    for q in questions[:5]:
        model.embed([q])
    values = [_ms(lambda q=q: model.embed([q]))[1] for _ in range(rounds) for q in questions]
    p50 = percentile(values, 50)
    record("embed, sentence-transformers on torch (reference): p50", label, p50, "ms")
    return p50


def cold(index: Path, label: str, embed_ms: float, repeats: int, exact: bool) -> float:
    """Subprocess figures; returns the marginal cost of a question in ``qa ask -`` (ms)."""
    import sys

    qa = [sys.executable, "-m", "benchmarks.exact_hook"] if exact else [QA]
    questions = dev_questions()
    walls, rss = [], []
    for i in range(repeats):
        r = run([*qa, "ask", questions[i % len(questions)], "--index", str(index)])
        walls.append(r.seconds)
        rss.append(r.peak_mib)
    record(
        "qa ask cold: wall to first answer (median)",
        label,
        median(walls),
        "s",
        ", ".join(f"{w:.2f}" for w in walls),
    )
    record("qa ask: peak RSS (median)", label, median(rss), "MiB", "target <= 2560 at 1M")
    # Marginal cost: 1 question against 41 on stdin, medians of 3 runs each (a process
    # start varies by more than one question costs).
    many_q = [questions[(i * 7) % len(questions)] for i in range(41)]
    ones, manys = [], []
    for _ in range(3):
        ones.append(run([*qa, "ask", "-", "--index", str(index)], stdin=questions[0] + "\n"))
        manys.append(run([*qa, "ask", "-", "--index", str(index)], stdin="\n".join(many_q) + "\n"))
    marginal = (median([r.seconds for r in manys]) - median([r.seconds for r in ones])) / 40
    marginal *= 1000
    many = manys[-1]
    record(
        "qa ask -: marginal cost of one more question",
        label,
        marginal,
        "ms",
        "hybrid, highlights on; 41 vs 1 questions, medians of 3",
    )
    record(
        "  ratio to bare embedding of one question",
        label,
        marginal / embed_ms,
        "x",
        f"embed {embed_ms:.1f} ms (warm, this run); target <= 2",
    )
    record("qa ask -: peak RSS, 41 questions", label, many.peak_mib, "MiB")
    return marginal


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--label", default="")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold", type=int, default=3, help="cold `qa ask` runs (0 = skip)")
    parser.add_argument(
        "--st-reference",
        action="store_true",
        help="also time sentence-transformers (torch) encoding a question, for the ratio",
    )
    parser.add_argument(
        "--exact",
        action="store_true",
        help="hide the approximate sidecar: exact search (benchmarks.exact_hook)",
    )
    args = parser.parse_args(argv)
    label = args.label or args.index.name
    header(f"queries on {args.index} ({label})")
    record("index size on disk", label, dir_mib(args.index), "MiB")
    embed_ms = warm(args.index, label, args.rounds, args.exact)
    marginal = cold(args.index, label, embed_ms, args.cold, args.exact) if args.cold else None
    if args.st_reference:  # after the subprocesses: torch in this process inflates their RSS
        st_ms = st_reference(dev_questions(), args.rounds, label)
        if marginal is not None:
            record(
                "qa ask -: marginal cost / sentence-transformers encode of one question",
                label,
                marginal / st_ms,
                "x",
                f"encode {st_ms:.1f} ms (torch, warm, this run)",
            )
    save(f"query-{label}")


if __name__ == "__main__":
    main()
