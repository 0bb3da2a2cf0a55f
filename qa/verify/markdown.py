"""A verify report as Markdown (pure): the list an editor pastes into the edit notes.

Quote and source text are data: every character Markdown could read as syntax is
escaped, so a quote holding ``*``, ``[link](…)`` or ``<b>`` shows as typed.
"""

from __future__ import annotations

import re

from qa.verify.check import QuoteCheck, Report

# Inline text never starts a line here (it follows "“" or "- "), so only the characters
# that act anywhere in a line need escaping.
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_LABEL = {
    "verbatim": "verbatim",
    "near": "near",
    "paraphrase": "paraphrase",
    "not_found": "not found",
}


def escape(text: str) -> str:
    """``text`` on one line with Markdown's special characters backslash-escaped."""
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def report_markdown(report: Report, draft: str, name: str, *, strict: bool = False) -> str:
    """The whole report: a heading, the verdict, one list item per quote."""
    verdict = "all verified" if report.all_verified(strict=strict) else "**not all verified**"
    lines = [
        f"## Quote check: {escape(name)}",
        "",
        f"{len(report.checks)} quote{'s' * (len(report.checks) != 1)}, {verdict}.",
        "",
    ]
    lines.extend(_item(check, draft) for check in report.checks)
    if report.ignored:
        n = len(report.ignored)
        lines.extend(["", f"{n} quote{'s' * (n != 1)} under four words not checked."])
    return "\n".join(lines) + "\n"


def _item(check: QuoteCheck, draft: str) -> str:
    line = draft.count("\n", 0, check.quote.start) + 1
    head = f"- **{_LABEL[check.status.value]}** (line {line}): “{escape(check.quote.text)}”"
    if check.cited_as:
        head += f" — `{check.cited_as}`"
    details = [f"  - {_difference(d.kind, d.quote, d.source)}" for d in check.differences]
    if check.source and check.status.value != "verbatim":
        details.append(f"  - source: “{escape(check.source)}”")
    return "\n".join([head, *details])


def _difference(kind: str, quote: str | None, source: str | None) -> str:
    if kind == "dropped":
        return f"dropped “{escape(source or '')}”"
    if kind == "added":
        return f"added “{escape(quote or '')}”"
    return f"{kind}: “{escape(quote or '')}” (source “{escape(source or '')}”)"
