"""The source pane: a whole document with its ¶ labels, the cited paragraph highlighted."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Static

from qa.models import Document, Hit, Passage
from qa.text import one_line
from tui.render import CITATION_STYLE, MUTED_STYLE, passage_content


def cited_index(document: Document, hit: Hit) -> int | None:
    """Which passage the hit cites: same label and text (labels can repeat), else label."""
    for i, passage in enumerate(document.passages):
        if passage.label == hit.label and passage.text == hit.text:
            return i
    return next((i for i, p in enumerate(document.passages) if p.label == hit.label), None)


def document_header(document: Document) -> Content:
    """Three lines: ID and title; date, origin, classification, tags; source file."""
    meta = [document.date[:10], document.origin, document.classification]
    if document.tags:
        meta.append("TAGS " + " ".join(document.tags))
    parts: list[str | tuple[str, str]] = [(one_line(document.doc_id), CITATION_STYLE)]
    if document.title.strip():
        parts.append(("  " + one_line(document.title), "bold"))
    described = " · ".join(one_line(x) for x in meta if x.strip())
    if described:
        parts.append("\n" + described)
    parts.append(("\n" + one_line(document.source) + " · esc closes", MUTED_STYLE))
    return Content.assemble(*parts)


class ParagraphView(Static):
    """One passage: its label (unless the text starts with it) and section heading, then
    its text; the cited one gets the ``-cited`` class and its best sentence emphasised."""

    def __init__(self, passage: Passage, cited: bool, highlight: tuple[int, int] | None) -> None:
        label_style = CITATION_STYLE if cited else "bold"
        text = passage_content(passage.text, highlight if cited else None)
        lines: list[Content] = []
        if passage.heading.strip():
            lines.append(Content.styled(one_line(passage.heading), "bold italic"))
        if text.plain.startswith(passage.label):
            text = text.stylize(label_style, 0, len(passage.label))
        else:
            lines.append(Content.styled(passage.label, label_style))
        super().__init__(Content("\n").join([*lines, text]), classes="paragraph")
        self.passage = passage
        self.set_class(cited, "-cited")


class SourcePane(Vertical):
    """Shows one document; ``doc_id``, ``cited`` and ``cited_label`` describe what is shown."""

    DEFAULT_CSS = """
    SourcePane { height: 1fr; }
    SourcePane #source-header { padding: 0 1; }
    SourcePane #source-body { height: 1fr; }
    SourcePane .paragraph { padding: 0 1; margin-bottom: 1; }
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

    async def show(self, document: Document, hit: Hit) -> None:
        """Replace the content with ``document``, scrolled to the paragraph ``hit`` cites."""
        self.doc_id = document.doc_id
        self.query_one("#source-header", Static).update(document_header(document))
        body = self.query_one("#source-body", VerticalScroll)
        await body.remove_children()
        target = cited_index(document, hit)
        views = [
            ParagraphView(p, i == target, hit.highlight) for i, p in enumerate(document.passages)
        ]
        await body.mount_all(views)
        self.cited = views[target] if target is not None else None
        if self.cited is not None:
            cited = self.cited
            self.call_after_refresh(body.scroll_to_widget, cited, animate=False, top=True)
