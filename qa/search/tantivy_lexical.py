"""BM25 with top-k pruning, read: tantivy's candidates, scored as FTS5 scores them.

The index itself (schema, state, writing, recovery) is ``qa.bm25.engine``; a reader uses
it only while its marker holds the manifest's commit, otherwise FTS5, always in step,
answers (``search_in_step``).

Two stages give FTS5's results. tantivy finds candidates with block-max WAND: the
question's tokens as lexical.py cuts them (``lexical.query_tokens``), every one a term,
OR-ed, in both fields, each boosted so its IDF is FTS5's row-level one (``weighted``).
Its own BM25 still scores each field apart, which alone loses 0.015-0.03 of MRR@10, so
the top ``RESCORE_DEPTH`` x (k + 16) candidates are rescored with FTS5's bm25() formula
(``rescored``: term counts from the text, lengths and corpus totals from FTS5's own
tables, document frequencies from the lexicon), and ties are ordered by cable and
position as lexical.py orders them. Measured on the sample: the same top 10 for all 298
dev and tuning questions, scores equal to 1e-14, 96% of the top 100 (99.5% with a
depth of 2). Known differences: the lexicon's document frequencies may lag FTS5's by up
to 5% between refreshes, and a token the analyzer splits (``a_b``) is searched as its
pieces, where FTS5 searches the phrase.
"""

from __future__ import annotations

import math
import re
import sqlite3
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tantivy

from qa import store
from qa.bm25 import engine
from qa.models import Filters
from qa.search import lexical
from qa.search.lexical import _break_ties
from qa.store import Manifest, filtered_passage_ids
from qa.views import clean

Ranked = list[tuple[int, float]]

# The context field's weight relative to the text's, FTS5's column weights (1.0, 0.35).
CONTEXT_BOOST = lexical.COLUMN_WEIGHTS[1] / lexical.COLUMN_WEIGHTS[0]
TIE_SLACK = 16  # extra hits fetched so exact ties at the cut are ordered by cable
ID_SET_LIMIT = 50_000  # a filter allowing at most this many passages becomes a term set
Weighted = tuple[str, str, float]  # (field, term, boost)


def any_of(clauses: Sequence[Weighted]) -> tantivy.Query:
    """Every weighted term as one flat list of SHOULD clauses.

    Flat on purpose: tantivy runs block-max WAND only over a union of plain term
    scorers (a boost is folded into its term's weight); a nested boolean per token
    would make it score every match, as FTS5 does.
    """
    should = tantivy.Occur.Should
    return tantivy.Query.boolean_query(
        [
            (should, tantivy.Query.boost_query(engine.term_query(field, term), w))
            for field, term, w in clauses
        ]
    )


def fts5_idf(rows: int, df: int) -> float:
    """FTS5's IDF: a token in half the rows or more weighs (almost) nothing."""
    return max(math.log((rows - df + 0.5) / (df + 0.5)), 1e-6)


def tantivy_idf(docs: int, df: int) -> float:
    """tantivy's IDF (``Bm25Weight``), which a boost divides out."""
    return math.log(1.0 + (docs - df + 0.5) / (df + 0.5))


def weighted(
    searcher: tantivy.Searcher, terms: Sequence[str], row_df: dict[str, int]
) -> list[Weighted]:
    """Each term in each field that holds it, boosted so its IDF is FTS5's.

    tantivy weighs a term by its frequency in each field; FTS5 by the rows holding it in
    any column. The difference matters: "embassy" is in 1,035 of 15k paragraphs but in
    13,228 contexts (origins), so FTS5 gives it nothing and tantivy's text field a lot
    (tuning questions, first stage alone: lexical MRR@10 0.734 with tantivy's IDF,
    0.744 with this; 0.757 once rescored, as FTS5). ``row_df`` gives FTS5's
    count (the lexicon snapshot); a term it lacks counts as the larger field count.
    With ``ROW_IDF`` "off" the weights are tantivy's own (kept for comparison).
    """
    docs = int(searcher.num_docs)
    out: list[Weighted] = []
    for term in terms:
        df = {f: int(searcher.doc_freq(f, term)) for f in ("search_text", "context")}
        row = row_df.get(term) or max(df.values())
        for field, column in (("search_text", 1.0), ("context", CONTEXT_BOOST)):
            if not df[field]:
                continue
            ratio = 1.0
            if ROW_IDF != "off":
                ratio = fts5_idf(docs, row) / tantivy_idf(docs, df[field])
            out.append((field, term, column * ratio))
    return out


# FTS5's row-level IDF from the lexicon ("lexicon"), from the larger field count
# ("fields"), or tantivy's own per field ("off"); see ``weighted``. Read at query time.
ROW_IDF = "lexicon"


def query_terms(text: str) -> list[str]:
    """The question's tokens as index terms: lexical.py's tokens through our analyzer."""
    terms: dict[str, None] = {}
    for token in lexical.query_tokens(text):
        for piece in engine.ANALYZER.analyze(token):
            terms.setdefault(piece, None)
    return list(terms)


# -- FTS5's own score, for the candidates ------------------------------------------------

K1, B = 1.2, 0.75  # FTS5's bm25() constants
RESCORE = True  # rescore tantivy's candidates with FTS5's formula; read at query time
RESCORE_DEPTH = 1.0  # candidates per result slot rescored (see the module docstring)


@dataclass(frozen=True, slots=True)
class RowStats:
    """FTS5's corpus statistics: rows, and their mean length in tokens (both columns)."""

    rows: int
    mean_length: float


def _varints(blob: bytes) -> list[int]:
    """SQLite's varints (big-endian, 7 bits a byte, a 9th byte of 8 bits)."""
    out: list[int] = []
    i = 0
    while i < len(blob):
        value = 0
        for j in range(9):
            byte = blob[i]
            i += 1
            if j == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        out.append(value)
    return out


def fts5_stats(db: sqlite3.Connection) -> RowStats:
    """Rows and mean row length as FTS5's bm25() reads them: its averages record (row 1
    of ``passages_fts_data``: the row count, then each column's token total), kept in
    step with the rows by the same transactions."""
    row = db.execute("SELECT block FROM passages_fts_data WHERE id = 1").fetchone()
    values = _varints(row[0]) if row else []
    if not values or not values[0]:
        return RowStats(0, 1.0)
    return RowStats(values[0], max(sum(values[1:]) / values[0], 1e-9))


_COMBINING = re.compile("[\u0300-\u036f]+")  # the diacritics NFD splits off Latin letters


def _folded(text: str) -> str:
    """Lower-cased, diacritics removed: the text as FTS5's tokenizer compares it.

    Most passages hold some non-ASCII (curly quotes, dashes); decomposing and stripping
    in C (NFD, one regex) keeps that at ~2 µs, where a per-character filter cost 60."""
    text = text.lower()
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFD", text))


def term_counts(text: str, terms: Sequence[str]) -> dict[str, int]:
    """How often each term occurs in ``text`` as a whole token (its neighbours are not
    letters or digits, as FTS5's unicode61 splits). A substring search with a check at
    each end: 4x faster than tokenising the text with a regex, which was most of the
    rescoring's cost (16 µs a passage)."""
    counts: dict[str, int] = {}
    size = len(text)
    for term in terms:
        n = 0
        at = text.find(term)
        while at >= 0:
            end = at + len(term)
            if (at == 0 or not text[at - 1].isalnum()) and (end == size or not text[end].isalnum()):
                n += 1
            at = text.find(term, end)
        if n:
            counts[term] = n
    return counts


def rescored(
    db: sqlite3.Connection,
    terms: Sequence[str],
    row_df: dict[str, int],
    candidates: Sequence[int],
    stats: RowStats,
) -> Ranked:
    """The candidates under FTS5's own bm25(), best first.

    Why: tantivy scores each field apart (a word in the text and in the context counts
    twice, each saturating alone); FTS5 adds the weighted counts of both columns and
    saturates once, and that is worth 0.015-0.05 of MRR@10 on the tuning questions.
    tantivy's pruned top list is the candidate set; each candidate's counts are read
    from its text (``term_counts``), its length from FTS5's
    ``passages_fts_docsize``, the IDF from the lexicon: the score ``lexical.search``
    gives, while the lexicon snapshot is fresh (it may drift by 5% before the indexer
    refreshes it).
    """
    if not candidates or not terms:
        return []
    idf = {t: fts5_idf(stats.rows, row_df.get(t, 0)) for t in terms}
    text_weight, context_weight = lexical.COLUMN_WEIGHTS
    out: Ranked = []
    for start in range(0, len(candidates), 500):
        chunk = list(candidates[start : start + 500])
        marks = ",".join("?" * len(chunk))
        for pid, text, context, size in db.execute(
            f"SELECT p.id, {store.PASSAGE_TEXT}, p.context, s.sz FROM passages p"
            " JOIN documents d ON d.id = p.document_id"
            f" JOIN passages_fts_docsize s ON s.id = p.id WHERE p.id IN ({marks})",
            chunk,
        ):
            in_text = term_counts(_folded(clean(text)), terms)
            in_context = term_counts(_folded(context), terms)
            norm = K1 * (1 - B + B * sum(_varints(size)) / stats.mean_length)
            score = 0.0
            for term in in_text.keys() | in_context.keys():
                f = text_weight * in_text.get(term, 0) + context_weight * in_context.get(term, 0)
                score += idf[term] * f * (K1 + 1) / (f + norm)
            out.append((int(pid), score))
    return sorted(out, key=lambda hit: -hit[1])


# -- reading --------------------------------------------------------------------------


class TantivyLexical:
    """A reader's view: one searcher snapshot and the stamp it carries.

    The reader reloads only when told (``refresh``), never behind the caller's back
    (tantivy's ``OnCommit`` policy would move the snapshot between the stamp check
    and the search), so a snapshot's stamp describes every result it gives.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._index = engine.open_index(directory)
        self._index.config_reader("manual")
        self._searcher = self._index.searcher()
        self.stamp = engine.read_stamp(self._searcher)

    @classmethod
    def open(cls, directory: Path) -> TantivyLexical | None:
        """The reader, or None when there is no index tantivy can open there."""
        try:
            return cls(directory)
        except (ValueError, OSError):
            return None

    def in_step(self, commit: engine.Commit) -> bool:
        """Whether this snapshot holds exactly ``commit`` (``engine.commit_of(manifest)``), in
        this module's format."""
        return self.stamp is not None and (self.stamp.commit, self.stamp.format) == (
            commit,
            engine.FORMAT,
        )

    def refresh(self) -> None:
        """Take the newest committed snapshot (after the manifest moved).

        A reload can fail when a writer in another process committed and collected the
        files of the snapshot being opened; the stamp is then None (FTS5 answers) and
        the next question tries again.
        """
        try:
            self._index.reload()
            self._searcher = self._index.searcher()
            self.stamp = engine.read_stamp(self._searcher)
        except (ValueError, OSError):
            self.stamp = None

    @property
    def passages(self) -> int:
        """Documents in the snapshot, less the marker."""
        return int(self._searcher.num_docs) - (self.stamp is not None)

    def search(
        self,
        db: sqlite3.Connection,
        text: str,
        k: int,
        filters: Filters | None = None,
        *,
        budget: int | None = None,
        allowed: np.ndarray | None = None,
    ) -> Ranked:
        """Top-k ``(passage id, score)`` as ``lexical.search`` returns them.

        ``budget``: search only the rarest terms whose postings fit it (lexical.py's
        posting budget; None, the default: every term, exact BM25). Filters are read
        from SQLite as a passage-id set (``_filtered``); ``allowed`` passes that set in
        when the caller has it already (the dense search computes the same one, and at
        3M passages it costs 0.4-1 s of SQL, nearly all of a filtered question's time).
        """
        terms = query_terms(text)
        if budget is not None and (filters is None or filters.is_empty()):
            terms = self._rarest(terms, budget)
        if not terms:
            return []
        row_df = lexical.document_frequencies(db, terms) if ROW_IDF == "lexicon" else {}
        query = any_of(weighted(self._searcher, terms, row_df))
        limit = k + TIE_SLACK
        depth = math.ceil(limit * RESCORE_DEPTH) if RESCORE else limit
        if filters is None or filters.is_empty():
            hits = self._top(query, depth)
        else:
            hits = self._filtered(db, query, depth, filters, allowed)
        if RESCORE:
            missing = {t: self._field_df(t) for t in terms if not row_df.get(t)}
            frequencies = {**row_df, **missing}
            ids = [pid for pid, _ in hits]
            hits = rescored(db, terms, frequencies, ids, fts5_stats(db))[:limit]
        return _break_ties(db, hits)[:k]

    def _field_df(self, term: str) -> int:
        """A term's row count when the lexicon lacks it: at least its larger field's."""
        return max(int(self._searcher.doc_freq(f, term)) for f in ("search_text", "context"))

    def _rarest(self, terms: list[str], budget: int) -> list[str]:
        frequencies = {
            t: self._searcher.doc_freq("search_text", t) + self._searcher.doc_freq("context", t)
            for t in terms
        }
        return lexical.candidate_tokens(frequencies, budget)

    def _top(self, query: tantivy.Query, limit: int) -> Ranked:
        """The best ``limit`` hits; ``count=False`` matters: counting every match would
        visit every posting and turn the pruning off."""
        found = self._searcher.search(query, limit, count=False).hits
        if not found:
            return []
        ids = self._searcher.fast_field_values("pid", [address for _, address in found])
        return [
            (int(pid), float(score))
            for (score, _), pid in zip(found, ids, strict=True)
            if isinstance(pid, int)
        ]

    def _filtered(
        self,
        db: sqlite3.Connection,
        query: tantivy.Query,
        limit: int,
        filters: Filters,
        allowed: np.ndarray | None = None,
    ) -> Ranked:
        """Filtered search over the passage ids SQLite's ``filter_sql`` allows.

        The filters' SQL (LIKE on origin, markings and tags) is the one definition, so
        the ids come from SQLite, as for the dense search. A narrow filter becomes a
        term set each hit must be in (scored 0, so scores are unchanged); a broad one
        is applied to a deeper top list, deepened until ``limit`` hits pass or no more
        match.
        """
        allowed = np.sort(filtered_passage_ids(db, filters) if allowed is None else allowed)
        if not len(allowed):
            return []
        if len(allowed) <= ID_SET_LIMIT:
            must = tantivy.Query.const_score_query(
                tantivy.Query.term_set_query(engine.SCHEMA, "pid", allowed.tolist()), 0.0
            )
            narrowed = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, must), (tantivy.Occur.Must, query)]
            )
            return self._top(narrowed, limit)
        share = len(allowed) / max(self.passages, 1)
        depth = math.ceil(limit / share * 1.5)
        while True:
            hits = self._top(query, depth)
            ids = np.array([pid for pid, _ in hits], dtype=np.int64)
            where = np.searchsorted(allowed, ids).clip(max=len(allowed) - 1)
            keep = allowed[where] == ids
            kept = [hit for hit, ok in zip(hits, keep.tolist(), strict=True) if ok]
            if len(kept) >= limit or len(hits) < depth:
                return kept[:limit]
            depth *= 4


def search_in_step(
    reader: TantivyLexical | None,
    db: sqlite3.Connection,
    manifest: Manifest,
    text: str,
    k: int,
    filters: Filters | None = None,
) -> Ranked:
    """The reader's rule: tantivy when its snapshot holds the manifest's commit
    (refreshed once if it does not), else FTS5, which is always in step."""
    commit = engine.commit_of(manifest)
    if reader is not None and not reader.in_step(commit):
        reader.refresh()
    if reader is not None and reader.in_step(commit):
        return reader.search(db, text, k, filters)
    return lexical.search(db, text, k, filters)
