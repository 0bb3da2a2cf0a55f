"""``qa index``: build or update an index incrementally, or check it (``--check``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from qa import locations
from qa.cli.group import cli, user_errors
from qa.cli.options import index_option
from qa.errors import ExitCode


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
    from qa.cli.output import RichProgress, print_index_summary
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
