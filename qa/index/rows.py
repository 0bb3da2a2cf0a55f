"""A parsed document as the run keeps it: its passage rows and the view texts to embed.

The embedded views of each passage are built once here; the rows keep their hashes and
``texts`` their text, for the embedding step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from qa import vectors
from qa.highlight import SentenceJob, job_for, prepared
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
    # The passages' sentence-vector jobs, ranges found (``highlight.prepared``); None:
    # not made here (the run makes them)
    jobs: list[SentenceJob] | None = None


def parsed(doc: Document, file_hash: str, file_stat: str = "", *, jobs: bool = True) -> Parsed:
    """The rows of ``doc``'s passages: search text, lexical context, view hashes; with
    ``jobs``, their sentence-vector jobs too (work a parse worker does in parallel)."""
    rows: list[StoredPassage] = []
    texts: dict[str, str] = {}
    made: list[SentenceJob] = []
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
        if jobs:
            job = job_for(
                p.text, search_text, doc.title, p.heading, rows[-1].text_hash, hashes, views
            )
            if job is not None:
                made.append(prepared(job))
    return Parsed(doc, file_hash, rows, file_stat, texts, made if jobs else None)


def view_texts(items: Iterable[Parsed]) -> dict[str, str]:
    """hash -> text of every embedded view of the given documents."""
    texts: dict[str, str] = {}
    for item in items:
        for h, view in item.texts.items():
            texts.setdefault(h, view)
    return texts
