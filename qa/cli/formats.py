"""``--format``: answers and eval tables as JSON, JSON Lines, CSV or Markdown text.

Pure functions from the core's types to the text that goes on stdout, so every format is
tested without a terminal. ``text`` is not here: it is Rich output (``qa.cli.output``).
CSV follows the ``csv`` module's defaults (the ``excel`` dialect: minimal quoting,
``\\r\\n`` rows), so a passage's commas, quotes and line breaks survive a spreadsheet and
``csv.reader``; cells are the data as it stands, never rewritten.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import TYPE_CHECKING, Any

import click

from qa.markdown import search_line, turn_markdown
from qa.models import Answer, Filters, Hit, Mode
from qa.search.answer import cited_answer
from qa.text import one_line

if TYPE_CHECKING:
    from qa.evaluate import ModeResult

FORMATS = ("text", "json", "jsonl", "csv", "markdown")
CSV_COLUMNS = (
    "question",
    "rank",
    "citation",
    "doc_id",
    "paragraph",
    "paragraph_class",
    "score",
    "date",
    "origin",
    "title",
    "highlight_text",
    "text",
)


def format_option(
    json_help: str, default_help: str = "text"
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--format`` (one of ``FORMATS``) and ``--json``, its short form, given to the
    command as one parameter ``fmt`` (None when neither is given). The two disagreeing
    (``--json --format csv``) is a usage error (exit 2), not a silent choice of one."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(fn)
        def settled(*args: Any, json_: bool, fmt: str | None, **kwargs: Any) -> Any:
            if json_ and fmt not in (None, "json"):
                raise click.UsageError(f"--json means --format json, not --format {fmt}")
            return fn(*args, fmt="json" if json_ else fmt, **kwargs)

        command = click.option(
            "json_", "--json", is_flag=True, help=f"{json_help} Short for --format json."
        )(settled)
        return click.option(
            "fmt",
            "--format",
            type=click.Choice(FORMATS),
            default=None,
            help=f"Output format [default: {default_help}].",
        )(command)

    return decorate


def error_payload(question: str, message: str) -> dict[str, object]:
    """A question of ``qa ask -`` that could not be searched, in the JSON shape."""
    return {"question": question, "error": message, "results": []}


def json_text(payload: object) -> str:
    """One line of JSON (corpus text as UTF-8, not ``\\u`` escapes) with its newline."""
    return json.dumps(payload, ensure_ascii=False) + "\n"


def highlight_text(hit: Hit) -> str:
    """The highlighted sentence, verbatim from the passage; empty when none."""
    if hit.highlight is None:
        return ""
    start, end = hit.highlight
    return hit.text[start:end]


def csv_row(question: str, hit: Hit) -> list[object]:
    """One result as ``CSV_COLUMNS`` values (None is an empty cell)."""
    return [
        question,
        hit.rank,
        hit.citation,
        hit.doc_id,
        hit.paragraph,
        hit.paragraph_class,
        round(hit.score, 6),
        hit.date,
        hit.origin,
        hit.title,
        highlight_text(hit),
        hit.text,
    ]


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """``rows`` written by ``csv.writer`` with its defaults."""
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def answer_markdown(
    answer: Answer, mode: Mode | str, filters: Filters, number: int | None = None
) -> str:
    """One answered question as the TUI's export writes a turn (``qa.markdown``)."""
    title = one_line(answer.question)
    lines = turn_markdown(
        f"{number}. {title}" if number else title,
        [search_line(mode, filters)],
        answer.hits,
        cited_answer(answer),
        answer.relevant,
    )
    return "\n".join(lines).rstrip() + "\n"


def error_markdown(
    question: str, message: str, mode: Mode | str, filters: Filters, number: int | None
) -> str:
    """A question that could not be searched, as a turn saying why."""
    title = one_line(question)
    title = f"{number}. {title}" if number else title
    lines = turn_markdown(title, [search_line(mode, filters)], [], None, error=message)
    return "\n".join(lines).rstrip() + "\n"


@dataclass
class AnswerWriter:
    """The text each format writes for a run of ``qa ask``: ``opening()``, then one
    ``answer()`` or ``failure()`` per question, then ``closing()``.

    ``batch`` (``qa ask -``) changes what is whole: CSV has one header for every
    question, JSON is one array of their objects, Markdown numbers the questions.
    """

    fmt: str
    mode: Mode | str
    filters: Filters
    batch: bool = False
    _count: int = 0
    _collected: list[dict[str, object]] = field(default_factory=list)

    def opening(self) -> str:
        return csv_text([CSV_COLUMNS]) if self.fmt == "csv" else ""

    def answer(self, answer: Answer, took_ms: float) -> str:
        self._count += 1
        if self.fmt == "csv":
            return csv_text(csv_row(answer.question, hit) for hit in answer.hits)
        if self.fmt == "markdown":
            return self._separator() + answer_markdown(
                answer, self.mode, self.filters, self._count if self.batch else None
            )
        from qa.cli.output import answer_json  # Rich: loaded only to answer

        return self._json(answer_json(answer, took_ms))

    def failure(self, question: str, message: str) -> str:
        """What the output says of a question that could not be searched (CSV: nothing;
        the caller reports it on stderr)."""
        self._count += 1
        if self.fmt == "csv":
            return ""
        if self.fmt == "markdown":
            number = self._count if self.batch else None
            return self._separator() + error_markdown(
                question, message, self.mode, self.filters, number
            )
        return self._json(error_payload(question, message))

    def closing(self) -> str:
        if self.fmt == "json" and self.batch:
            return json_text(self._collected)
        return ""

    def _json(self, payload: dict[str, object]) -> str:
        if self.fmt == "json" and self.batch:
            self._collected.append(payload)
            return ""
        return json_text(payload)

    def _separator(self) -> str:
        return "\n" if self._count > 1 else ""


def eval_rows(results: dict[str, ModeResult]) -> list[dict[str, object]]:
    """The eval table as rows: ``mode``, ``kind`` (``all``, then each question kind when
    there are several), one value per metric: what the text table shows."""
    from qa.evaluate import METRICS

    rows: list[dict[str, object]] = []
    for mode, result in results.items():
        kinds = [("all", result.overall)]
        if len(result.by_kind) > 1:
            kinds += list(result.by_kind.items())
        for kind, values in kinds:
            rows.append({"mode": mode, "kind": kind, **{m: values[m] for m in METRICS}})
    return rows


def eval_text(fmt: str, name: str, questions: int, results: dict[str, ModeResult]) -> str:
    """The eval table in ``fmt`` (jsonl, csv, markdown): the rows of ``eval_rows``."""
    rows = eval_rows(results)
    columns = list(rows[0]) if rows else ["mode", "kind"]
    if fmt == "jsonl":
        return "".join(json_text(row) for row in rows)
    if fmt == "csv":
        return csv_text([columns, *([row[c] for c in columns] for row in rows)])
    lines = [f"**{one_line(name)}**: {questions} questions", ""]
    lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [f"{v:.3f}" if isinstance(v, float) else _cell(str(v)) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text fit for one Markdown table cell: one line, its pipes escaped."""
    return one_line(text).replace("|", "\\|")
