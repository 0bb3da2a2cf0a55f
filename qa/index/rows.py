"""A parsed document as the run keeps it: its passage rows and the view texts to embed.

The embedded views of each passage are built once here; the rows keep their hashes and
``texts`` their text, for the embedding step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from qa import vectors
from qa.models import Document, StoredPassage
from qa.views import clean, context_of, text_hash, views_of


@dataclass
class Parsed:
    """One document to insert: its rows, the file's digest and stat, its view texts."""

    doc: Document
    file_hash: str
    rows: list[StoredPassage]
    file_stat: str = ""
    texts: dict[str, str] = field(default_factory=dict)  # view hash -> view text


def parsed(doc: Document, file_hash: str, file_stat: str = "") -> Parsed:
    """The rows of ``doc``'s passages: search text, lexical context, view hashes."""
    rows: list[StoredPassage] = []
    texts: dict[str, str] = {}
    for p in doc.passages:
        search_text = clean(p.text)
        views = views_of(doc.title, p.heading, search_text)[: vectors.WINDOWS]
        hashes = tuple(text_hash(v) for v in views)
        for h, view in zip(hashes, views, strict=True):
            texts.setdefault(h, view)
        rows.append(
            StoredPassage(
                passage=p,
                text_hash=text_hash(p.text),
                search_text=search_text,
                context=context_of(doc, p),
                view_hashes=hashes,
            )
        )
    return Parsed(doc, file_hash, rows, file_stat, texts)


def view_texts(items: Iterable[Parsed]) -> dict[str, str]:
    """hash -> text of every embedded view of the given documents."""
    texts: dict[str, str] = {}
    for item in items:
        for h, view in item.texts.items():
            texts.setdefault(h, view)
    return texts
