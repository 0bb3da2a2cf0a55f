"""``qa eval``: retrieval quality on a question set with gold citations."""

from __future__ import annotations

import json
from pathlib import Path

import click

from qa.cli.formats import eval_text, format_option
from qa.cli.group import cli, user_errors
from qa.cli.options import index_option
from qa.models import Hit, Mode


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
@format_option("Print the metrics as one JSON object.")
@click.option(
    "--runs-out", type=click.Path(dir_okay=False, path_type=Path), help="Write a TREC run file."
)
@user_errors
def eval_(
    questions: Path,
    mode: str,
    k: int,
    index_dir: Path | None,
    fmt: str | None,
    runs_out: Path | None,
) -> None:
    """Score retrieval on QUESTIONS: our JSONL file (over --index) or a BEIR folder.

    A BEIR folder's corpus is indexed into a cached index of its own
    ($PILCROW_EVAL_CACHE, default ./.cache/eval) the first time.
    Metrics: Recall@1/5/10, MRR@10, nDCG@10, overall and per question kind;
    --format jsonl, csv and markdown give the table's rows (mode, kind, metrics).
    """
    from qa.cli.output import print_eval_table
    from qa.cli.progress import cli_progress
    from qa.evaluate import EVAL_ORDER, evaluate, load_eval_set, write_trec_run
    from qa.factory import index_beir, open_searcher

    evalset = load_eval_set(questions)
    if evalset.corpus is not None:
        index_dir = index_beir(evalset.corpus, progress=cli_progress())
    searcher = open_searcher(index_dir)
    modes = list(EVAL_ORDER) if mode == "all" else [Mode(mode)]
    progress = cli_progress()
    progress.start(len(evalset.questions) * len(modes), "questions")

    def search(text: str, depth: int, m: Mode) -> list[Hit]:
        return searcher.ask(text, k=depth, mode=m, highlight=False).hits

    results = evaluate(search, evalset, modes, k, on_question=lambda: progress.advance(1))
    progress.finish()
    if runs_out:
        write_trec_run(runs_out, results)
    if fmt == "json":  # --json or --format json: the metrics object
        payload = {
            "questions": len(evalset.questions),
            "modes": {m: r.to_json() for m, r in results.items()},
        }
        click.echo(json.dumps(payload))
    elif fmt in (None, "text"):
        print_eval_table(evalset.name, len(evalset.questions), results)
    else:
        click.echo(eval_text(fmt, evalset.name, len(evalset.questions), results), nl=False)
