"""BM25 over passages with SQLite FTS5, safe for any user text.

User text never reaches FTS5's query syntax: it is cut into word tokens and each token
is searched as a quoted string, OR-ed together, so quotes, ``-``, ``*``, ``:``, ``NEAR``,
``AND`` and unbalanced brackets are all just words.
"""

from __future__ import annotations

import re
import sqlite3

from qa.models import Filters
from qa.store import filter_sql, lexicon_frequencies

# Weights of the FTS columns (search_text, context) in bm25(); context holds the subject,
# tags, section heading and cable ID, useful but not the paragraph's own words.
COLUMN_WEIGHTS = (1.0, 0.35)

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your
    yours yourself yourselves did say said tell told according s t d ll m re ve
    """.split()  # noqa: SIM905 - a word list reads best as prose
)

_TOKEN = re.compile(r"\w+", re.UNICODE)


def query_tokens(text: str, *, max_tokens: int = 64) -> list[str]:
    """Distinct lower-cased word tokens of a question, stopwords dropped (unless all are)."""
    tokens = [t.lower() for t in _TOKEN.findall(text)]
    kept = [t for t in tokens if t not in STOPWORDS] or tokens
    return list(dict.fromkeys(kept))[:max_tokens]


def match_expression(text: str) -> str | None:
    """An FTS5 MATCH string that searches every token of ``text`` as a plain word."""
    return _or_expression(query_tokens(text))


def _or_expression(tokens: list[str]) -> str | None:
    if not tokens:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in tokens)


# FTS5 scores every row that matches any OR-ed token (a few microseconds a row, and it
# cannot rescore a chosen few rows more cheaply: it walks the postings either way), so a
# question's cost is the summed document frequency of its tokens: ~10k rows at 13.5k
# passages, millions at 1M. Above this many postings only the rarest tokens are searched,
# the ones that carry the ranking (a token in 5% of passages weighs ~3 against ~9 for a
# name); below it BM25 is exact. The budget is chosen in docs/benchmarks.md (cost) and
# docs/evaluation.md (no loss on either cable question set at 12,000).
POSTING_BUDGET = 12_000


def document_frequencies(db: sqlite3.Connection, tokens: list[str]) -> dict[str, int]:
    """How many passages hold each token: the lexicon snapshot the indexer keeps."""
    return lexicon_frequencies(db, tokens)


def candidate_tokens(frequencies: dict[str, int], budget: int | None = None) -> list[str]:
    """The rarest tokens whose postings fit the budget (always at least the rarest one).

    A token missing from the vocabulary costs nothing and is kept: it may still match
    through the tokenizer (``café`` finds ``cafe``, ``a_b`` is the phrase ``a b``).
    """
    budget = POSTING_BUDGET if budget is None else budget
    kept: list[str] = []
    total = 0
    for token, n in sorted(frequencies.items(), key=lambda item: item[1]):
        if total and total + n > budget:
            break
        kept.append(token)
        total += n
    return kept


def search(
    db: sqlite3.Connection, text: str, k: int, filters: Filters | None = None
) -> list[tuple[int, float]]:
    """Top-k ``(passage id, score)``; higher is better (the negated bm25).

    Ties are broken by cable ID and position, so a rebuilt index ranks identically.
    """
    tokens = query_tokens(text)
    if not tokens:
        return []
    filters = filters or Filters()
    # A filter narrows the rows, not the postings, and the rare tokens of the whole index
    # may be absent from the filtered few: filtered questions search every token.
    if filters.is_empty():
        tokens = candidate_tokens(document_frequencies(db, tokens))
    expression = _or_expression(tokens)
    assert expression is not None
    rows = _ranked(db, expression, k + _TIE_SLACK, filters)
    return _break_ties(db, rows)[:k]


_TIE_SLACK = 16  # extra rows fetched so exact ties at the cut are ordered by _break_ties
_WEIGHTS = ", ".join(str(w) for w in COLUMN_WEIGHTS)


def _ranked(
    db: sqlite3.Connection, expression: str, limit: int, filters: Filters
) -> list[tuple[int, float]]:
    if filters.is_empty():  # no join: FTS5 alone is 2-3x faster on long questions
        sql = (
            f"SELECT rowid, bm25(passages_fts, {_WEIGHTS}) AS score FROM passages_fts"
            " WHERE passages_fts MATCH ? ORDER BY score LIMIT ?"
        )
        rows = db.execute(sql, [expression, limit]).fetchall()
    else:
        where, params = filter_sql(filters)
        rows = db.execute(
            f"SELECT f.rowid, bm25(passages_fts, {_WEIGHTS}) AS score FROM passages_fts f"
            " JOIN passages p ON p.id = f.rowid JOIN documents d ON d.id = p.document_id"
            f" WHERE passages_fts MATCH ? AND {where} ORDER BY score LIMIT ?",
            [expression, *params, limit],
        ).fetchall()
    return [(row[0], -float(row[1])) for row in rows]


def _break_ties(db: sqlite3.Connection, rows: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Order equal scores by (cable ID, position) instead of by row id."""
    if len({score for _, score in rows}) == len(rows):
        return rows
    marks = ",".join("?" * len(rows))
    keys = {
        pid: (doc_id, seq)
        for pid, doc_id, seq in db.execute(
            "SELECT p.id, d.doc_id, p.seq FROM passages p JOIN documents d"
            f" ON d.id = p.document_id WHERE p.id IN ({marks})",
            [pid for pid, _ in rows],
        ).fetchall()
    }
    return sorted(rows, key=lambda r: (-r[1], keys.get(r[0], ("", 0))))
