"""A draft's quote check in the transcript (F3): one line per quote, then the tally.

Laid out like a turn (``TurnView``): a heading line naming the draft, then, indented,
each quote's verdict, the quote cut to ``QUOTE_LIMIT`` characters, its citation with the
paragraph's marking (``07MOSCOW5292 ¶3 (SBU)``) and, under a near quote, what it changed
word by word. Draft and corpus text are placed as plain text in ``Content`` (terminal
escapes removed), never parsed as markup: a quote of ``[bold]`` shows as typed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static

from qa.text import one_line
from tui.render import CITATION_STYLE, MUTED_STYLE, trimmed

if TYPE_CHECKING:
    from qa.verify import QuoteCheck
    from qa.verify.align import Difference
    from tui.session import Verification

QUOTE_LIMIT = 80  # characters of a quote shown (the export keeps it whole)
LABELS = {  # status → (shown, style), padded so the quotes line up
    "verbatim": ("verbatim  ", "bold $text-success"),
    "near": ("near      ", "$text-success"),
    "paraphrase": ("paraphrase", "bold $text-warning"),
    "not_found": ("not found ", "bold $text-error"),
}
_INDENT = " " * 12  # under the quote, past the label


def heading_content(verification: Verification) -> Content:
    """``❯ quote check  drafts/story.md``, like a turn's question line."""
    return Content.assemble(
        ("❯ quote check ", "bold $text-primary"), (trimmed(verification.name), "bold")
    )


def check_content(check: QuoteCheck) -> Content:
    """One quote: the verdict, the quote (cut), the citation; differences below."""
    label, style = LABELS[check.status.value]
    parts: list[str | tuple[str, str]] = [
        (label, style),
        f"  “{trimmed(check.quote.text, QUOTE_LIMIT)}”",
    ]
    if check.cited_as:
        parts += ["  ", (one_line(check.cited_as), CITATION_STYLE)]
    for difference in check.differences:
        parts += ["\n", (_INDENT + difference_text(difference), MUTED_STYLE)]
    return Content.assemble(*parts)


def difference_text(difference: Difference) -> str:
    """``changed “asking” (source “seeks”)``, ``dropped “about”``, ``added “very”``."""
    quote, source = one_line(difference.quote or ""), one_line(difference.source or "")
    if difference.kind == "dropped":
        return f"dropped “{source}”"
    if difference.kind == "added":
        return f"added “{quote}”"
    return f"{difference.kind} “{quote}” (source “{source}”)"


def summary_content(verification: Verification) -> Content:
    """``2 of 3 quotes verified``, and how many short quotes were left unchecked."""
    report = verification.report
    total, verified = len(report.checks), sum(c.verified for c in report.checks)
    ignored = len(report.ignored)
    left = f" · {ignored} under four words not checked" if ignored else ""
    if not total:
        return Content.styled(f"No quotes to check{left}.", MUTED_STYLE)
    style = "bold $text-success" if verified == total else "bold $text-error"
    text = f"{verified} of {total} quote{'s' * (total != 1)} verified"
    return Content.assemble((text, style), (left, MUTED_STYLE))


def report_content(verification: Verification) -> Content:
    """Every quote's line, then the summary line."""
    lines = [check_content(check) for check in verification.report.checks]
    return Content("\n").join([*lines, summary_content(verification)])


class VerifyReport(Vertical):
    """The quote check of one draft, as one block of the transcript."""

    DEFAULT_CSS = """
    VerifyReport { height: auto; }
    VerifyReport .verify-lines { padding-left: 2; }
    """

    def __init__(self, verification: Verification) -> None:
        super().__init__(classes="turn")
        self.verification = verification

    def compose(self) -> ComposeResult:
        yield Static(heading_content(self.verification), classes="question")
        yield Static(report_content(self.verification), classes="verify-lines")
