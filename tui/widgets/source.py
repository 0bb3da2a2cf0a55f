"""The source pane: a whole document with its ¶ labels (and each paragraph's own
marking), the cited paragraph highlighted, and the cable's references: one line per REF
item, and enter (or a click) on one opens the cable it names, when it is indexed."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from qa.ingest.markings import opening_end
from qa.models import Document, Hit, Passage, Reference, marking
from qa.text import one_line
from tui.render import CITATION_STYLE, MUTED_STYLE, passage_content


def cited_index(document: Document, hit: Hit | None) -> int | None:
    """Which passage the hit cites: same label and text (labels can repeat), else label."""
    if hit is None:
        return None
    for i, passage in enumerate(document.passages):
        if passage.label == hit.label and passage.text == hit.text:
            return i
    return next((i for i, p in enumerate(document.passages) if p.label == hit.label), None)


def document_header(document: Document) -> Content:
    """ID and title; date, origin, classification, tags; who classified it, why and until
    when (where the cable says); source file."""
    meta = [document.date[:10], document.origin, document.classification]
    if document.tags:
        meta.append("TAGS " + " ".join(document.tags))
    parts: list[str | tuple[str, str]] = [(one_line(document.doc_id), CITATION_STYLE)]
    if document.title.strip():
        parts.append(("  " + one_line(document.title), "bold"))
    described = " · ".join(one_line(x) for x in meta if x.strip())
    if described:
        parts.append("\n" + described)
    authority = [
        f"Classified by {document.classified_by}" if document.classified_by else "",
        f"reasons {document.reasons}" if document.reasons else "",
        f"declassify on {document.declassify_on}" if document.declassify_on else "",
    ]
    if any(authority):
        parts.append(("\n" + " · ".join(one_line(x) for x in authority if x), MUTED_STYLE))
    parts.append(("\n" + one_line(document.source) + " · esc closes", MUTED_STYLE))
    return Content.assemble(*parts)


class ParagraphView(Static):
    """One passage: its label (unless the text starts with it) and section heading, then
    its text; the cited one gets the ``-cited`` class and its best sentence emphasised."""

    def __init__(
        self, passage: Passage, cited: bool, highlight: tuple[int, int] | None, kind: str = ""
    ) -> None:
        label_style = CITATION_STYLE if cited else "bold"
        text = passage_content(passage.text, highlight if cited else None)
        lines: list[Content] = []
        if passage.heading.strip():
            lines.append(Content.styled(one_line(passage.heading), "bold italic"))
        if text.plain.startswith(passage.label):  # "¶3. (SBU) ...": label and marking styled
            lead = opening_end(text.plain) if passage.paragraph_class else len(passage.label)
            text = text.stylize(label_style, 0, lead)
        else:
            shown = marking(passage.paragraph_class, kind, passage.paragraph)
            label = f"{passage.label} ({shown})" if shown else passage.label
            lines.append(Content.styled(label, label_style))
        super().__init__(Content("\n").join([*lines, text]), classes="paragraph")
        self.passage = passage
        self.set_class(cited, "-cited")


def reference_content(reference: Reference, indexed: bool) -> Content:
    """``REF A. 05 PARIS 7528 AND PREVIOUS → 05PARIS7528``, or why it cannot be opened."""
    letter = f"{reference.letter}. " if reference.letter else ""
    parts: list[str | tuple[str, str]] = [("REF " + letter, MUTED_STYLE), one_line(reference.raw)]
    if reference.target is None:
        parts.append(("  (not a cable)", MUTED_STYLE))
    elif indexed:
        parts.append(("  → " + reference.target, CITATION_STYLE))
    else:
        parts.append((f"  → {reference.target} (not in this corpus)", MUTED_STYLE))
    return Content.assemble(*parts)


class ReferenceLink(Static, can_focus=True):
    """One REF item of the shown cable; enter or a click opens the cable it names."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "open", "Open reference", show=False)]

    @dataclass
    class Chosen(Message):
        """Open ``doc_id`` (a referenced cable) in the source pane."""

        doc_id: str

    def __init__(self, reference: Reference, indexed: bool) -> None:
        super().__init__(reference_content(reference, indexed), classes="reference")
        self.reference = reference
        self.indexed = indexed

    def action_open(self) -> None:
        if self.reference.target is not None:
            self.post_message(self.Chosen(self.reference.target))

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.action_open()


class SourcePane(Vertical):
    """Shows one document; ``doc_id``, ``cited`` and ``cited_label`` describe what is shown."""

    DEFAULT_CSS = """
    SourcePane { height: 1fr; }
    SourcePane #source-header { padding: 0 1; }
    SourcePane #source-body { height: 1fr; }
    SourcePane .paragraph { padding: 0 1; margin-bottom: 1; }
    SourcePane .reference { padding: 0 1; }
    SourcePane .reference:focus { background: $boost; }
    SourcePane .reference.-last { margin-bottom: 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.doc_id: str | None = None
        self.cited: ParagraphView | None = None

    @property
    def cited_label(self) -> str | None:
        return self.cited.passage.label if self.cited else None

    def compose(self) -> ComposeResult:
        yield Static(id="source-header")
        yield VerticalScroll(id="source-body")

    async def show(
        self, document: Document, hit: Hit | None, indexed: Collection[str] = ()
    ) -> None:
        """Replace the content with ``document``, scrolled to the paragraph ``hit`` cites
        (the top without one: a referenced cable); ``indexed``: which of the cables its
        references name are in the index (those can be opened)."""
        self.doc_id = document.doc_id
        self.query_one("#source-header", Static).update(document_header(document))
        body = self.query_one("#source-body", VerticalScroll)
        await body.remove_children()
        target = cited_index(document, hit)
        highlight = hit.highlight if hit is not None else None
        links = [ReferenceLink(r, r.target in indexed) for r in document.references]
        if links:
            links[-1].add_class("-last")
        views = [
            ParagraphView(p, i == target, highlight, document.kind)
            for i, p in enumerate(document.passages)
        ]
        await body.mount_all([*links, *views])
        self.cited = views[target] if target is not None else None
        if self.cited is not None:
            cited = self.cited
            self.call_after_refresh(body.scroll_to_widget, cited, animate=False, top=True)
        else:
            body.scroll_home(animate=False)
