"""The ``qa`` command: index, ask, show, paths, audit, eval (and ``tui`` from the UI package).

stdout carries only data (answers, JSON); progress, warnings and errors go to stderr.
Every ``QAError`` becomes one line on stderr and its exit code; heavy imports (torch,
FAISS, Textual) happen inside commands, so ``qa --help`` stays fast.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from functools import cache, wraps
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from qa import __version__, locations
from qa.errors import ExitCode, QAError, UsageError
from qa.models import DATE_FORMAT, FILTER_FIELDS, Filters, Hit, Mode

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")
PLUGIN_GROUP = "qa.commands"


class QAGroup(click.Group):
    """Built-in commands plus ones other packages register (the TUI adds ``qa tui``).

    Entry points are only consulted for names that are not built in, so the core never
    imports the UI and ``qa ask`` pays nothing for plugin discovery.
    """

    def _plugins(self) -> dict[str, Any]:
        return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP)}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and (ep := self._plugins().get(cmd_name)):
            loaded = ep.load()
            return loaded if isinstance(loaded, click.Command) else None
        return command


class UserError(click.ClickException):
    """A QAError on its way out as one line on stderr; ``user_error`` gives its exit code."""

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


@cache
def _error_class(code: int) -> type[UserError]:
    """A UserError whose exit code is ``code`` (click declares ``exit_code`` on the class)."""
    return type(f"UserError{code}", (UserError,), {"exit_code": code})


def user_error(error: QAError) -> UserError:
    """The click exception that prints ``error`` and exits with its code."""
    return _error_class(int(error.exit_code))(str(error))


def user_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn ``QAError`` into a one-line message and its exit code."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except QAError as exc:
            raise user_error(exc) from exc
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)

    return wrapper


def index_option(fn: F) -> F:
    return click.option(
        "--index",
        "index_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Index folder [default: $PILCROW_INDEX or ./index].",
    )(fn)


def filter_options(fn: F) -> F:
    """The metadata filters of ``ask``, one option per ``qa.models.FILTER_FIELDS`` entry."""
    for field in reversed(FILTER_FIELDS):
        metavar = DATE_FORMAT if field.is_date else None
        fn = click.option(field.flag, field.name, metavar=metavar, help=field.help)(fn)
    return fn


def mode_option(fn: F) -> F:
    return click.option(
        "--mode",
        type=click.Choice([mode.value for mode in Mode]),
        default=Mode.HYBRID.value,
        show_default=True,
        help="Dense (embeddings), lexical (BM25) or both fused.",
    )(fn)


@click.group(cls=QAGroup)
@click.version_option(__version__, prog_name="qa")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
def cli(verbose: int) -> None:
    """Pilcrow: ask questions of a document archive, get paragraphs with exact citations.

    \b
    Quick start:
      qa index                 # index ./corpus into ./index
      qa ask "How much did Kazakhstan seek in damages?"
      qa show 07MOSCOW5292 --paragraph 3
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if verbose < 2:
        for noisy in ("sentence_transformers", "transformers", "httpx", "huggingface_hub"):
            logging.getLogger(noisy).setLevel(logging.ERROR)


@cli.command()
@click.option(
    "--corpus",
    "corpus_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Corpus folder [default: $PILCROW_CORPUS or ./corpus].",
)
@index_option
@click.option("--model", default=None, help="sentence-transformers model name or folder.")
@click.option("--rebuild", is_flag=True, help="Throw the index away and build it again.")
@click.option("--wait", is_flag=True, help="Wait for another running `qa index` to finish.")
@click.option("--check", is_flag=True, help="Verify the index is whole and consistent; no update.")
@click.option("json_", "--json", is_flag=True, help="Print the summary as one JSON object.")
@user_errors
def index(
    corpus_dir: Path | None,
    index_dir: Path | None,
    model: str | None,
    rebuild: bool,
    wait: bool,
    check: bool,
    json_: bool,
) -> None:
    """Index a corpus folder incrementally (only new or changed files are parsed and embedded).

    Exit codes: 0 done, 3 done but some files were skipped (listed on stderr),
    5 (with --check) the index is damaged.
    """
    from qa.cli_output import RichProgress, print_index_summary
    from qa.factory import build_index

    if check:
        _check_index(index_dir or locations.index_dir(), json_)
        return

    progress = RichProgress()
    summary = build_index(
        corpus_dir, index_dir, model, rebuild=rebuild, wait=wait, progress=progress
    )
    if json_:
        click.echo(json.dumps(summary.to_json()))
    else:
        print_index_summary(summary)
    if summary.skipped:
        sys.exit(ExitCode.PARTIAL)


def _check_index(index_dir: Path, json_: bool) -> None:
    from qa.check import check_index

    report = check_index(index_dir)
    if json_:
        click.echo(json.dumps(report.to_json()))
    else:
        click.echo(
            f"{index_dir}: generation {report.generation}, {report.documents} documents, "
            f"{report.passages} passages, {report.vectors} vectors"
        )
        for problem in report.problems:
            click.echo(f"problem: {problem}", err=True)
        click.echo("ok" if report.ok else "damaged: run `qa index --rebuild`")
    if not report.ok:
        sys.exit(ExitCode.INDEX_DAMAGED)


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
    from qa.cli_output import answer_json, print_answer
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
    from qa.cli_output import print_document
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


@cli.command()
@click.option("json_", "--json", is_flag=True, help="Print as JSON.")
def paths(json_: bool) -> None:
    """Show the corpus, index and model in effect, and every PILCROW_* environment variable."""
    values: dict[str, object] = {
        "corpus": str(locations.corpus_dir()),
        "index": str(locations.index_dir()),
        "database": str(locations.db_path(locations.index_dir())),
        "model": locations.model_name(),
    }
    variables = {
        v.name: {"value": locations.value_of(v), "default": v.default, "sets": v.description}
        for v in locations.VARIABLES
    }
    if json_:
        click.echo(json.dumps({**values, "variables": variables}))
        return
    for key, value in values.items():
        click.echo(f"{key:9} {value}")
    click.echo("\nenvironment:")
    width = max(len(name) for name in variables)
    for name, info in variables.items():
        shown = f"= {info['value']}" if info["value"] is not None else f"unset ({info['default']})"
        click.echo(f"  {name:{width}}  {shown}  — {info['sets']}")


@cli.command()
@click.argument("corpus_dir", type=click.Path(file_okay=False, path_type=Path), required=False)
@click.option("json_", "--json", is_flag=True, help="Print the figures as JSON.")
@user_errors
def audit(corpus_dir: Path | None, json_: bool) -> None:
    """Count ¶ anchors present vs numbered paragraphs found, over every cable of a corpus."""
    from qa.audit import audit_corpus, format_report
    from qa.ingest import discover

    report = audit_corpus(discover(corpus_dir or locations.corpus_dir()))
    if json_:
        click.echo(json.dumps(report.to_json()))
    else:
        click.echo(format_report(report))


@cli.command(name="eval")
@click.argument("questions", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--mode",
    type=click.Choice([*(mode.value for mode in Mode), "all"]),
    default="all",
    show_default=True,
    help="Retrieval mode(s) to evaluate.",
)
@click.option("-k", "k", type=click.IntRange(1, 100), default=10, show_default=True)
@index_option
@click.option("json_", "--json", is_flag=True, help="Print the metrics as one JSON object.")
@click.option(
    "--runs-out", type=click.Path(dir_okay=False, path_type=Path), help="Write a TREC run file."
)
@user_errors
def eval_(
    questions: Path,
    mode: str,
    k: int,
    index_dir: Path | None,
    json_: bool,
    runs_out: Path | None,
) -> None:
    """Score retrieval on QUESTIONS: our JSONL file (over --index) or a BEIR folder.

    A BEIR folder's corpus is indexed into a cached index of its own
    ($PILCROW_EVAL_CACHE, default ./.cache/eval) the first time.
    Metrics: Recall@1/5/10, MRR@10, nDCG@10, overall and per question kind.
    """
    from qa.cli_output import RichProgress, print_eval_table
    from qa.evaluate import EVAL_ORDER, evaluate, load_eval_set, write_trec_run
    from qa.factory import index_beir, open_searcher

    evalset = load_eval_set(questions)
    if evalset.corpus is not None:
        index_dir = index_beir(evalset.corpus, progress=RichProgress())
    searcher = open_searcher(index_dir)
    modes = list(EVAL_ORDER) if mode == "all" else [Mode(mode)]
    progress = RichProgress()
    progress.start(len(evalset.questions) * len(modes), "questions")

    def search(text: str, depth: int, m: Mode) -> list[Hit]:
        return searcher.ask(text, k=depth, mode=m, highlight=False).hits

    results = evaluate(search, evalset, modes, k, on_question=lambda: progress.advance(1))
    progress.finish()
    if runs_out:
        write_trec_run(runs_out, results)
    if json_:
        payload = {
            "questions": len(evalset.questions),
            "modes": {m: r.to_json() for m, r in results.items()},
        }
        click.echo(json.dumps(payload))
    else:
        print_eval_table(evalset.name, len(evalset.questions), results)
