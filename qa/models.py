"""The data model every other module speaks: documents, passages, search hits.

A *document* is one source file (a cable or an article). A *passage* is one citable
paragraph of it. The citation users quote is ``f"{doc_id} {label}"``, e.g.
``07MOSCOW5292 ¶3``; the label is the only thing a user ever needs to check a quote.

Labels:
- ``¶N``: a numbered cable paragraph (the ``parN`` anchor / ``¶N.`` marker), or the
  N-th blank-line paragraph of an article (articles have no numbers of their own).
- ``(header)``: the text of a cable before its first numbered paragraph (subject line,
  summary heading, reference list). Searchable, never a paragraph number.
- ``(title)``: an article's title line.
- ``(text N)``: the N-th blank-line block of a cable that has no numbered paragraphs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class DocKind(StrEnum):
    """Which parser produced a document; decides how its passages are labelled."""

    CABLE = "cable"
    ARTICLE = "article"


@dataclass(frozen=True, slots=True)
class Passage:
    """One citable unit of a document.

    ``text`` is the exact source text of the paragraph (line breaks as in the source,
    page-break lines removed); ``start``/``end`` are its character offsets in the
    owning ``Document.body``, so ``body[start:end] == text`` always holds.
    ``heading`` is the section heading printed above the paragraph, if any (kept apart so
    the previous paragraph does not end with the next one's heading).
    """

    label: str
    paragraph: int | None
    text: str
    start: int
    end: int
    heading: str = ""

    def citation(self, doc_id: str) -> str:
        """The string a user quotes: ``07MOSCOW5292 ¶3``."""
        return f"{doc_id} {self.label}"


@dataclass(slots=True)
class Document:
    """A parsed source file with its metadata and ordered passages.

    ``body`` is the repaired text the passages point into (page breaks removed,
    converter artefacts such as stray ``¶`` glyphs before years dropped).
    Dates are ISO 8601 strings (``2007-11-07`` or ``2007-11-07 06:55``) or ``""``.
    """

    doc_id: str
    kind: DocKind
    title: str
    body: str
    source: str
    date: str = ""
    origin: str = ""
    classification: str = ""
    tags: tuple[str, ...] = ()
    passages: list[Passage] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Filters:
    """Metadata restrictions applied *before* ranking, so k results still come back."""

    origin: str | None = None
    since: str | None = None
    until: str | None = None
    classification: str | None = None
    tag: str | None = None
    doc_id: str | None = None

    def is_empty(self) -> bool:
        return not any(
            (self.origin, self.since, self.until, self.classification, self.tag, self.doc_id)
        )


@dataclass(frozen=True, slots=True)
class Hit:
    """A ranked passage with everything a caller needs to display or cite it.

    ``highlight`` holds ``(start, end)`` character offsets into ``text`` of the
    sentence(s) that best answer the question, or ``None`` when not computed.
    """

    rank: int
    passage_id: int
    doc_id: str
    label: str
    paragraph: int | None
    score: float
    text: str
    heading: str
    title: str
    date: str
    origin: str
    classification: str
    source: str
    highlight: tuple[int, int] | None = None

    @property
    def citation(self) -> str:
        return f"{self.doc_id} {self.label}"

    def to_json(self) -> dict[str, object]:
        """The stable JSON shape of one result (documented in the README)."""
        return {
            "rank": self.rank,
            "citation": self.citation,
            "doc_id": self.doc_id,
            "paragraph": self.paragraph,
            "label": self.label,
            "score": round(self.score, 6),
            "text": self.text,
            "title": self.title,
            "date": self.date,
            "origin": self.origin,
            "classification": self.classification,
            "source": self.source,
            "highlight": list(self.highlight) if self.highlight else None,
        }
