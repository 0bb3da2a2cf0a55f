"""Where BM25 time goes: `lexical.search` as it is vs two candidate changes (not adopted;
qa/search/lexical.py is owned elsewhere). Read-only; the vocabulary table lives in `temp`.

    python -m benchmarks.bench_lexical INDEX [--label cables]

* current:   ``lexical.search`` (FTS5 MATCH of every token OR-ed, joined to passages and
             documents for the filters, ORDER BY bm25 LIMIT 100);
* no join:   the same MATCH and bm25 on ``passages_fts`` alone (what an unfiltered query
             needs): identical results;
* df-pruned: only the (up to) 8 rarest tokens whose document frequency is <= 5%
             (``fts5vocab``): different results, needs an MRR check before adoption.

top-10 overlap is against the current ranking (ties in copied synthetic passages lower it).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import time
from pathlib import Path

from benchmarks.common import dev_questions, header, percentile, record, save

SQL = (
    "SELECT rowid, bm25(passages_fts, 1.0, 0.35) AS s FROM passages_fts"
    " WHERE passages_fts MATCH ? ORDER BY s LIMIT 100"
)


def main(argv: list[str] | None = None) -> None:
    from qa.models import Filters
    from qa.search import lexical

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path)
    parser.add_argument("--label", default="")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    label = args.label or args.index.name
    header(f"BM25 variants on {args.index}")
    db = sqlite3.connect(f"file:{args.index / 'pilcrow.sqlite'}?mode=ro", uri=True)
    db.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, 'passages_fts', 'row')")
    total = db.execute("SELECT count(*) FROM passages").fetchone()[0]

    def df(token: str) -> int:
        row = db.execute("SELECT doc FROM temp.vocab WHERE term = ?", (token,)).fetchone()
        return row[0] if row else 0

    def current(q: str) -> list:  # type: ignore[type-arg]
        return lexical.search(db, q, 100, Filters())

    def no_join(q: str) -> list:  # type: ignore[type-arg]
        return db.execute(SQL, (lexical.match_expression(q),)).fetchall()

    def pruned(q: str) -> list:  # type: ignore[type-arg]
        tokens = lexical.query_tokens(q)
        freq = {t: df(t) for t in tokens}
        ordered = sorted(tokens, key=lambda t: freq[t])
        keep = [t for t in ordered if 0 < freq[t] <= 0.05 * total][:8] or ordered[:1]
        return db.execute(
            SQL, (" OR ".join('"' + t.replace('"', '""') + '"' for t in keep),)
        ).fetchall()

    questions = dev_questions()
    reference = {q: [r[0] for r in current(q)][:10] for q in questions}
    for name, fn in (("current", current), ("no join", no_join), ("df-pruned", pruned)):
        times, overlap = [], []
        for _ in range(args.rounds):
            for q in questions:
                started = time.perf_counter()
                rows = fn(q)
                times.append((time.perf_counter() - started) * 1000)
                top = {r[0] for r in rows[:10]}
                overlap.append(len(top & set(reference[q])) / max(1, len(reference[q])))
        record(f"BM25 {name}: p50", label, percentile(times, 50), "ms")
        record(f"BM25 {name}: p95", label, percentile(times, 95), "ms")
        record(f"BM25 {name}: top-10 overlap with current", label, statistics.mean(overlap), "")
    save(f"lexical-{label}")


if __name__ == "__main__":
    main()
