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

import re
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING

from qa.portion import filter_value

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
    ``paragraph_class`` is the marking the paragraph opens with, normalised
    (``SECRET//NOFORN``, see ``qa.ingest.markings``); None when it carries none (it never
    inherits the cable's classification).
    """

    label: str
    paragraph: int | None
    text: str
    start: int
    end: int
    heading: str = ""
    paragraph_class: str | None = None

    def citation(self, doc_id: str) -> str:
        """The string a user quotes: ``07MOSCOW5292 ¶3``."""
        return f"{doc_id} {self.label}"


def marking(paragraph_class: str | None, kind: str, paragraph: int | None) -> str:
    """What is shown beside a citation: the paragraph's own class; ``unmarked`` for a
    numbered cable paragraph that carries none (never the cable's); else ``""``."""
    if paragraph_class:
        return paragraph_class
    return "unmarked" if kind == DocKind.CABLE and paragraph is not None else ""


@dataclass(frozen=True, slots=True)
class Reference:
    """One item of a cable's ``REF:`` block: ``A. 05 PARIS 7528 AND PREVIOUS``.

    ``letter`` is ``A``, ``B`` ... (None in an unlettered list); ``target`` the cable id it
    names (``05PARIS7528``), None for what is not a cable (an e-mail, a letter); ``raw``
    the item as written, whitespace folded. An item naming two cables is two references.
    """

    letter: str | None
    target: str | None
    raw: str


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
    # A cable's own "Classified by" line: who, which E.O. 12958 reasons (normalised:
    # ``1.4 (b) and (d)``), declassify on (ISO date, or the cable's words), its REF items.
    classified_by: str = ""
    reasons: str = ""
    declassify_on: str = ""
    references: list[Reference] = field(default_factory=list)


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
_DATE = re.compile(r"([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


def date_bound(text: str, *, upper: bool = False) -> str:
    """``text`` (YYYY, YYYY-MM or YYYY-MM-DD, a real date) as a date filter compares it.

    Dates are compared as text, so an upper bound is taken to the end of its year or
    month (``2007`` → ``2007-12-31``: ``--until 2007`` keeps all of 2007). Raises
    ValueError with a message fit to show (``'2020-13-01' is not a date: ...``): the one
    check behind the CLI's options and the TUI's filters screen.
    """
    value = text.strip()
    match = _DATE.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        year, month, day = match.groups()
        date(int(year), int(month or 1), int(day or 1))  # 2020-13-01, 2021-02-30, 0000
    except ValueError:
        raise ValueError(f"{text!r} is not a date: use YYYY, YYYY-MM or YYYY-MM-DD") from None
    if upper and day is None:
        return value + ("-31" if month else "-12-31")
    return value


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
    upper: bool = False  # a date that ends a range: taken to the end of its year or month
    is_marking: bool = False  # a paragraph class: read into qa.portion's normal form

    def value(self, text: str) -> str:
        """``text`` as the filter uses it: a date as ``date_bound`` reads it, a paragraph
        class in its normal form (``s/nf`` → ``SECRET//NOFORN``), so the store compares
        the value as given. ValueError (fit to show) for a date that is not one or a
        class that is none (``SECRT``): a search that silently finds nothing is worse."""
        if self.is_date:
            return date_bound(text, upper=self.upper)
        return filter_value(text) if self.is_marking else text


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
        help="Documents dated on or before (2007 means through 2007-12-31).",
        placeholder=DATE_FORMAT,
        is_date=True,
        upper=True,
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
        name="paragraph_class",
        flag="--paragraph-class",
        label="¶ class",
        prompt="Paragraph marked",
        help="Paragraph's own marking (SECRET, NOFORN, SBU, S/NF...): matches any part.",
        placeholder="SECRET",
        is_marking=True,
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

    One attribute per ``FILTER_FIELDS`` entry, in the same order (a test holds them equal),
    each a value as ``FilterField.value`` reads it (the store compares it as given).
    """

    origin: str | None = None
    since: str | None = None
    until: str | None = None
    classification: str | None = None
    paragraph_class: str | None = None
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
    ``cites``/``cited_by`` count the document's REF items and the indexed REF items that
    name it.
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
    paragraph_class: str | None = None
    kind: str = ""
    cites: int = 0
    cited_by: int = 0

    @property
    def citation(self) -> str:
        return f"{self.doc_id} {self.label}"

    @property
    def cited_as(self) -> str:
        """The citation with the paragraph's marking beside it: ``07MOSCOW5292 ¶3 (SBU)``."""
        shown = marking(self.paragraph_class, self.kind, self.paragraph)
        return f"{self.citation} ({shown})" if shown else self.citation

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
            "paragraph_class": self.paragraph_class,
            "cites": self.cites,
            "cited_by": self.cited_by,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """Ranked hits plus the evidence for "nothing relevant": the best dense similarity.

    ``question`` is the question as searched (normalised); ``best_similarity`` is NaN when
    a lexical search ran without the model (no evidence either way). ``score_spread`` is
    one standard deviation of the ranking's candidate scores, in the hits' score units:
    how close to the best hit another must score to join the answer line
    (``qa.search.answer``).
    """

    question: str
    hits: list[Hit]
    best_similarity: float
    relevant: bool
    score_spread: float = 1.0


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """What the status line and ``qa paths`` show about an index."""

    documents: int
    passages: int
    model: str
    generation: int
    updated_at: str
