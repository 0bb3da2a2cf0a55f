"""Corpus text → Textual ``Content``: escapes removed, never parsed as markup.

Everything that came from a document (titles, passage text, metadata) goes through
``clean`` and is placed into ``Content`` as plain text with styles attached by span, so a
cable containing ``[bold]`` or ``\\x1b[31m`` is shown literally (minus the escape codes).
Styles name theme variables (``$text-accent``) so light and dark themes both read well.
"""

from __future__ import annotations

import re

from textual.content import Content

from qa.models import Hit

CITATION_STYLE = "bold $text-accent"
HIGHLIGHT_STYLE = "bold underline $text-warning"
MUTED_STYLE = "$text-muted"


def clean(text: str) -> str:
    """Text with terminal escape sequences and control characters removed."""
    from qa.cli_output import safe  # deferred (see ``reflow``)

    return safe(text)


def reflow(text: str) -> str:
    """A cable's hard-wrapped lines joined; blank-line paragraph breaks kept."""
    # Deferred: qa.cli_output imports the indexer (numpy, FAISS glue). The open-index worker
    # imports it in a thread long before the first card is drawn, so the first frame
    # does not wait for it.
    from qa.cli_output import reflow as _reflow

    return _reflow(text)


def one_line(text: str) -> str:
    """Metadata on one line: escapes removed, runs of whitespace collapsed."""
    return " ".join(clean(text).split())


def passage_content(
    text: str, highlight: tuple[int, int] | None, style: str = HIGHLIGHT_STYLE
) -> Content:
    """The passage reflowed, with the ``highlight`` span (offsets into ``text``) styled."""
    if highlight is None:
        return Content(reflow(clean(text)))
    start, end = highlight
    before, middle, after = (reflow(clean(part)) for part in _split3(text, start, end))
    parts: list[str | tuple[str, str]] = []
    if before:
        parts.append(before + separator(text, start))
    parts.append((middle, style))
    if after:
        parts.append(separator(text, end) + after)
    return Content.assemble(*parts)


def _split3(text: str, start: int, end: int) -> tuple[str, str, str]:
    return text[:start], text[start:end], text[end:]


def separator(text: str, offset: int) -> str:
    """What joins two reflowed pieces cut at ``offset``: a paragraph break if the
    whitespace around the cut holds a blank line, else a space."""
    left = len(text[:offset]) - len(text[:offset].rstrip())
    right = len(text[offset:]) - len(text[offset:].lstrip())
    gap = text[offset - left : offset + right]
    return "\n\n" if _BLANK_LINE.search(gap) else " "


_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")


def metadata_line(hit: Hit) -> str:
    """``Embassy Moscow · 2007-11-07 · UNCLASSIFIED``; the source file when a document has
    none of these (articles)."""
    parts = [one_line(p) for p in (hit.origin, hit.date[:10], hit.classification) if p.strip()]
    return " · ".join(parts) if parts else one_line(hit.source)


def card_header(hit: Hit) -> Content:
    """Citation (prominent), then the document's subject or title."""
    title = one_line(hit.title)
    return Content.assemble(
        (hit.citation, CITATION_STYLE),
        ("  " + title, "bold") if title else "",
    )


def card_meta(hit: Hit) -> Content:
    """Origin, date, classification, section heading, and the score in a muted style."""
    parts: list[str | tuple[str, str]] = [metadata_line(hit)]
    if hit.heading.strip():
        parts.append(("  §" + one_line(hit.heading), "italic"))
    parts.append((f"  score {hit.score:.3f}", MUTED_STYLE))
    return Content.assemble(*parts)


def card_content(hit: Hit) -> Content:
    """The whole card: header, metadata line, passage with its best sentence emphasised."""
    return Content("\n").join(
        [card_header(hit), card_meta(hit), passage_content(hit.text, hit.highlight)]
    )
