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
@click.option(
    "--allow-removal",
    is_flag=True,
    help="Let this run remove every document, or more than half (and 3 or more) of them.",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Embed on Ray: alone, a local Ray on this machine; with an address, that cluster "
    "[default: $PILCROW_RAY_ADDRESS; needs pilcrow[ray], docs/scale.md].",
)
@click.option(
    "--device",
    type=click.Choice(locations.DEVICES),
    default=None,
    help="Where the model runs: cpu or cuda (a GPU; an error if there is none) "
    "[default: $PILCROW_DEVICE or cpu].",
)
@click.option("json_", "--json", is_flag=True, help="Print the summary as one JSON object.")
@user_errors
def index(
    corpus_dir: Path | None,
    index_dir: Path | None,
    model: str | None,
    json_: bool,
    check: bool,
    ray_address: str | None,
    device: str | None,
    **run: bool,
) -> None:
    """Index a corpus folder incrementally (only new or changed files are parsed and embedded).

    A run that would remove every indexed document, or more than half of them (and at
    least 3), is refused (exit 2) unless --allow-removal is given: an empty, unmounted or
    mistyped corpus folder looks just like deleting every file. A folder or file that
    cannot be read is named on stderr and its documents are kept.

    Exit codes: 0 done, 1 (with --check) a file of the index this user may not read,
    2 bad usage (no such corpus folder, a removal refused), 3 done but some files or
    folders were skipped (listed on stderr), 5 (with --check) the index is damaged.
    """
    from qa.cli.output import print_index_summary
    from qa.cli.progress import cli_progress
    from qa.embed import check_device
    from qa.factory import build_index
    from qa.index import RunOptions
    from qa.index.ray_stage import check_reachable, require_ray

    if check:
        _check_index(index_dir or locations.index_dir(), json_)
        return

    ray_address = ray_address or locations.ray_address()
    device = device or locations.embed_device()
    if ray_address:
        require_ray()
        check_reachable(ray_address)
    check_device(device, here=not ray_address)  # on Ray, the cluster's GPUs are checked
    options = RunOptions(progress=cli_progress(), ray_address=ray_address, device=device, **run)
    summary = build_index(corpus_dir, index_dir, model, options=options)
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
        for note in report.notes:
            click.echo(f"note: {note}", err=True)
        click.echo("ok" if report.ok else "damaged: run `qa index --rebuild`")
    if not report.ok:
        sys.exit(ExitCode.INDEX_DAMAGED)
