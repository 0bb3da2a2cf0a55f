"""Corpus text → Textual ``Content``: escapes removed, never parsed as markup.

Everything that came from a document (titles, passage text, metadata) goes through
``qa.text.terminal_safe`` and is placed into ``Content`` as plain text with styles attached
by span, so a cable containing ``[bold]`` or ``\\x1b[31m`` is shown literally (minus the
escape codes). Styles name theme variables (``$text-accent``) so light and dark themes both
read well.
"""

from __future__ import annotations

import re

from textual.content import Content

from qa.models import Hit
from qa.text import one_line, reflow, terminal_safe

CITATION_STYLE = "bold $text-accent"
HIGHLIGHT_STYLE = "bold underline $text-warning"
MUTED_STYLE = "$text-muted"


def highlight_pieces(text: str, start: int, end: int) -> tuple[str, str, str]:
    """``text`` reflowed and terminal-safe in three pieces: what precedes the highlight
    ``text[start:end]`` (with its separator), the highlight, and what follows it (with its
    separator). Empty pieces stay empty, so callers style the highlight as they please."""
    before, middle, after = (
        reflow(terminal_safe(part)) for part in (text[:start], text[start:end], text[end:])
    )
    lead = before + separator(text, start) if before else ""
    trail = separator(text, end) + after if after else ""
    return lead, middle, trail


def passage_content(
    text: str, highlight: tuple[int, int] | None, style: str = HIGHLIGHT_STYLE
) -> Content:
    """The passage reflowed, with the ``highlight`` span (offsets into ``text``) styled."""
    if highlight is None:
        return Content(reflow(terminal_safe(text)))
    lead, middle, trail = highlight_pieces(text, *highlight)
    parts: list[str | tuple[str, str]] = []
    if lead:
        parts.append(lead)
    parts.append((middle, style))
    if trail:
        parts.append(trail)
    return Content.assemble(*parts)


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
