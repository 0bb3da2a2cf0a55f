"""The sample's shape, measured once, for ``benchmarks/synth_release.py`` to draw from.

A synthetic release is only as good as its likeness to the real one, and guessed rates
drift from the data they claim to copy. So every rate the generator uses (cable and
paragraph markings, REF blocks, page breaks, stray anchors, repeated and skipped numbers,
cables without numbered paragraphs, ...) is counted here, over the sample pages, by
Pilcrow's own parser, each time the generator starts (about 5 s for the 1,295 cables).
The pieces it recombines (paragraphs, headings, subjects, header lines) are the sample's
own, and each paragraph keeps the rows of its embedded views in the sample's view table,
whose hashes are the base index's embedding-cache keys: that is how the stand-in embedder
finds the real vector a generated window was drawn from.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from qa.ingest import cable_html, pagebreaks
from qa.ingest.decode import decode_bytes
from qa.ingest.markings import OPENING, opening_end
from qa.ingest.numbering import Resolution
from qa.models import Document

T = TypeVar("T")

_ID = re.compile(r"\d{2}([A-Z][A-Z-]*?)(\d+)")
_PRE = re.compile(r"<pre>(.*?)</pre>", re.S)
_TD = re.compile(r"<td>\s*(.*?)\s*</td>", re.S)
_ANCHOR = re.compile(r"<a id='par[^']*' href='#par[^']*'>¶</a>")
_TAGS_HTML = re.compile(r"<[^>]+>")
_PAR_ANCHOR = re.compile(r"<a id='par\d+'")
_LINE_NUMBER = re.compile(r"(?m)^[ \t]*\d{1,6}\.(?=\s|\(|$)")
_SIPDIS = re.compile(r"(?m)^[ \t]*SIPDIS[ \t]*$")
_EO = re.compile(r"(?m)^[ \t]*(E\.?[ ]?O\.?[ ]?1\d{4}[^\n]*?)[ \t]*$")
_CLASSIFIED = re.compile(r"(?im)^[ \t]*(classified by[^\n]*?)[ \t]*$")
_SECTION = re.compile(r"SECTION\s+(\d{1,3})\s+OF\s+(\d{1,3})", re.I)
_BANNER = re.compile(r"[A-Z]{1,2}(?: [A-Z]){3,}(?=\s|$)|[A-Z]{4,}(?://[A-Z]+)*(?=\s|$)")
_PAGE_CITY = re.compile(r"(.*?)\s+\d{8}\s")
_SIGNATURE = re.compile(r"[A-Z][A-Z'-]+(?: [A-Z][A-Z'-]+){0,2}")


class Weighted(Generic[T]):
    """Values with the weights they were counted with; ``draw`` picks one like the sample."""

    def __init__(self, counts: Counter[T] | dict[T, float]) -> None:
        items = sorted(counts.items(), key=lambda kv: repr(kv[0]))  # stable across runs
        self.values: list[T] = [k for k, _ in items]
        total, self.cum = 0.0, []
        for _, weight in items:
            total += weight
            self.cum.append(total)
        self.weights = [w / total for _, w in items] if total else []

    def draw(self, rng: random.Random) -> T:
        return rng.choices(self.values, cum_weights=self.cum)[0]

    def mean(self) -> float:
        """The weighted mean of numeric values."""
        total = 0.0
        for value, weight in zip(self.values, self.weights, strict=True):
            total += float(value) * weight  # type: ignore[arg-type]
        return total


@dataclass(frozen=True, slots=True)
class Para:
    """A sample paragraph as the generator reuses it."""

    doc: int  # its cable's index in Profile.docs
    text: str  # as displayed, without its opening (number and marking)
    heading: str
    views: tuple[int, ...]  # rows of its embedded windows in Profile.views


@dataclass(frozen=True, slots=True)
class SampleDoc:
    doc_id: str
    subject: str
    paras: tuple[int, ...]  # its numbered paragraphs (Profile.paras)
    blocks: tuple[int, ...]  # its unnumbered text blocks (Profile.paras)
    header_view: int  # its (header)'s first window in Profile.views, -1 if none


@dataclass(frozen=True, slots=True)
class Origin:
    code: str  # as in reference ids: USNATO
    name: str  # the page table's Origin: Mission USNATO
    city: str  # as page-break lines print it: USNATO, LA PAZ
    cell: str  # the table cell's HTML


@dataclass
class Profile:
    """Everything the generator draws from; ``rates`` are per-opportunity probabilities."""

    docs: list[SampleDoc] = field(default_factory=list)
    paras: list[Para] = field(default_factory=list)
    views: list[tuple[str, str, int, str]] = field(default_factory=list)  # doc, label, w, hash
    rates: dict[str, float] = field(default_factory=dict)
    origins: Weighted[Origin] = field(default_factory=lambda: Weighted({}))
    months: Weighted[tuple[int, int]] = field(default_factory=lambda: Weighted({}))
    classifications: Weighted[str] = field(default_factory=lambda: Weighted({}))
    class_cells: dict[str, str] = field(default_factory=dict)
    banners: dict[str, Weighted[str]] = field(default_factory=dict)
    markings: dict[str, Weighted[str]] = field(default_factory=dict)  # "" = no marking
    paragraphs: Weighted[int] = field(default_factory=lambda: Weighted({}))
    tag_counts: Weighted[int] = field(default_factory=lambda: Weighted({}))
    tags: Weighted[str] = field(default_factory=lambda: Weighted({}))
    ref_items: Weighted[int] = field(default_factory=lambda: Weighted({}))
    released: Weighted[str] = field(default_factory=lambda: Weighted({}))
    eo_lines: list[str] = field(default_factory=list)
    authority: dict[str, list[str]] = field(default_factory=dict)
    signatures: list[str] = field(default_factory=list)
    other_refs: list[str] = field(default_factory=list)
    routing: list[str] = field(default_factory=list)
    page_chars: float = 4000.0
    pages_per_section: float = 1.0
    top: str = ""
    bottom: str = ""


class _Tally:
    """Counts over the sample, one page at a time (``add``), then the Profile."""

    def __init__(self) -> None:
        self.p = Profile()
        self.n: Counter[str] = Counter()
        self.origins: Counter[tuple[str, str]] = Counter()
        self.cities: dict[str, Counter[str]] = {}
        self.origin_cells: dict[str, str] = {}
        self.months: Counter[tuple[int, int]] = Counter()
        self.classes: Counter[str] = Counter()
        self.banners: dict[str, Counter[str]] = {}
        self.markings: dict[str, Counter[str]] = {}
        self.paragraphs: Counter[int] = Counter()
        self.tag_counts: Counter[int] = Counter()
        self.tags: Counter[str] = Counter()
        self.ref_items: Counter[int] = Counter()
        self.released: Counter[str] = Counter()
        self.sections: list[tuple[int, int]] = []  # (sections, pages) of sectioned cables

    def add(self, path: Path, root: Path) -> None:
        html = decode_bytes(path.read_bytes(), str(path))
        doc, res = cable_html.parse_with_report(html, str(path.relative_to(root)), path.stem)
        pres = _PRE.findall(html)
        raw = _unescape(_ANCHOR.sub("¶", pres[-1])) if pres else ""
        if not self.p.top:
            self.p.top = html[: html.find("<table class='cable'>")]
            self.p.bottom = html[html.rfind("</pre></code>") + len("</pre></code>") :]
        if len(pres) > 1:
            self.p.routing.append(pres[0])
        self._table(html, doc, path)
        self._numbering(doc, res, pres[-1] if pres else "")
        self._header(doc, raw)
        self.n["tag_links"] += "/tag/" in (pres[-1] if pres else "")
        self._pages(raw)
        self._passages(doc)

    def _table(self, html: str, doc: Document, path: Path) -> None:
        cells = _TD.findall(html[html.find("<table class='cable'>") :])
        m = _ID.fullmatch(doc.doc_id)
        if len(cells) < 5 or not m:
            return
        self.n["cables"] += 1
        code = m.group(1)
        self.origins[(code, doc.origin)] += 1
        self.origin_cells.setdefault(code, cells[4])
        self.classes[doc.classification] += 1
        self.p.class_cells.setdefault(doc.classification, cells[3])
        self.released[_TAGS_HTML.sub("", cells[2]).strip()] += 1
        year, month = path.parent.parent.name, path.parent.name
        if year.isdigit() and month.isdigit():
            self.months[(int(year), int(month))] += 1

    def _numbering(self, doc: Document, res: Resolution, body_html: str) -> None:
        """Anchors, repeats, skipped markers, strays: from the parser's own decisions."""
        anchored = bool(_PAR_ANCHOR.search(body_html))
        numbered = list(res.paragraphs)
        if not anchored:
            self.n["no_anchor"] += 1
            self.n["no_anchor_bare"] += bool(numbered)
        if not any(p.paragraph is not None for p in doc.passages):
            self.n["unnumbered"] += 1
        if not numbered:
            return
        self.paragraphs[len(numbered)] += 1
        self.n["para_seq"] += len(numbered) - 1
        self.n["repeat"] += sum(a.number == b.number for a, b in itertools.pairwise(numbered))
        if anchored:
            self.n["para_anchored"] += max(0, len(numbered) - 2)
            self.n["skip"] += sum(not p.anchored for p in numbered[1:-1])
            bare = sum(not p.anchored for p in numbered)
            self.n["stray"] += sum(
                r.candidate.glyph and r.candidate.number is not None for r in res.rejected
            )
            self.n["line_numbers"] += len(_LINE_NUMBER.findall(doc.body)) - bare
        self.n["letter_glyphs"] += sum(
            r.candidate.glyph and r.candidate.number is None for r in res.rejected
        )

    def _header(self, doc: Document, raw: str) -> None:
        """Banner, SECTION, SIPDIS, E.O., Classified By, TAGS, REF and signature lines."""
        lines = raw.strip("\n").split("\n")
        first = lines[0].strip() if lines else ""
        m = _BANNER.match(first)
        banner = m.group() if m else ""
        if banner:
            self.banners.setdefault(doc.classification, Counter())[banner] += 1
        sec = _SECTION.search(first)
        if sec:
            pages = 1 + sum(_is_page_line(x) for x in lines)
            self.sections.append((int(sec.group(2)), pages))
            self.n["mid_section"] += sum(
                bool((s := _SECTION.search(x)) and int(s.group(1)) > 1) for x in lines[1:]
            )
        self.n["sipdis"] += bool(_SIPDIS.search(raw))
        self.p.eo_lines += _EO.findall(raw)[:1]
        self.n["authority_" + doc.classification] += bool(doc.classified_by)
        auth = _CLASSIFIED.search(raw)
        if auth and doc.classified_by:
            self.p.authority.setdefault(doc.classification, []).append(auth.group(1))
        self.tag_counts[len(doc.tags)] += 1
        self.tags.update(doc.tags)
        if doc.references:
            self.n["with_refs"] += 1
            self.ref_items[len(doc.references)] += 1
            self.n["ref_letters"] += sum(1 for r in doc.references[1:] if r.letter)
            others = [r.raw for r in doc.references if r.target is None]
            self.n["refs"] += len(doc.references)
            self.n["refs_other"] += len(others)
            self.p.other_refs += others
        tail = [x.strip() for x in lines if x.strip()]
        if tail and len(tail[-1]) <= 30 and _SIGNATURE.fullmatch(tail[-1]):
            self.n["signature"] += 1
            self.p.signatures.append(tail[-1])

    def _pages(self, raw: str) -> None:
        pages = [x.strip() for x in raw.split("\n") if _is_page_line(x)]
        self.n["chars"] += len(raw)
        self.n["pages"] += 1 + len(pages)
        self.n["page_lines"] += len(pages)
        self.n["page_dot"] += sum(bool(re.search(r"\d{3}\.\d", x)) for x in pages)
        self.n["page_double"] += sum("  " in x for x in pages)
        for line in pages:
            m = _PAGE_CITY.match(line)
            if m:
                self._city_votes(m.group(1).strip())

    def _city_votes(self, city: str) -> None:
        self.cities.setdefault(city.replace(" ", "").upper(), Counter())[city.upper()] += 1

    def _passages(self, doc: Document) -> None:
        """The paragraphs to reuse, each with the rows of its views in the view table."""
        from qa.index.rows import parsed

        rows = parsed(doc, "", jobs=False).rows
        paras: list[int] = []
        blocks: list[int] = []
        header_view = -1
        index = len(self.p.docs)
        for p, row in zip(doc.passages, rows, strict=True):
            first_view = len(self.p.views)
            for w, h in enumerate(row.view_hashes):
                self.p.views.append((doc.doc_id, p.label, w, h))
            views = tuple(range(first_view, len(self.p.views)))
            if p.label == "(header)":
                header_view = first_view if views else -1
                continue
            text = p.text.replace("¶", "")
            if p.paragraph is not None:
                m = OPENING.match(p.text)
                marking = f"({m['marking']})" if m and m["marking"] is not None else ""
                self.markings.setdefault(doc.classification, Counter())[marking] += 1
                text = p.text[opening_end(p.text) :].lstrip().replace("¶", "")
                paras.append(len(self.p.paras))
            else:
                blocks.append(len(self.p.paras))
            self.p.paras.append(Para(index, text, p.heading, views))
        self.p.docs.append(
            SampleDoc(doc.doc_id, doc.title, tuple(paras), tuple(blocks), header_view)
        )

    def profile(self) -> Profile:
        """Counts into rates (per opportunity: a paragraph, a line-start number, ...)."""
        p, n = self.p, self.n
        cables = max(1, n["cables"])
        p.rates = {
            "no_anchor": n["no_anchor"] / cables,
            "bare_given_no_anchor": n["no_anchor_bare"] / max(1, n["no_anchor"]),
            "unnumbered": n["unnumbered"] / cables,
            "repeat": n["repeat"] / max(1, n["para_seq"]),
            "skip": n["skip"] / max(1, n["para_anchored"]),
            "stray_anchor": n["stray"] / max(1, n["line_numbers"], n["stray"]),
            "letter_anchor": min(1.0, n["letter_glyphs"] / max(1, n["ref_letters"])),
            "refs": n["with_refs"] / cables,
            "ref_not_cable": n["refs_other"] / max(1, n["refs"]),
            "sipdis": n["sipdis"] / cables,
            "section": len(self.sections) / cables,
            "mid_section": n["mid_section"] / max(1, len(self.sections)),
            "page_dot": n["page_dot"] / max(1, n["page_lines"]),
            "page_double": n["page_double"] / max(1, n["page_lines"]),
            "signature": n["signature"] / cables,
            "tag_links": n["tag_links"] / cables,
        }
        for c, count in self.classes.items():
            p.rates[f"authority:{c}"] = n["authority_" + c] / count
        p.page_chars = n["chars"] / max(1, n["pages"])
        with_pages = [(k, pages) for k, pages in self.sections if pages > 1]
        p.pages_per_section = sum(pg for _, pg in with_pages) / max(
            1, sum(k for k, _ in with_pages)
        )
        by_code: dict[str, Counter[str]] = {}
        for (code, name), count in self.origins.items():
            by_code.setdefault(code, Counter())[name] += count
        p.origins = Weighted(  # one origin per code: ids must not depend on the name
            {
                self._origin(code, names.most_common(1)[0][0]): names.total()
                for code, names in by_code.items()
            }
        )
        p.months, p.classifications = Weighted(self.months), Weighted(self.classes)
        p.banners = {c: Weighted(v) for c, v in self.banners.items()}
        p.markings = {c: Weighted(v) for c, v in self.markings.items()}
        p.paragraphs, p.tag_counts = Weighted(self.paragraphs), Weighted(self.tag_counts)
        p.tags, p.ref_items = Weighted(self.tags), Weighted(self.ref_items)
        p.released = Weighted(self.released)
        return p

    def _origin(self, code: str, name: str) -> Origin:
        votes = self.cities.get(code)
        city = votes.most_common(1)[0][0] if votes else code
        return Origin(code, name, city, self.origin_cells.get(code, name))


def _is_page_line(line: str) -> bool:
    return pagebreaks.is_break_line(line) and not _SECTION.search(line)


def _unescape(fragment: str) -> str:
    text = _TAGS_HTML.sub("", fragment).replace("&#x000A;", "\n")
    for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&amp;", "&")):
        text = text.replace(entity, char)
    return text


def measure(sample: Path, files: Iterable[Path] | None = None) -> Profile:
    """The profile of the cable pages under ``sample`` (every ``*.html``, sorted)."""
    tally = _Tally()
    for path in sorted(files if files is not None else sample.rglob("*.html")):
        tally.add(path, sample)
    return tally.profile()


def summary(profile: Profile) -> dict[str, object]:
    """What was measured, for the generator's report (rates and a few means)."""
    return {
        "sample_cables": len(profile.docs),
        "sample_paragraphs": len(profile.paras),
        "sample_views": len(profile.views),
        "rates": {k: round(v, 4) for k, v in sorted(profile.rates.items())},
        "paragraphs_per_cable": round(profile.paragraphs.mean(), 2),
        "page_chars": round(profile.page_chars),
        "pages_per_section": round(profile.pages_per_section, 2),
    }
