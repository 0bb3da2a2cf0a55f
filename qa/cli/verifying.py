"""``qa verify``: check every quote of a draft against the index before it is published.

The report goes to stdout (text, ``--json`` or ``--markdown``); the tally and notes go to
stderr. Exit 0 when every quote is verbatim or near, 7 (``ExitCode.NOT_VERIFIED``) when
any is not: a code of its own, so a newsroom script can tell "checked, and found
wanting" from trouble (1, the generic error: an index file this user may not read, say).
A draft that cannot be read is a usage error (2), a missing or damaged index 4 or 5. A
model that does not load is no failure: it only leaves the paraphrase check undone, and
quotes it would have labelled fail either way.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.text import Text

from qa import locations
from qa.cli.group import cli, user_errors
from qa.cli.options import index_option
from qa.errors import ExitCode, NoIndexError, UsageError
from qa.text import terminal_safe

if TYPE_CHECKING:
    from qa.verify import QuoteCheck, Report

_STYLE = {"verbatim": "bold green", "near": "green", "paraphrase": "yellow", "not_found": "red"}


@cli.command()
@click.argument("draft")
@index_option
@click.option("json_", "--json", is_flag=True, help="One JSON object: every quote, offsets.")
@click.option("--markdown", is_flag=True, help="The report as Markdown, for the edit notes.")
@click.option(
    "--strict", is_flag=True, help="Near passes only by case or punctuation, not changed words."
)
@user_errors
def verify(draft: str, index_dir: Path | None, json_: bool, markdown: bool, strict: bool) -> None:
    """Check every quote in DRAFT (text or Markdown; `-` reads stdin) against the index.

    Each quote ("straight" or “curly”, or a > block quote; ellipses and [insertions]
    allowed) gets its best source paragraph and a verdict: verbatim, near (differences
    shown word by word), paraphrase (the meaning is there, not the words) or not found.
    Quotes under four words are ignored. Exit 0 when every quote is verbatim or near,
    7 when any is not (1 is an error, 2 bad usage, 4 no index, 5 a damaged one).
    """
    from qa import store
    from qa.factory import open_searcher
    from qa.verify import Verifier
    from qa.verify.dense import SearcherDense

    if json_ and markdown:
        raise UsageError("choose one of --json and --markdown")
    text = read_draft(draft)
    index = index_dir or locations.index_dir()
    db = store.connect(locations.db_path(index), readonly=True)
    dense = SearcherDense(lambda: open_searcher(index))
    try:
        if not store.read_manifest(db).generation:
            raise NoIndexError(f"index at {index} is empty: run `qa index`")
        report = Verifier(db, dense).verify(text)
    finally:
        dense.close()
        db.close()
    if json_:
        sys.stdout.write(json.dumps(report.to_json(strict=strict), ensure_ascii=False) + "\n")
    elif markdown:
        from qa.verify.markdown import report_markdown

        name = "stdin" if draft == "-" else draft
        sys.stdout.write(report_markdown(report, text, name, strict=strict))
    else:
        print_report(report, text)
    _print_tally(report, strict)
    if not report.all_verified(strict=strict):
        raise click.exceptions.Exit(int(ExitCode.NOT_VERIFIED))


def read_draft(name: str) -> str:
    """The draft's text, from a file or ``-`` (stdin): ``qa.verify.draft`` rules."""
    from qa.verify.draft import draft_text, read_draft_file

    if name == "-":
        return draft_text(sys.stdin.buffer.read, "stdin")
    return read_draft_file(Path(name))


def print_report(report: Report, draft: str) -> None:
    """One block per quote: where it is, the verdict and citation, the differences."""
    from qa.cli.output import stdout

    for n, check in enumerate(report.checks, start=1):
        stdout.print(_check_text(n, check, draft), end="\n\n")


def _check_text(n: int, check: QuoteCheck, draft: str) -> Text:
    line = draft.count("\n", 0, check.quote.start) + 1
    out = Text()
    out.append(f"{n}. ", style="dim")
    out.append(f"“{_shorten(check.quote.text)}”")
    out.append(f"  line {line}, chars {check.quote.start}-{check.quote.end}\n", style="dim")
    out.append(f"   {check.status.value.replace('_', ' ')}", style=_STYLE[check.status.value])
    if check.cited_as:
        out.append("  ")
        out.append(terminal_safe(check.cited_as), style="bold cyan")
    score = "words found" if check.verified else "similarity"
    out.append(f"  {score} {check.score:.2f}", style="dim")
    for difference in check.differences:
        out.append(f"\n     {_difference(difference.kind, difference.quote, difference.source)}")
    if check.source and check.status.value != "verbatim":
        out.append("\n   source: ", style="dim")
        out.append(f"“{_shorten(check.source, 300)}”")
    return out


def _difference(kind: str, quote: str | None, source: str | None) -> str:
    q, s = terminal_safe(quote or ""), terminal_safe(source or "")
    if kind == "dropped":
        return f"dropped  “{s}” (in the source, not in the quote)"
    if kind == "added":
        return f"added    “{q}” (not in the source)"
    return f"{kind:<8} “{q}” (source “{s}”)"


def _shorten(text: str, limit: int = 120) -> str:
    text = terminal_safe(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _print_tally(report: Report, strict: bool) -> None:
    """What was found, on stderr: counts by verdict, short quotes ignored, notes."""
    from qa.cli.output import stderr

    for note in report.notes:
        stderr.print(Text(f"note: {terminal_safe(note)}", style="yellow"), soft_wrap=True)
    counts = Counter(check.status.value for check in report.checks)
    parts = [f"{counts[s]} {s.replace('_', ' ')}" for s in _STYLE if counts[s]]
    ignored = f"; {len(report.ignored)} under four words ignored" if report.ignored else ""
    if not report.checks:
        stderr.print(f"No quotes to check{ignored}.")
        return
    verdict = "all verified" if report.all_verified(strict=strict) else "NOT all verified"
    total = len(report.checks)
    stderr.print(
        f"{total} quote{'s' * (total != 1)}: {', '.join(parts)}{ignored} — {verdict}",
        style="bold" if verdict == "all verified" else "bold red",
        soft_wrap=True,
    )
