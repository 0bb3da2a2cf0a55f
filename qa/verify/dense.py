"""The meaning side of the quote check: how close a quote is to a passage's sentences.

A paraphrase is usually of one sentence or two, and a paragraph's vector averages all of
them, so a quote is scored against each *sentence* of a passage: the sentence vectors
the indexer stored for highlighting (``qa.highlight.late_chunking``: free to read), or,
for a passage without them, the passage's own vector. Calibrated on real paraphrases,
the sentence score separates "the meaning is there" from "on topic, not the claim"
better than the paragraph's (docs/verify.md: balanced accuracy 0.83 against 0.73).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from typing import Protocol

import numpy as np

from qa import store, vectors
from qa.models import Hit
from qa.search import rank
from qa.search.hydrate import hydrate
from qa.search.searcher import Searcher


class Dense(Protocol):
    """What the check needs of the embedding side: a vector, and the nearest passages."""

    def embed(self, text: str) -> np.ndarray:
        """The unit vector of ``text`` (the question model of the index)."""
        ...

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest passages as ``(passage id, cosine)``, best first."""
        ...


class SearcherDense:
    """``Dense`` over a ``Searcher``, opened (vectors, then the model) on first use, so a
    draft whose quotes are all found by their words never loads either."""

    def __init__(self, open_searcher: Callable[[], Searcher]) -> None:
        self._open = open_searcher
        self._searcher: Searcher | None = None

    def _get(self) -> Searcher:
        if self._searcher is None:
            self._searcher = self._open()
        else:
            self._searcher.refresh()  # a writer may have committed since
        return self._searcher

    def close(self) -> None:
        """Close the searcher if a quote opened it (the command closes what it opened)."""
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def embed(self, text: str) -> np.ndarray:
        return self._get().warm().embed([text])[0]

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        # Windows of one passage compete for slots: over-fetch, keep each passage's best.
        scores, ids = self._get().vectors.search(vector, k * 3)
        return rank.best_per_passage(scores.tolist(), vectors.passage_of(ids).tolist(), k)


def sentence_scores(
    db: sqlite3.Connection, dense: Dense, vector: np.ndarray, ranked: list[tuple[int, float]]
) -> list[tuple[Hit, float]]:
    """Each passage of ``ranked`` with its best sentence cosine to ``vector``.

    ``ranked`` scores are passage cosines, used for a passage without stored sentence
    vectors (one-sentence passages have none: the passage *is* the sentence); NaN there
    means unknown, and the passage's text is embedded now.
    """
    manifest = store.read_manifest(db)
    found = hydrate(db, ranked)
    keys = found.sentence_keys()
    stored = store.get_sentence_vectors(db, manifest.model, [k for k in keys if k], manifest.dim)
    out: list[tuple[Hit, float]] = []
    for hit, key in zip(found.hits, keys, strict=True):
        item = stored.get(key) if key else None
        if item is not None and len(item.spans):
            # Stored rows decode unit vectors plus zero-mean rounding noise, so the plain
            # dot product estimates the cosine without bias; renormalising them would
            # shrink it by the noise's share of the norm (~1.3% at 4 bits: 0.65 -> 0.64,
            # across PARAPHRASE_THRESHOLD). ``highlight.best_spans`` ranks by it too.
            score = float((item.vectors @ vector).max())
        elif math.isnan(hit.score):
            score = float(dense.embed(hit.text) @ vector)
        else:
            score = hit.score
        out.append((hit, score))
    return out
