"""``qa paths`` and ``qa audit``: what is in effect, and how a corpus's ¶ anchors were read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from qa import locations
from qa.cli.group import cli, user_errors


@cli.command()
@click.option("json_", "--json", is_flag=True, help="Print as JSON.")
def paths(json_: bool) -> None:
    """Show the corpus, index and model in effect, and every PILCROW_* environment variable.

    Paths are absolute: they say where the data is whatever the current folder.
    """
    index = Path(os.path.abspath(locations.index_dir()))
    values: dict[str, object] = {
        "corpus": os.path.abspath(locations.corpus_dir()),
        "index": str(index),
        "database": str(locations.db_path(index)),
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
