"""BM25 over passages with SQLite FTS5, safe for any user text.

User text never reaches FTS5's query syntax: it is cut into word tokens and each token
is searched as a quoted string, OR-ed together, so quotes, ``-``, ``*``, ``:``, ``NEAR``,
``AND`` and unbalanced brackets are all just words.
"""

from __future__ import annotations

import re
import sqlite3

from qa.models import Filters
from qa.store import filter_sql

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
    yours yourself yourselves did say said tell told according
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
    tokens = query_tokens(text)
    if not tokens:
        return None
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in tokens)


def search(
    db: sqlite3.Connection, text: str, k: int, filters: Filters | None = None
) -> list[tuple[int, float]]:
    """Top-k ``(passage id, score)``; higher is better (the negated bm25)."""
    expression = match_expression(text)
    if expression is None:
        return []
    where, params = filter_sql(filters or Filters())
    weights = ", ".join(str(w) for w in COLUMN_WEIGHTS)
    rows = db.execute(
        f"SELECT f.rowid, bm25(passages_fts, {weights}) AS score FROM passages_fts f"
        " JOIN passages p ON p.id = f.rowid JOIN documents d ON d.id = p.document_id"
        f" WHERE passages_fts MATCH ? AND {where} ORDER BY score, d.doc_id, p.seq LIMIT ?",
        [expression, *params, k],
    ).fetchall()
    return [(row[0], -float(row[1])) for row in rows]
