"""One answered question as Markdown: the TUI's export and ``qa ask --format markdown``.

The turn renderer lives in the core so both front ends write the same Markdown from the
core's own types (``Hit``, ``CitedAnswer``, ``Filters``) and the core never imports the
UI. Pure string work. Corpus text is written as block quotes with terminal escapes
removed; the highlighted sentence is bold; the cited answer line (``qa.search.answer``)
comes first as ``**Answer:**``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.models import Filters, Hit, Mode
from qa.search.answer import CitedAnswer
from qa.text import one_line, reflow, terminal_safe

_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")


def metadata_line(hit: Hit) -> str:
    """``Embassy Moscow · 2007-11-07 · UNCLASSIFIED``; the source file when a document has
    none of these (articles)."""
    parts = [one_line(p) for p in (hit.origin, hit.date[:10], hit.classification) if p.strip()]
    return " · ".join(parts) if parts else one_line(hit.source)


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


def separator(text: str, offset: int) -> str:
    """What joins two reflowed pieces cut at ``offset``: a paragraph break if the
    whitespace around the cut holds a blank line, else a space."""
    left = len(text[:offset]) - len(text[:offset].rstrip())
    right = len(text[offset:]) - len(text[offset:].lstrip())
    gap = text[offset - left : offset + right]
    return "\n\n" if _BLANK_LINE.search(gap) else " "


def search_line(mode: Mode | str, filters: Filters) -> str:
    """``Search: mode hybrid, doc 07MOSCOW5292``: how the question was searched, with the
    filters under the labels the TUI's settings line uses."""
    described = [f"mode {Mode(mode).value}"]
    described += [f"{field.label} {value}" for field, value in filters.active()]
    return f"Search: {', '.join(described)}"


def answer_markdown(answer: CitedAnswer) -> str:
    """The cited answer line (``qa.search.answer``): each sentence as the source has it,
    whitespace collapsed, followed by its citation (with the paragraph's marking, as
    ``AnswerPart.shown_citation``) in brackets; or why there is none."""
    if not answer.parts:
        return f"**Answer:** _{answer.note}_"
    said = " ".join(f"{one_line(p.text)} [{one_line(p.shown_citation)}]" for p in answer.parts)
    return f"**Answer:** {said}"


def hit_markdown(hit: Hit) -> list[str]:
    """One cited passage: a heading with the citation (and its marking) and the title,
    the metadata line with the score, then the passage as a block quote."""
    lines = [f"### {hit.rank}. {hit.cited_as} — {one_line(hit.title)}"]
    lines += ["", f"{metadata_line(hit)} · score {hit.score:.3f}", ""]
    lines += [f"> {line}" if line else ">" for line in quoted(hit).split("\n")]
    lines.append("")
    return lines


def quoted(hit: Hit) -> str:
    """The passage reflowed, its highlighted sentence in bold."""
    if hit.highlight is None:
        return reflow(terminal_safe(hit.text))
    lead, middle, trail = highlight_pieces(hit.text, *hit.highlight)
    return lead + (f"**{middle}**" if middle else "") + trail


def turn_markdown(
    title: str,
    searched: Sequence[str],
    hits: Sequence[Hit],
    answer: CitedAnswer | None,
    relevant: bool = True,
    error: str | None = None,
) -> list[str]:
    """One question's section: ``## title``, the ``searched`` lines (what was searched and
    how), then why there is no answer (``error``, no hits) or the answer line, a note when
    nothing looked ``relevant``, and each hit. Lines, each section ending with a blank."""
    lines = [f"## {title}", "", *searched, ""]
    if error:
        return [*lines, f"_No answer: {one_line(error)}_", ""]
    if not hits:
        return [*lines, "_No passage matched._", ""]
    if answer is not None:
        lines += [answer_markdown(answer), ""]
    if not relevant:
        lines += ["_Nothing in the index looked relevant; the closest passages follow._", ""]
    for hit in hits:
        lines += hit_markdown(hit)
    return lines
