"""``qa ask`` and ``qa show``: questions to cited passages, and a stored document by ID."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from qa import locations
from qa.cli.group import cli, user_errors
from qa.cli.options import filter_options, index_option, mode_option
from qa.errors import UsageError
from qa.models import Filters


@cli.command()
@click.argument("question")
@click.option("-k", "k", type=click.IntRange(1, 100), default=5, show_default=True, help="Results.")
@mode_option
@filter_options
@index_option
@click.option("json_", "--json", is_flag=True, help="One JSON object per question.")
@click.option("--no-highlight", is_flag=True, help="Skip the best-sentence highlight.")
@user_errors
def ask(
    question: str,
    k: int,
    mode: str,
    index_dir: Path | None,
    json_: bool,
    no_highlight: bool,
    **filter_values: str | None,
) -> None:
    """Ask QUESTION and print the best passages with citations.

    QUESTION `-` reads one question per line from stdin and prints JSON Lines
    (the model loads once).
    """
    from qa.cli.output import answer_json, print_answer
    from qa.factory import open_searcher

    filters = Filters(**filter_values)
    searcher = open_searcher(index_dir)
    batch = question == "-"
    for line in sys.stdin if batch else [question]:
        text = line.strip()
        if batch and not text:
            continue
        started = time.perf_counter()
        try:
            answer = searcher.ask(text, k=k, mode=mode, filters=filters, highlight=not no_highlight)
        except UsageError as exc:
            if not batch:
                raise
            click.echo(json.dumps({"question": text, "error": str(exc), "results": []}))
            continue
        took_ms = (time.perf_counter() - started) * 1000
        if json_ or batch:
            click.echo(json.dumps(answer_json(answer, took_ms), ensure_ascii=False))
        else:
            print_answer(answer, took_ms)


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
