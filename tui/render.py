"""Corpus text → Textual ``Content``: escapes removed, never parsed as markup.

Everything that came from a document (titles, passage text, metadata) goes through
``qa.text.terminal_safe`` and is placed into ``Content`` as plain text with styles attached
by span, so a cable containing ``[bold]`` or ``\\x1b[31m`` is shown literally (minus the
escape codes). Styles name theme variables (``$text-accent``) so light and dark themes both
read well.
"""

from __future__ import annotations

from textual.content import Content

# The pure text pieces live in the core, shared with the Markdown export and the CLI.
from qa.markdown import highlight_pieces, metadata_line
from qa.models import Hit
from qa.text import one_line, reflow, terminal_safe

CITATION_STYLE = "bold $text-accent"
HIGHLIGHT_STYLE = "bold underline $text-warning"
MUTED_STYLE = "$text-muted"
ECHO_LIMIT = 300  # characters of a question echoed in the transcript (the rest: "…")


def trimmed(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` on one line, cut to ``limit`` characters plus "…" when longer: a pasted
    5,000-character question should not fill the transcript (the turn keeps it whole)."""
    line = one_line(text)
    if len(line) <= limit:
        return line
    cut = line[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.8 else cut).rstrip() + "…"


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


def card_header(hit: Hit) -> Content:
    """Citation with the paragraph's own marking (prominent: ``07MOSCOW5292 ¶3 (SBU)``),
    then the document's subject or title."""
    title = one_line(hit.title)
    return Content.assemble(
        (hit.cited_as, CITATION_STYLE),
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


def compact_card_content(hit: Hit) -> Content:
    """The compact card: header, then the best sentence (else the passage's start) on one
    line; the card's style cuts each line at the width (``.card.-compact``), so every
    compact card is two rows and a whole answer fits on one screen."""
    if hit.highlight is None:
        snippet = Content(one_line(hit.text))
    else:
        start, end = hit.highlight
        snippet = Content.styled(one_line(hit.text[start:end]), HIGHLIGHT_STYLE)
    return Content("\n").join([card_header(hit), snippet])
