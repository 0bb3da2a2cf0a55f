"""What the search engines see of a passage, as opposed to what the user is shown.

The displayed text stays faithful to the source; the *search text* drops telegram noise
(classification markings such as ``(C)`` or ``(SBU)``, the ``¶3.`` marker, redaction runs,
routing and boilerplate lines) and the *embedded views* add the document's subject as
context and cut long paragraphs into overlapping windows the model can read whole.
Bump ``VIEWS_VERSION`` whenever the output of this module changes: the indexer then
recomputes views (re-embedding only texts it has not embedded before).
"""

from __future__ import annotations

import hashlib
import re

from qa.models import Document, Passage

VIEWS_VERSION = "3"

WINDOW_WORDS = 150  # ≈ 200 word pieces: fits the model's 256 with the subject prefix
WINDOW_OVERLAP = 50

_MARKER = re.compile(r"^\s*¶?\s*\d{1,3}\s*\.\s*", re.UNICODE)
_CLASSIFICATION = re.compile(
    r"\((?:U|C|S|TS|SBU|FOUO|NF|REL[^)]{0,40}|[CSU]\s*/\s*[A-Z/ ,]{1,40})\)"
)
_REDACTION = re.compile(r"\b[xX]{4,}\b")
_BOILERPLATE_LINE = re.compile(
    r"^\s*(?:SIPDIS|SENSITIVE|NOFORN|E\.\s?O\.\s?12958.*|CLASSIFIED BY.*|REASONS?:? 1\.\d.*|"
    r"(?:UNCLAS|UNCLASSIFIED|CONFIDENTIAL|SECRET|C O N F I D E N T I A L|S E C R E T)\b.*"
    r"|-{3,}\s*-*)\s*$",
    re.IGNORECASE | re.MULTILINE,
)


_SPACE = re.compile(r"\s+")


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def clean(text: str) -> str:
    """Search text of a passage: noise removed, whitespace folded."""
    text = _BOILERPLATE_LINE.sub(" ", text)
    text = _MARKER.sub("", text, count=1)
    text = _CLASSIFICATION.sub(" ", text)
    if "xxxx" in text.lower():  # every run of 4+ [xX] holds one; the regex alone is slow
        text = _REDACTION.sub(" ", text)
    # str.split() splits on exactly what \s matches: whitespace folded, 10x a regex's speed
    # (readers clean each BM25 candidate: the search text is not stored, qa.store.fulltext)
    return " ".join(text.split())


_SUMMARY = re.compile(r"\bsummary\b", re.IGNORECASE)
SUMMARY_LEAD_CHARS = 40  # "Summary" this close to a paragraph's start labels it one


def is_summary(heading: str, search_text: str) -> bool:
    """A paragraph that presents itself as the summary of its cable (905 of 1,268 ¶1s).

    A summary restates the cable's other paragraphs in brief, so it matches almost any
    question about the cable; the paragraph it summarises holds the detail (who said
    what, the figures) that a citation should point to. Hybrid ranking lets it defer.
    """
    return bool(_SUMMARY.search(heading) or _SUMMARY.search(search_text[:SUMMARY_LEAD_CHARS]))


def context_of(doc: Document, passage: Passage) -> str:
    """Lexical context field: subject/title, tags, the section heading and the cable ID."""
    parts = [doc.title, passage.heading, " ".join(doc.tags), doc.doc_id, doc.origin]
    return _SPACE.sub(" ", " ".join(p for p in parts if p)).strip()


def window_ranges(count: int) -> list[tuple[int, int]]:
    """``(start, end)`` word ranges of the overlapping windows over ``count`` words."""
    if count <= WINDOW_WORDS:
        return [(0, count)]
    step = WINDOW_WORDS - WINDOW_OVERLAP
    out = []
    for start in range(0, count, step):
        out.append((start, min(start + WINDOW_WORDS, count)))
        if start + WINDOW_WORDS >= count:
            break
    return out


def view_prefix(title: str, heading: str) -> str:
    """The subject (and section heading) every view of a passage starts with."""
    prefix = title.strip()
    if heading:
        prefix = f"{prefix}. {heading.strip()}" if prefix else heading.strip()
    return prefix


def views_of(title: str, heading: str, search_text: str) -> list[str]:
    """The texts embedded for one passage: subject as context, then a window of text.

    Layout (sentences.py relies on it): ``"<prefix>: "`` then the window's words of
    ``search_text.split()`` joined by single spaces; no prefix, no separator.
    """
    prefix = view_prefix(title, heading)
    words = search_text.split() or prefix.split()
    views = []
    for start, end in window_ranges(len(words)):
        body = " ".join(words[start:end])
        views.append(f"{prefix}: {body}" if prefix else body)
    return views
