"""``qa audit``: how the ¶ anchors of a corpus turned into citable paragraphs, and its
REF lines into references.

Citations are the product, and the numbering rules (qa.ingest.numbering) and the REF
parser (qa.ingest.references) make judgement calls on messy data. This report makes those
calls visible and countable, so a change in the rules shows up as a change in the numbers
(the tests pin them for the 1,295 cables).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import IngestError
from qa.ingest import cable_html, cable_text
from qa.ingest.decode import decode_bytes
from qa.ingest.numbering import Resolution
from qa.models import Document


@dataclass(slots=True)
class AuditReport:
    """Counts over the cables of a corpus (articles are only counted as files)."""

    files: int = 0
    cables: int = 0
    articles: int = 0
    anchors: int = 0  # numeric ¶N markers present (WikiLeaks parN anchors, ¶N. glyphs)
    letter_anchors: int = 0  # ¶A. ¶B. markers of reference lists (never paragraphs)
    numbered_paragraphs: int = 0  # passages labelled ¶N
    anchored_paragraphs: int = 0  # ... of which start at a ¶ anchor
    unmarked_splits: int = 0  # ... of which start at a bare "N." with no anchor
    repeats: int = 0  # a number used again (two ¶2)
    restarts: int = 0  # numbering started over (resent text)
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # (doc, ¶N, reason)
    no_anchor_cables: list[str] = field(default_factory=list)  # no numeric anchor at all
    unnumbered_cables: list[str] = field(default_factory=list)  # no ¶N passage found
    errors: list[tuple[str, str]] = field(default_factory=list)  # (file, message)
    ref_blocks: int = 0  # cables with a REF block
    ref_items: int = 0  # references parsed from them (an item naming two cables is two)
    ref_cable_ids: int = 0  # ... that name a cable (the rest: e-mails, letters, reports)
    ref_resolved: int = 0  # ... whose cable is in the audited corpus
    paragraph_classes: Counter[str] = field(default_factory=Counter)  # marking -> ¶N count

    @property
    def rejected_by_reason(self) -> dict[str, int]:
        return dict(Counter(reason for _, _, reason in self.rejected).most_common())

    def to_json(self) -> dict[str, object]:
        return {
            "files": self.files,
            "cables": self.cables,
            "articles": self.articles,
            "anchors": self.anchors,
            "letter_anchors": self.letter_anchors,
            "numbered_paragraphs": self.numbered_paragraphs,
            "anchored_paragraphs": self.anchored_paragraphs,
            "unmarked_splits": self.unmarked_splits,
            "repeats": self.repeats,
            "restarts": self.restarts,
            "anchors_rejected": len(self.rejected),
            "rejected_by_reason": self.rejected_by_reason,
            "rejected": [
                {"doc": doc, "anchor": anchor, "reason": reason}
                for doc, anchor, reason in self.rejected
            ],
            "no_anchor_cables": self.no_anchor_cables,
            "unnumbered_cables": self.unnumbered_cables,
            "errors": [{"file": f, "error": e} for f, e in self.errors],
            "ref_blocks": self.ref_blocks,
            "ref_items": self.ref_items,
            "ref_cable_ids": self.ref_cable_ids,
            "ref_resolved": self.ref_resolved,
            "paragraph_classes": dict(self.paragraph_classes.most_common()),
        }


def audit_corpus(paths: Iterable[Path], root: Path | None = None) -> AuditReport:
    """Parse every file (as ``qa index`` would) and count the numbering decisions."""
    report = AuditReport()
    targets: list[str] = []
    doc_ids: set[str] = set()
    for path in paths:
        report.files += 1
        source = str(path.relative_to(root)) if root else str(path)
        try:
            parsed = _parse_cable(path, source)
        except IngestError as exc:
            report.errors.append((source, str(exc)))
            continue
        if parsed is None:
            report.articles += 1
            continue
        doc, res = parsed
        doc_ids.add(doc.doc_id)
        targets += _count_document(report, doc)
        _count(report, doc.doc_id, res, sum(1 for p in doc.passages if p.paragraph is not None))
    report.ref_resolved = sum(1 for t in targets if t in doc_ids)
    return report


def _count_document(report: AuditReport, doc: Document) -> list[str]:
    """Count a cable's paragraph markings and REF items; returns the cable ids it names."""
    for p in doc.passages:
        if p.paragraph is not None:
            report.paragraph_classes[p.paragraph_class or "(unmarked)"] += 1
    if doc.references or _has_ref_block(doc):
        report.ref_blocks += 1
    report.ref_items += len(doc.references)
    found = [r.target for r in doc.references if r.target]
    report.ref_cable_ids += len(found)
    return found


def _has_ref_block(doc: Document) -> bool:
    """A REF block that names nothing (``REF: NONE``) is still a REF block."""
    from qa.ingest.references import header_of, ref_block

    first = next((p.start for p in doc.passages if p.paragraph is not None), None)
    return ref_block(header_of(doc.body, first)) is not None


def _parse_cable(path: Path, source: str) -> tuple[Document, Resolution] | None:
    """``(document, numbering resolution)`` of a cable, None for an article."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{source}: cannot read ({exc.strerror or exc})") from exc
    text = decode_bytes(data, source)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        doc, res = cable_html.parse_with_report(text, source, path.stem)
    elif suffix == ".txt" and cable_text.looks_like(text):
        doc, res = cable_text.parse_with_report(text, source)
    else:
        return None
    return doc, res


def _count(report: AuditReport, doc_id: str, res: Resolution, numbered: int) -> None:
    report.cables += 1
    anchored = [p for p in res.paragraphs if p.anchored]
    numeric_rejected = [r for r in res.rejected if r.candidate.glyph and r.candidate.number]
    letters = [r for r in res.rejected if r.candidate.glyph and r.candidate.number is None]
    report.anchors += len(anchored) + len(numeric_rejected)
    report.letter_anchors += len(letters)
    report.numbered_paragraphs += numbered
    report.anchored_paragraphs += len(anchored)
    report.unmarked_splits += len(res.paragraphs) - len(anchored)
    report.repeats += sum(1 for p in res.paragraphs if p.how == "repeat")
    report.restarts += sum(1 for p in res.paragraphs if p.how == "restart")
    report.rejected += [(doc_id, f"¶{r.candidate.token}", r.reason) for r in numeric_rejected]
    if not anchored and not numeric_rejected:
        report.no_anchor_cables.append(doc_id)
    if not numbered:
        report.unnumbered_cables.append(doc_id)


def format_report(report: AuditReport) -> str:
    """A short plain-text table for the terminal."""
    rows = [
        ("files", report.files),
        ("cables", report.cables),
        ("articles (not audited)", report.articles),
        ("¶N anchors present", report.anchors),
        ("  accepted as paragraphs", report.anchored_paragraphs),
        ("  rejected (not paragraph starts)", len(report.rejected)),
        ("¶A-style letter anchors dropped", report.letter_anchors),
        ("numbered paragraphs found", report.numbered_paragraphs),
        ("  unmarked N. splits (no anchor)", report.unmarked_splits),
        ("  repeated numbers", report.repeats),
        ("  restarted numbering", report.restarts),
        ("cables without ¶ anchors", len(report.no_anchor_cables)),
        ("cables without numbered paragraphs", len(report.unnumbered_cables)),
        ("files that failed to parse", len(report.errors)),
        ("cables with a REF block", report.ref_blocks),
        ("  REF items parsed", report.ref_items),
        ("    naming a cable", report.ref_cable_ids),
        ("    resolved in this corpus", report.ref_resolved),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value:>7,}" for label, value in rows]
    if report.rejected:
        lines.append("")
        lines.append("rejected anchors by reason:")
        lines += [f"  {n:>5}  {reason}" for reason, n in report.rejected_by_reason.items()]
    if report.paragraph_classes:
        lines.append("")
        lines.append("numbered paragraphs by their own marking:")
        lines += [f"  {n:>6,}  {name}" for name, n in report.paragraph_classes.most_common(12)]
    if report.unnumbered_cables:
        lines.append("")
        lines.append("cables without numbered paragraphs: " + " ".join(report.unnumbered_cables))
    for file, error in report.errors:
        lines.append(f"error: {error}" if error.startswith(file) else f"error: {file}: {error}")
    return "\n".join(lines)
