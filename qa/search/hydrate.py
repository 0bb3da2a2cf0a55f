"""Ranked passage ids → hits: everything a caller shows, cites and highlights, in one query.

The display row (its text is its slice of the document body, cut in the same query: the
index stores it once, schema 6) and the hashes that key the passage's stored sentence
vectors come from the same read, so a highlight is never computed for another version of
the text.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from qa import store
from qa.highlight import sentence_key
from qa.models import Hit
from qa.views import text_hash


@dataclass(frozen=True, slots=True)
class Hydrated:
    """The hits of one search, with the stored hashes their sentence vectors are keyed by."""

    hits: list[Hit]
    hashes: list[tuple[str, str]]  # per hit: (text hash, space-separated view hashes)

    def sentence_keys(self) -> list[str | None]:
        """Per hit, the key of its stored sentence vectors (``sentence_key``); None where
        the stored text hash is not the hash of the text shown (never trust those)."""
        return [
            sentence_key(stored_hash, views.split()) if text_hash(hit.text) == stored_hash else None
            for hit, (stored_hash, views) in zip(self.hits, self.hashes, strict=True)
        ]


def hydrate(db: sqlite3.Connection, ranked: list[tuple[int, float]]) -> Hydrated:
    """Hits for ``ranked`` in order, numbered from 1; a passage deleted since the vectors
    were written is left out (never cited)."""
    rows = store.hit_rows(db, [pid for pid, _ in ranked])
    hits: list[Hit] = []
    hashes: list[tuple[str, str]] = []
    for pid, score in ranked:
        row = rows.get(pid)
        if row is None:
            continue
        hits.append(
            Hit(
                rank=len(hits) + 1,
                passage_id=pid,
                doc_id=row["doc_id"],
                label=row["label"],
                paragraph=row["paragraph"],
                score=score,
                text=row["text"],
                heading=row["heading"],
                title=row["title"],
                date=row["date"],
                origin=row["origin"],
                classification=row["classification"],
                source=row["source"],
                paragraph_class=row["paragraph_class"],
                kind=row["kind"],
                cites=row["cites"],
                cited_by=row["cited_by"],
            )
        )
        hashes.append((row["text_hash"], row["view_hashes"]))
    return Hydrated(hits, hashes)
