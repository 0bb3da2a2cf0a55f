"""The data model every other module speaks: documents, passages, search modes, filters, hits.

Plain types, no heavy imports: the CLI, the TUI and the core all name things
with these types, and the TUI imports them before its first paint.

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
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported by whoever builds the arrays, not by the vocabulary
    import numpy as np


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
class StoredPassage:
    """A passage row ready to insert: the parsed passage plus what indexing derived."""

    passage: Passage
    text_hash: str
    search_text: str
    context: str
    view_hashes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SentenceVectors:
    """The highlightable sentences of one passage: spans into its text, unit vectors."""

    spans: list[tuple[int, int]]
    vectors: np.ndarray  # float32, one row per span


class Mode(StrEnum):
    """How a question is searched; the order is the one the CLI and the TUI offer."""

    HYBRID = "hybrid"  # both, fused (the default)
    DENSE = "dense"  # embeddings
    LEXICAL = "lexical"  # BM25


DATE_FORMAT = "YYYY-MM-DD"


@dataclass(frozen=True, slots=True)
class FilterField:
    """One metadata filter as every front end names it.

    The CLI's options, the TUI's settings line and its filters screen are all generated
    from ``FILTER_FIELDS``, so a filter is added (or renamed) here and nowhere else but in
    ``Filters`` and the store's filter SQL.
    """

    name: str  # the ``Filters`` attribute (and the CLI option's parameter)
    flag: str  # the CLI option: ``--doc``
    label: str  # the TUI settings line: ``doc 07MOSCOW5292``
    prompt: str  # the TUI filters screen: ``Only document``
    help: str  # the CLI option's help text
    placeholder: str  # the TUI filters screen's example value
    is_date: bool = False  # YYYY[-MM[-DD]], compared as text


FILTER_FIELDS = (
    FilterField(
        name="origin",
        flag="--origin",
        label="origin",
        prompt="Origin contains",
        help="Origin contains this (e.g. Moscow).",
        placeholder="Embassy Moscow",
    ),
    FilterField(
        name="since",
        flag="--since",
        label="since",
        prompt="Dated on or after",
        help="Documents dated on or after.",
        placeholder=DATE_FORMAT,
        is_date=True,
    ),
    FilterField(
        name="until",
        flag="--until",
        label="until",
        prompt="Dated on or before",
        help="Documents dated on or before.",
        placeholder=DATE_FORMAT,
        is_date=True,
    ),
    FilterField(
        name="classification",
        flag="--classification",
        label="class",
        prompt="Classification starts with",
        help="Classification starts with (e.g. SECRET).",
        placeholder="SECRET",
    ),
    FilterField(
        name="tag",
        flag="--tag",
        label="tag",
        prompt="Cable TAG",
        help="Cable TAG (e.g. PREL).",
        placeholder="PREL",
    ),
    FilterField(
        name="doc_id",
        flag="--doc",
        label="doc",
        prompt="Only document",
        help="Only this document (e.g. 07MOSCOW5292).",
        placeholder="07MOSCOW5292",
    ),
)


@dataclass(frozen=True, slots=True)
class Filters:
    """Metadata restrictions applied *before* ranking, so k results still come back.

    One attribute per ``FILTER_FIELDS`` entry, in the same order (a test holds them equal).
    """

    origin: str | None = None
    since: str | None = None
    until: str | None = None
    classification: str | None = None
    tag: str | None = None
    doc_id: str | None = None

    def active(self) -> list[tuple[FilterField, str]]:
        """The filters that are set, with their values, in ``FILTER_FIELDS`` order."""
        return [(f, value) for f in FILTER_FIELDS if (value := getattr(self, f.name))]

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in FILTER_FIELDS)


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


@dataclass(frozen=True, slots=True)
class Answer:
    """Ranked hits plus the evidence for "nothing relevant": the best dense similarity.

    ``question`` is the question as searched (normalised); ``best_similarity`` is NaN when
    a lexical search ran without the model (no evidence either way).
    """

    question: str
    hits: list[Hit]
    best_similarity: float
    relevant: bool


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """What the status line and ``qa paths`` show about an index."""

    documents: int
    passages: int
    model: str
    generation: int
    updated_at: str
