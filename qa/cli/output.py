"""How the CLI shows things: answers, documents, index summaries, progress.

Corpus text is data, never markup: it goes through ``rich.text.Text`` (so ``[bold]`` in a
cable stays literal) after terminal control sequences are removed.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from qa.models import Document, Passage, marking
from qa.search.answer import cited_answer
from qa.text import one_line, reflow, terminal_safe

if TYPE_CHECKING:
    from qa.evaluate import ModeResult
    from qa.index import IndexSummary
    from qa.models import Answer

stdout = Console(highlight=False, markup=False, emoji=False, soft_wrap=not sys.stdout.isatty())
stderr = Console(stderr=True, highlight=False, markup=False, emoji=False)


def print_index_summary(summary: IndexSummary) -> None:
    if summary.rebuilt:
        stderr.print(f"note: {summary.rebuilt}")
    if summary.resumed:
        stderr.print(f"note: {summary.resumed}", soft_wrap=True)
    sentences = summary.sentences_embedded
    extra = f" (and sentence vectors for {sentences} passages)" if sentences else ""
    stderr.print(
        f"{summary.documents} documents, {summary.passages} passages "
        f"(added {summary.added}, changed {summary.changed}, removed {summary.removed}, "
        f"unchanged {summary.unchanged}, skipped {summary.skipped}); "
        f"embedded {summary.passages_embedded} texts{extra} in {summary.seconds:.1f} s; "
        f"generation {summary.generation}",
        soft_wrap=True,
    )
    if summary.embedded_on:
        spread = ", ".join(f"{where} {count}" for where, count in summary.embedded_on.items())
        restarts = summary.embed_restarts
        stderr.print(
            f"on Ray: {spread} texts; {restarts} worker restart{'s' * (restarts != 1)}"
            + (" (their batches retried)" if restarts else ""),
            soft_wrap=True,
        )


def answer_json(answer: Answer, took_ms: float) -> dict[str, object]:
    """The documented JSON object of one answered question."""
    return {
        "question": answer.question,
        "answer": [part.to_json() for part in cited_answer(answer).parts],
        "results": [h.to_json() for h in answer.hits],
        "relevant": answer.relevant,
        "best_similarity": None
        if math.isnan(answer.best_similarity)
        else round(answer.best_similarity, 4),
        "took_ms": round(took_ms, 1),
    }


def print_answer(answer: Answer, took_ms: float) -> None:
    stdout.print(answer_line(answer), end="\n\n" if answer.hits else "\n")
    if not answer.hits:
        stderr.print(f"No passage matches {terminal_safe(answer.question)!r}.")
        return
    if not answer.relevant:
        stderr.print(
            Text(
                "Nothing in the index looks relevant to this question (best similarity "
                f"{answer.best_similarity:.2f}); the closest passages are shown anyway.",
                style="yellow",
            )
        )
    for hit in answer.hits:
        header = Text()
        header.append(f"{hit.rank}. ", style="dim")
        header.append(hit.cited_as, style="bold cyan")
        header.append(f"  {terminal_safe(hit.title)}", style="bold")
        # Articles have none of these: name the source file, never an empty line.
        meta = " · ".join(x for x in (hit.date[:10], hit.origin, hit.classification) if x)
        meta = terminal_safe(meta or hit.source)
        header.append(f"\n   {meta}  score {hit.score:.3f}", style="dim")
        stdout.print(header)
        stdout.print(_passage_text(hit.text, hit.highlight), end="\n\n")
    stderr.print(Text(f"{len(answer.hits)} results in {took_ms:.0f} ms", style="dim"))


def answer_line(answer: Answer) -> Text:
    """The first line of ``qa ask``: the cited answer's sentences (``qa.search.answer``),
    whitespace collapsed, each followed by its citation; or why there is none."""
    line = cited_answer(answer)
    out = Text("Answer: ", style="bold")
    if not line.parts:
        out.append(line.note, style="yellow")
    for i, part in enumerate(line.parts):
        out.append(("" if i == 0 else " ") + one_line(part.text))
        out.append(f" [{one_line(part.shown_citation)}]", style="bold cyan")
    return out


def _passage_text(text: str, highlight: tuple[int, int] | None) -> Text:
    """The passage reflowed, with the highlighted sentence in bold."""
    if highlight is None:
        return Text("   " + reflow(terminal_safe(text)))
    start, end = highlight
    out = Text("   ")
    out.append(reflow(terminal_safe(text[:start])) + " " if start else "")
    out.append(reflow(terminal_safe(text[start:end])), style="bold yellow")
    rest = reflow(terminal_safe(text[end:]))
    out.append(" " + rest if rest else "")
    return out


def print_document(doc: Document, passages: Sequence[Passage], as_json: bool) -> None:
    if as_json:
        data = {
            "doc_id": doc.doc_id,
            "title": doc.title,
            "date": doc.date,
            "origin": doc.origin,
            "classification": doc.classification,
            "tags": list(doc.tags),
            "source": doc.source,
            "classified_by": doc.classified_by,
            "reasons": doc.reasons,
            "declassify_on": doc.declassify_on,
            "passages": [
                {
                    "citation": p.citation(doc.doc_id),
                    "label": p.label,
                    "paragraph": p.paragraph,
                    "heading": p.heading,
                    "text": p.text,
                    "start": p.start,
                    "end": p.end,
                    "paragraph_class": p.paragraph_class,
                }
                for p in passages
            ],
        }
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        return
    head = Text(terminal_safe(doc.doc_id), style="bold cyan")
    head.append(f"  {terminal_safe(doc.title)}", style="bold")
    meta = " · ".join(
        x for x in (doc.date, doc.origin, doc.classification, " ".join(doc.tags)) if x
    )
    head.append(f"\n{terminal_safe(meta or doc.source)}", style="dim")  # never blank
    authority = _authority_line(doc)
    if authority:
        head.append(f"\n{terminal_safe(authority)}", style="dim")
    stdout.print(head, end="\n\n")
    for p in passages:
        shown = marking(p.paragraph_class, doc.kind, p.paragraph)
        label = Text(f"{p.label} ({shown})" if shown else p.label, style="bold cyan")
        if p.heading:
            label.append(f"  {terminal_safe(p.heading)}", style="italic")
        stdout.print(label)
        stdout.print(Text(reflow(terminal_safe(p.text))), end="\n\n")


def _authority_line(doc: Document) -> str:
    """``Classified by X · reasons 1.4 (b) and (d) · declassify on 2017-11-07``, with
    only the parts the cable gives ("" for an article, or a cable that says none)."""
    parts = [
        f"Classified by {doc.classified_by}" if doc.classified_by else "",
        f"reasons {doc.reasons}" if doc.reasons else "",
        f"declassify on {doc.declassify_on}" if doc.declassify_on else "",
    ]
    return " · ".join(part for part in parts if part)


def print_eval_table(name: str, questions: int, results: dict[str, ModeResult]) -> None:
    """One row per mode and question kind, metrics as columns."""
    from rich.table import Table

    from qa.evaluate import METRICS

    table = Table(title=f"{name}: {questions} questions", title_justify="left")
    table.add_column("mode")
    table.add_column("kind")
    for metric in METRICS:
        table.add_column(metric, justify="right")
    for mode, result in results.items():
        table.add_row(mode, "all", *(f"{result.overall[m]:.3f}" for m in METRICS))
        if len(result.by_kind) > 1:
            for kind, values in result.by_kind.items():
                table.add_row("", kind, *(f"{values[m]:.3f}" for m in METRICS), style="dim")
    stdout.print(table)
