"""``qa refs``: what a cable cites (its REF items) and which indexed cables cite it."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.text import Text

from qa import locations
from qa.cli.group import cli, user_errors
from qa.cli.options import index_option
from qa.models import Document


def references_json(
    doc: Document, in_index: set[str], cited_by: list[tuple[str, str | None]]
) -> dict[str, object]:
    """The documented JSON object of ``qa refs``: each REF item resolved (``doc_id`` the
    cable it names, or null when it is not a cable; ``in_index`` whether that cable is
    indexed), then the indexed REF items that name this document."""
    return {
        "doc_id": doc.doc_id,
        "cites": [
            {
                "letter": r.letter,
                "raw": r.raw,
                "doc_id": r.target,
                "in_index": r.target in in_index,
            }
            for r in doc.references
        ],
        "cited_by": [{"doc_id": doc_id, "letter": letter} for doc_id, letter in cited_by],
    }


def references_text(data: dict[str, object]) -> list[Text]:
    """The same, as lines for the terminal (corpus text never read as markup)."""
    from qa.text import terminal_safe

    cites = data["cites"]
    cited_by = data["cited_by"]
    assert isinstance(cites, list) and isinstance(cited_by, list)
    lines = [Text(f"{data['doc_id']} cites {len(cites)}:", style="bold")]
    for item in cites:
        line = Text(f"  {item['letter'] or '-'}. ", style="dim")
        line.append(terminal_safe(item["raw"]))
        if item["doc_id"] is None:
            line.append("  (not a cable)", style="dim")
        elif item["in_index"]:
            line.append(f"  → {item['doc_id']}", style="bold cyan")
        else:
            line.append(f"  → {item['doc_id']} (not in this corpus)", style="dim")
        lines.append(line)
    lines.append(Text(f"cited by {len(cited_by)}:", style="bold"))
    for item in cited_by:
        letter = f" (ref {item['letter']})" if item["letter"] else ""
        lines.append(Text(f"  {item['doc_id']}{letter}", style="cyan"))
    return lines


@cli.command()
@click.argument("doc_id")
@index_option
@click.option("json_", "--json", is_flag=True, help="Print as JSON.")
@user_errors
def refs(doc_id: str, index_dir: Path | None, json_: bool) -> None:
    """Show the cables DOC_ID cites (its REF items, each resolved in the index or marked
    not in this corpus) and the indexed cables that cite it."""
    from qa.cli.output import stdout
    from qa.errors import QAError
    from qa.store import citing, connect, get_document, indexed_doc_ids

    db = connect(locations.db_path(index_dir or locations.index_dir()), readonly=True)
    try:
        doc = get_document(db, doc_id)
        if doc is None:
            raise QAError(f"no document {doc_id!r} in the index (try `qa ask` or check the ID)")
        targets = [r.target for r in doc.references if r.target]
        data = references_json(doc, indexed_doc_ids(db, targets), citing(db, doc.doc_id))
    finally:
        db.close()
    if json_:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    for line in references_text(data):
        stdout.print(line)
