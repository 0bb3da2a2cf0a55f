"""``qa ask`` and ``qa show``: questions to cited passages, and a stored document by ID."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from qa import locations
from qa.cli.formats import format_option
from qa.cli.group import cli, user_errors
from qa.cli.options import filter_options, index_option, mode_option
from qa.errors import UsageError
from qa.models import Answer, Filters
from qa.text import one_line

if TYPE_CHECKING:
    from qa.cli.formats import AnswerWriter


@cli.command()
@click.argument("question")
@click.option("-k", "k", type=click.IntRange(1, 100), default=5, show_default=True, help="Results.")
@mode_option
@filter_options
@index_option
@format_option(
    "One JSON object per question (with `-`: a JSON array of them).", "text; with `-`: jsonl"
)
@click.option("--no-highlight", is_flag=True, help="Skip the best-sentence highlight.")
@user_errors
def ask(
    question: str,
    k: int,
    mode: str,
    index_dir: Path | None,
    fmt: str | None,
    no_highlight: bool,
    **filter_values: str | None,
) -> None:
    """Ask QUESTION and print the best passages with citations.

    QUESTION `-` reads one question per line from stdin (the model loads once) and
    prints JSON Lines unless --format says otherwise (csv: one header, then the rows of
    every question).
    """
    from qa.cli.formats import AnswerWriter
    from qa.factory import open_searcher

    batch = question == "-"
    fmt = fmt or ("jsonl" if batch else "text")
    filters = Filters(**filter_values)
    searcher = open_searcher(index_dir)
    writer = AnswerWriter(fmt, mode, filters, batch=batch)
    _write(writer.opening())
    for number, line in enumerate(sys.stdin if batch else [question], 1):
        text = line.strip()
        if batch and not text:
            continue
        started = time.perf_counter()
        try:
            answer = searcher.ask(text, k=k, mode=mode, filters=filters, highlight=not no_highlight)
        except UsageError as exc:
            if not batch:
                raise
            _failed(writer, fmt, f"line {number}", text, str(exc))
            continue
        took_ms = (time.perf_counter() - started) * 1000
        if fmt == "text":
            _print_text(answer, took_ms, batch)
        else:
            _write(writer.answer(answer, took_ms))
    _write(writer.closing())


def _write(text: str) -> None:
    """Data on stdout exactly as rendered: CSV rows keep the csv module's ``\\r\\n``, and
    nothing is stripped (``click.echo`` would strip what looks like ANSI codes)."""
    if text:
        sys.stdout.write(text)


def _failed(writer: AnswerWriter, fmt: str, where: str, question: str, message: str) -> None:
    """A batch question that could not be searched: in the output where the format has a
    place for it (JSON's ``error``, a Markdown turn), and on stderr for text and CSV."""
    if fmt in ("text", "csv"):
        click.echo(f"Error: {where}: {one_line(message)}", err=True)
    if fmt != "text":
        _write(writer.failure(question, message))


def _print_text(answer: Answer, took_ms: float, batch: bool) -> None:
    """The Rich text output; in a batch, each answer under its question."""
    from rich.text import Text

    from qa.cli.output import print_answer, stdout

    if batch:
        stdout.print(Text(f"Question: {one_line(answer.question)}", style="bold"))
    print_answer(answer, took_ms)
    if batch:
        stdout.print()


@cli.command()
@click.argument("doc_id")
@click.option("--paragraph", "-p", type=int, default=None, help="Only paragraph ¶N.")
@index_option
@click.option("json_", "--json", is_flag=True, help="Print the document as JSON.")
@user_errors
def show(doc_id: str, paragraph: int | None, index_dir: Path | None, json_: bool) -> None:
    """Print a stored document (or one paragraph of it) with its ¶ labels."""
    from qa.cli.output import print_document
    from qa.errors import QAError as _QAError
    from qa.store import connect, get_document

    db = connect(locations.db_path(index_dir or locations.index_dir()), readonly=True)
    doc = get_document(db, doc_id)
    if doc is None:
        raise _QAError(f"no document {doc_id!r} in the index (try `qa ask` or check the ID)")
    passages = doc.passages
    if paragraph is not None:
        passages = [p for p in passages if p.paragraph == paragraph]
        if not passages:
            labels = ", ".join(p.label for p in doc.passages)
            raise _QAError(f"{doc.doc_id} has no ¶{paragraph}; it has {labels}")
    print_document(doc, passages, json_)
