"""Check each quote of a draft against the index: verbatim, near, paraphrase or not found.

For each quote: BM25 over the index (``qa.search.lexical``, the quote's rarest words)
gives ``CANDIDATES`` passages; each is aligned word by word (``qa.verify.align``) and the
best alignment decides *verbatim* or *near*. Only a quote that neither finds asks the
embedding model: the dense nearest passages (FAISS, as ``qa ask --mode dense``), each
scored by its closest sentence (``qa.verify.dense``), and a cosine at or above
``PARAPHRASE_THRESHOLD`` make it a *paraphrase*; below, it is *not found*. Nothing
scans the corpus: one BM25 query and ``CANDIDATES`` alignments per quote, and one vector
search for the quotes the words do not find.

Matching reads the passages' displayed text, whose page breaks the indexer has already
repaired, so a quote running across a page break of the source matches.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from dataclasses import dataclass
from enum import StrEnum

from qa.errors import ModelError
from qa.models import Hit
from qa.search import lexical
from qa.search.hydrate import hydrate
from qa.verify.align import Alignment, Difference, align, quote_tokens
from qa.verify.dense import Dense, sentence_scores
from qa.verify.quotes import Found, Quote, find_quotes

log = logging.getLogger(__name__)

CANDIDATES = 8  # BM25 passages aligned per quote
DENSE_K = 5  # dense passages looked at for a paraphrase
# Cosine (quote vector · the passage's closest sentence vector, all-MiniLM-L6-v2) from
# which a quote counts as a paraphrase of a passage. Chosen by `python -m
# benchmarks.bench_verify --calibrate` on the 80 paraphrased answers of our tuning set
# (benchmarks/data/tuning-questions.jsonl) over the 1,295-cable index: each answer against
# its gold paragraph (88.8% reach 0.64) and against the five nearest passages of other
# cables (on topic, not the claim: 12.5% reach it; 4-bit sentence vectors, schema 8);
# the dev set only confirms (docs/verify.md).
PARAPHRASE_THRESHOLD = 0.64
# An alignment finding at least this share of a quote's words, in order, shows the
# writer's changes (the differences) when the quote turns out to be a paraphrase.
ALTERED_SHARE = 0.75


class Status(StrEnum):
    VERBATIM = "verbatim"
    NEAR = "near"
    PARAPHRASE = "paraphrase"
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class QuoteCheck:
    """The verdict on one quote.

    ``hit``: the cited passage (None when not found). ``score``: for verbatim and near,
    the share of the quote's words found in order at the citation (1.0: all); for
    paraphrase and not found, the best sentence cosine. ``source``: the source's own
    words the quote was aligned with (None when no words align). ``differences``: word
    by word, what the quote changed.
    """

    quote: Quote
    status: Status
    hit: Hit | None = None
    score: float = 0.0
    differences: tuple[Difference, ...] = ()
    source: str | None = None

    @property
    def citation(self) -> str | None:
        """``07MOSCOW5292 ¶6``, or None when not found."""
        return self.hit.citation if self.hit else None

    @property
    def cited_as(self) -> str | None:
        """The citation with the paragraph's own marking: ``07MOSCOW5292 ¶6 (SBU)``."""
        return self.hit.cited_as if self.hit else None

    @property
    def verified(self) -> bool:
        """Verbatim or near: what lets ``qa verify`` exit 0."""
        return self.status in (Status.VERBATIM, Status.NEAR)

    @property
    def word_edits(self) -> int:
        """Words changed, dropped or added (``--strict`` accepts none)."""
        return sum(d.kind not in ("case", "punctuation") for d in self.differences)

    def to_json(self) -> dict[str, object]:
        """The documented JSON object of one quote."""
        return {
            "quote": self.quote.text,
            "start": self.quote.start,
            "end": self.quote.end,
            "block": self.quote.block,
            "status": self.status.value,
            "citation": self.citation,
            "paragraph_class": self.hit.paragraph_class if self.hit else None,
            "score": round(self.score, 4),
            "differences": [d.to_json() for d in self.differences],
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """Every quote of a draft checked, the short ones set aside, and notes for stderr."""

    checks: tuple[QuoteCheck, ...]
    ignored: tuple[Quote, ...] = ()
    notes: tuple[str, ...] = ()

    def all_verified(self, *, strict: bool = False) -> bool:
        """Every quote verbatim or near (``strict``: near only by case or punctuation)."""
        return all(c.verified and not (strict and c.word_edits) for c in self.checks)

    def to_json(self, *, strict: bool = False) -> dict[str, object]:
        return {
            "quotes": [c.to_json() for c in self.checks],
            "all_verified": self.all_verified(strict=strict),
            "ignored": [{"quote": q.text, "start": q.start, "end": q.end} for q in self.ignored],
        }


@dataclass(frozen=True, slots=True)
class _Candidate:
    hit: Hit
    alignment: Alignment

    def rank_key(self) -> tuple[bool, bool, int, float]:
        a = self.alignment
        return (not a.verbatim, not a.near, a.edits, -a.share)

    def check(self, quote: Quote, status: Status, score: float) -> QuoteCheck:
        span = self.alignment.span
        return QuoteCheck(
            quote,
            status,
            self.hit,
            score,
            self.alignment.differences,
            self.hit.text[span[0] : span[1]] if span else None,
        )


class Verifier:
    """Checks quotes against one index: its SQLite store, and dense search when needed.

    ``dense`` is called only for quotes the words do not find; if the model cannot be
    loaded, those quotes are reported not found (they fail either way) with a note.
    """

    def __init__(self, db: sqlite3.Connection, dense: Dense | None = None) -> None:
        self._db = db
        self._dense = dense
        self._dense_error: str | None = None  # why the model did not load, once it failed
        self._notes: list[str] = []

    def verify(self, draft: str) -> Report:
        """Find the quotes of ``draft`` and check each one."""
        self._notes = []
        found: Found = find_quotes(draft)
        checks = tuple(self.check(quote) for quote in found.quotes)
        return Report(checks, found.ignored, tuple(dict.fromkeys(self._notes)))

    def check(self, quote: Quote) -> QuoteCheck:
        """The verdict on one quote."""
        best = self._best_alignment(quote)
        if best is not None and best.alignment.verbatim:
            return best.check(quote, Status.VERBATIM, 1.0)
        if best is not None and best.alignment.near:
            return best.check(quote, Status.NEAR, best.alignment.share)
        return self._paraphrase(quote, best)

    def _best_alignment(self, quote: Quote) -> _Candidate | None:
        ranked = lexical.search(self._db, quote.text, CANDIDATES)
        tokens = quote_tokens(quote.text)
        candidates = [
            _Candidate(hit, align(tokens, hit.text)) for hit in hydrate(self._db, ranked).hits
        ]
        return min(candidates, key=_Candidate.rank_key, default=None)

    def _paraphrase(self, quote: Quote, best: _Candidate | None) -> QuoteCheck:
        """Paraphrase when a passage's sentence means the same, else not found."""
        scored = self._meaning(quote, best)
        if not scored:
            return QuoteCheck(quote, Status.NOT_FOUND)
        if best is not None and best.alignment.share >= ALTERED_SHARE:
            for hit, score in scored:  # the passage the writer's words came from, if close
                if hit.passage_id == best.hit.passage_id and score >= PARAPHRASE_THRESHOLD:
                    return best.check(quote, Status.PARAPHRASE, score)
        top, score = max(scored, key=lambda item: item[1])
        if score >= PARAPHRASE_THRESHOLD:
            return QuoteCheck(quote, Status.PARAPHRASE, top, score)
        return QuoteCheck(quote, Status.NOT_FOUND, None, score)

    def _meaning(self, quote: Quote, best: _Candidate | None) -> list[tuple[Hit, float]]:
        """The dense nearest passages (and the best word match), each with its sentence
        score; empty when there is no model (noted once)."""
        if self._dense is None or self._dense_error is not None:
            if self._dense_error is not None:
                self._notes.append(
                    f"paraphrase check skipped (the model did not load: {self._dense_error})"
                )
            return []
        try:
            vector = self._dense.embed(quote.text)
        except ModelError as exc:  # the same for every quote: not tried again
            self._dense_error = str(exc)
            return self._meaning(quote, best)
        ranked = self._dense.nearest(vector, DENSE_K)
        if best is not None and best.hit.passage_id not in {pid for pid, _ in ranked}:
            ranked.append((best.hit.passage_id, math.nan))
        return sentence_scores(self._db, self._dense, vector, ranked)
