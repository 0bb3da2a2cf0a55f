"""News articles (``.txt`` / ``.md``): a title line, then blank-line separated paragraphs.

Articles carry no paragraph numbers, so they are cited by position: ``¶1`` is the first
paragraph after the title, counted the way a reader counts them on the page. Tiny
paragraphs are *not* merged, because that would shift every number after them.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from qa.errors import IngestError
from qa.ingest import segment
from qa.models import DocKind, Document, Passage

_FRONT_MATTER = re.compile(r"---\n(.*?\n)?---(?:\n|\Z)", re.DOTALL)
_TITLE_LINE = re.compile(r"[^\n]*\S[^\n]*")


def parse(text: str, source: str, markdown: bool = False) -> Document:
    """Title passage ``(title)`` plus ``¶1..¶n`` by position; doc_id is the file stem."""
    body = "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
    if not body.strip():
        raise IngestError(f"{source}: empty file")
    front = _FRONT_MATTER.match(body) if markdown else None
    start = front.end() if front else 0  # YAML front matter is metadata, not text
    passages: list[Passage] = []
    title = ""
    blocks_from = start
    line = _TITLE_LINE.search(body, start)
    if line:
        s, e = line.span()
        if markdown:
            s = _after_hashes(body, s, e)
        p = segment.make_passage(body, "(title)", None, s, e)
        if p is not None:
            passages.append(p)
            title = " ".join(p.text.split())
        blocks_from = e
    for n, (s, e) in enumerate(segment.blocks(body, blocks_from), 1):
        passages.append(Passage(f"¶{n}", n, body[s:e], s, e))
    doc_id = PurePath(source).stem or source
    return Document(
        doc_id=doc_id,
        kind=DocKind.ARTICLE,
        title=title or doc_id,
        body=body,
        source=source,
        passages=passages,
    )


def _after_hashes(body: str, s: int, e: int) -> int:
    while s < e and body[s] in "# \t":
        s += 1
    return s
