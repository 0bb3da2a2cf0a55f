"""The features and ranking variants of the paragraph sweep (issue 14).

Every function here works on lists already computed by ``benchmarks.paragraph_sweep``
(``SetData``: one set's questions, their dense and BM25 lists at depth 100, and what each
candidate needs), so a variant re-ranks in milliseconds and every variant is scored on
the same lists. Nothing here searches or reads an index: that keeps the comparison fair
(no variant sees different candidates) and the sweep cheap to repeat.

- ``contrast a``: dense score ``max_w cos(q, w - a*m_C)``, m_C the mean window vector of
  the candidate's cable (the subject/heading prefix every window of a cable shares);
- ``center b``: dense score ``max_w cos(q - b*mu, w - b*mu)``, mu the index's mean vector
  (the cone the concentration measures);
- ``sent m``: dense score ``(1-m)*window + m*best stored sentence`` (late-chunked vectors);
- ``terms l`` / ``type l``: ``l`` x a feature added to the fused score among the top 30:
  the share of the question's IDF mass found in the paragraph's own text (centred on the
  cable's other candidates), or an answer-type cue (numbers for how many/much, dates for
  when, names for who).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from qa.search import lexical
from qa.search import rank as rules

Ranked = list[tuple[int, float]]
WINDOW = 30  # how deep the additive features look into the fused ranking


@dataclass
class Cand:
    """One candidate passage, with everything any feature reads (no index access later)."""

    key: str  # doc#para (or doc for BEIR): what a hit is matched on
    doc: str
    summary: bool
    windows: np.ndarray  # (n, dim) float32 unit vectors
    sentences: np.ndarray | None  # (n, dim) stored late-chunked sentence vectors
    tokens: set[str]
    text: str


@dataclass
class Record:
    """One question: its vector, both candidate lists and its graded gold keys."""

    qid: str
    kind: str
    text: str
    qvec: np.ndarray
    dense: Ranked
    lex: Ranked
    gold: dict[str, int]


@dataclass
class SetData:
    """One question set with the index statistics the features need (prior, mean vector,
    each cable's mean window vector, the IDF of every question token)."""

    name: str
    unit: str
    prior: float
    mu: np.ndarray
    doc_mean: dict[str, np.ndarray]
    idf: dict[str, float]
    cands: dict[int, Cand] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)


# -- dense re-scorings ----------------------------------------------------------------------


def _rescore(data: SetData, r: Record, score: Callable[[Cand], float]) -> Ranked:
    """The dense list re-scored candidate by candidate (same candidates, new order)."""
    out = [(pid, score(data.cands[pid])) for pid, _ in r.dense if pid in data.cands]
    return sorted(out, key=lambda x: -x[1])


def _best_cos(windows: np.ndarray, q: np.ndarray) -> float:
    """The best cosine of ``q`` (unit) with rows that are no longer unit after a shift."""
    return float(np.max(windows @ q / np.maximum(np.linalg.norm(windows, axis=1), 1e-9)))


def contrast(data: SetData, r: Record, a: float) -> Ranked:
    """Subtract ``a`` x the cable's mean window: what the cable's paragraphs share (its
    subject and heading prefix) should weigh less when telling them apart."""
    return _rescore(
        data, r, lambda c: _best_cos(c.windows - a * data.doc_mean[c.doc][None, :], r.qvec)
    )


def center(data: SetData, r: Record, b: float) -> Ranked:
    """Shift question and windows by ``b`` x the index mean: a concentrated index puts
    every vector in one narrow cone, and centring spreads the cosines out of it."""
    q = r.qvec - b * data.mu
    q = q / np.linalg.norm(q)
    return _rescore(data, r, lambda c: _best_cos(c.windows - b * data.mu[None, :], q))


def sentence_mix(data: SetData, r: Record, m: float) -> Ranked:
    """Mix the window score with the best stored sentence: a sentence-sized vector may
    single out the paragraph that holds the answer where a 150-word window blurs it."""

    def score(c: Cand, base: float) -> float:
        if c.sentences is None or not len(c.sentences):
            return base
        return (1 - m) * base + m * float(np.max(c.sentences @ r.qvec))

    out = [(pid, score(data.cands[pid], s)) for pid, s in r.dense if pid in data.cands]
    return sorted(out, key=lambda x: -x[1])


# -- additive features ----------------------------------------------------------------------


def term_share(data: SetData, r: Record, c: Cand) -> float:
    """Share of the question's IDF mass present in the paragraph's own text (BM25 also
    reads the cable's context column, which every paragraph of the cable shares)."""
    toks = set(lexical.query_tokens(r.text))
    total = sum(data.idf.get(t, 0.0) for t in toks) or 1.0
    return sum(data.idf.get(t, 0.0) for t in toks & c.tokens) / total


_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
_DATE = re.compile(rf"\b(?:{_MONTHS}\s+\d{{1,2}}|\d{{1,2}}\s+{_MONTHS}|(?:19|20)\d\d)\b", re.I)
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(?:million|billion|thousand|hundred|percent)\b", re.I)
_NAME = re.compile(r"\b[A-Z][a-z]+(?:\s+(?:al-|bin\s+|de\s+)?[A-Z][a-z]+)+\b")


def answer_type(question: str) -> str | None:
    """What the question asks for ("number", "date", "name"), where its opening says so;
    None for the rest, which the cue then leaves alone."""
    q = question.lower()
    if re.match(r"\s*(how (many|much|large|big|long)|what (number|share|percentage))", q):
        return "number"
    if re.match(r"\s*(when|what (date|day|month|year))", q):
        return "date"
    if re.match(r"\s*(who|whom|which (official|officials|senators|minister|adviser))", q):
        return "name"
    return None


def type_cue(kind: str | None, c: Cand) -> float:
    """How much of the asked-for answer type the paragraph holds, saturating at three
    mentions (a paragraph that can answer "how many" has numbers in it); years do not
    count as numbers."""
    if kind is None:
        return 0.0
    text = c.text
    if kind == "number":
        n = len([m for m in _NUMBER.findall(text) if not re.fullmatch(r"(19|20)\d\d", m)])
    elif kind == "date":
        n = len(_DATE.findall(text))
    else:
        n = len(_NAME.findall(text))
    return min(1.0, n / 3.0)


def additive(
    data: SetData,
    r: Record,
    fused: Ranked,
    lam: float,
    feat: Callable[[Cand], float],
    centred: bool,
) -> Ranked:
    """``lam`` x ``feat`` added to the fused scores among the top WINDOW; below it the
    ranking is left as fused (a feature should reorder near-ties, not pull up the tail)."""
    head = [(pid, s) for pid, s in fused[:WINDOW] if pid in data.cands]
    vals = {pid: feat(data.cands[pid]) for pid, _ in head}
    if centred:  # against the same cable's other candidates: only tells paragraphs apart
        by_doc: dict[str, list[float]] = {}
        for pid, _ in head:
            by_doc.setdefault(data.cands[pid].doc, []).append(vals[pid])
        vals = {pid: v - float(np.mean(by_doc[data.cands[pid].doc])) for pid, v in vals.items()}
    moved = [(pid, s + lam * vals[pid]) for pid, s in head]
    return sorted(moved, key=lambda x: -x[1]) + fused[WINDOW:]


def shipped(data: SetData, dense: Ranked, lex: Ranked, odds: float = 1.0) -> Ranked:
    """The shipped fusion (``rank.fuse`` with the index's prior, ``odds`` x its odds, then
    summaries deferred), on lists a variant may have re-scored: the baseline every row is
    compared with."""
    prior = data.prior * odds / (data.prior * odds + 1 - data.prior)
    fused = rules.fuse(dense, lex, prior=prior)
    summaries = {pid for pid, _ in fused[:50] if pid in data.cands and data.cands[pid].summary}
    return rules.defer_summaries(fused, summaries)


def union_dense(data: SetData, r: Record) -> Ranked:
    """The dense list plus BM25-only candidates at their exact cosine."""
    seen = {pid for pid, _ in r.dense}
    extra = [(pid, exact_cos(r, data.cands[pid])) for pid, _ in r.lex if pid not in seen]
    return sorted(r.dense + extra, key=lambda x: -x[1])


def _spread(r: Record) -> float:
    """The deviation of the dense candidates' cosines: turns a cosine gap into z units."""
    return float(np.std([s for _, s in r.dense])) or 1.0


def exact_cos(r: Record, c: Cand) -> float:
    """The candidate's best-window cosine, also for a candidate only BM25 found."""
    return float(np.max(c.windows @ r.qvec))


def sent_cos(r: Record, c: Cand) -> float:
    """The best stored (late-chunked) sentence's cosine; the window's where none stored."""
    if c.sentences is None or not len(c.sentences):
        return exact_cos(r, c)
    return float(np.max(c.sentences @ r.qvec))


# -- variants -------------------------------------------------------------------------------

Variant = Callable[[SetData, Record], Ranked]


def _dense_swap(rescore: Callable[[SetData, Record, float], Ranked], x: float) -> Variant:
    """Shipped fusion with the dense list re-scored by ``rescore`` at parameter ``x``."""
    return lambda d, r: shipped(d, rescore(d, r, x), r.lex)


def _added(feat: Callable[[SetData, Record, Cand], float], lam: float, centred: bool) -> Variant:
    """Shipped fusion, then ``lam`` x ``feat`` added among the top WINDOW."""
    return lambda d, r: additive(
        d, r, shipped(d, r.dense, r.lex), lam, lambda c: feat(d, r, c), centred
    )


def _type_feat(d: SetData, r: Record, c: Cand) -> float:
    """The answer-type cue in ``_added``'s feature signature."""
    return type_cue(answer_type(r.text), c)


def _dense_feat(d: SetData, r: Record, c: Cand) -> float:
    """The exact window cosine in dense z units (diagnostic: dense's own evidence again)."""
    return exact_cos(r, c) / _spread(r)


def _sent_feat(d: SetData, r: Record, c: Cand) -> float:
    """The best sentence cosine in dense z units."""
    return sent_cos(r, c) / _spread(r)


def _odds(k: float) -> Variant:
    """Shipped fusion with the index prior's odds times ``k``."""
    return lambda d, r: shipped(d, r.dense, r.lex, odds=k)


def families() -> dict[str, dict[str, Variant]]:
    """Each family: a grid of one parameter (the CV picks within a family)."""
    lams = (0.25, 0.5, 1.0, 1.5, 2.0)
    return {
        "dense": {"": lambda d, r: r.dense},
        "lexical": {"": lambda d, r: r.lex},
        "shipped": {"": lambda d, r: shipped(d, r.dense, r.lex)},
        "contrast": {f"a={a}": _dense_swap(contrast, a) for a in (0.2, 0.4, 0.6, 0.8, 0.9)},
        "center": {f"b={b}": _dense_swap(center, b) for b in (0.25, 0.5, 0.75, 1.0)},
        "sent": {f"m={m}": _dense_swap(sentence_mix, m) for m in (0.15, 0.3, 0.5, 0.7)},
        "terms-in-cable": {f"l={x}": _added(term_share, x, True) for x in lams},
        "terms": {f"l={x}": _added(term_share, x, False) for x in lams},
        "type": {f"l={x}": _added(_type_feat, x, True) for x in (0.1, 0.25, 0.5, 1.0)},
        "dense-in-cable": {f"l={x}": _added(_dense_feat, x, True) for x in (*lams, 3.0)},
        "sent-in-cable": {f"l={x}": _added(_sent_feat, x, True) for x in (*lams, 3.0)},
        "prior-odds": {f"x{k}": _odds(k) for k in (0.5, 0.75, 1.5, 2.0, 3.0)},
        "union-dense": {"": lambda d, r: shipped(d, union_dense(d, r), r.lex)},
    }
