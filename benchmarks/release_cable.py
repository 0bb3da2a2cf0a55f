"""One synthetic cable: its telegram text drawn from the sample's profile, and its page.

Paragraphs are the sample's own (a share with one sentence swapped for another
paragraph's), renumbered and re-marked; the header (banner, SIPDIS, E.O., TAGS, SUBJECT,
REF, Classified By), page-break and SECTION lines, stray anchors, repeated and skipped
numbers and cables without numbers come at the sample's measured rates. The cable knows
what a correct parse of it says (``labels``, ``targets``, ``subject``), so the generator
can check every page with Pilcrow's parser before it is kept.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.release_profile import Origin, Para, Profile

RECOMBINE = 0.25  # share of paragraphs with one sentence swapped for another paragraph's
THEME = 0.6  # share of a cable's paragraphs drawn from one sample cable (its theme)
WRAP = 60  # SUBJECT lines longer than this continue on a second line, as in the sample
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"(])")
_LINE_NUMBER = re.compile(r"([ \t]*)(\d{1,6}\.)")
_GLYPH = re.compile(r"¶([0-9]{1,6}|[A-Za-z])(?=\.)")
_TAG = re.compile("\ue000([A-Z]{2,8})\ue001")
_REF_IN_TITLE = re.compile(r"\s*\S*REF(?:TEL|S)?:")
_SUBJECT_STOPS = {"REF", "REFS", "SUMMARY", "CLASSIFIED", "SIPDIS", "TAGS", "E.O."}
TABLE = """<table class='cable'>
<tr>
<th>Reference ID</th>
<th>Created</th>
<th>Released</th>
<th>Classification</th>
<th>Origin</th>
</tr>
<tr>
<td>
<a href='/cable/{y}/{m:02d}/{id}.html'>{id}</a>
</td>
<td>
<a href='/date/{y}-{m:02d}_0.html'>{created}</a>
</td>
<td>
<a href='/reldate/{rel_day}_0.html'>{released}</a>
</td>
<td>
{classification}
</td>
<td>
{origin}
</td>
</tr>
</table>
"""


@dataclass(frozen=True, slots=True)
class Meta:
    """What the release plan fixed for cable ``index`` before its text is drawn."""

    index: int
    doc_id: str
    year: int
    month: int
    day: int
    minute: int
    origin: Origin
    serial: int
    classification: str
    released: str

    @property
    def created(self) -> str:
        hour, minute = divmod(self.minute, 60)
        return f"{self.year}-{self.month:02d}-{self.day:02d} {hour:02d}:{minute:02d}"

    @property
    def path(self) -> str:
        return f"{self.year}/{self.month:02d}/{self.doc_id}.html"


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of the body and the sample paragraph it came from (-1: the header)."""

    source: int
    donor: int  # the paragraph one of its sentences came from, -1 none
    text: str


@dataclass(frozen=True, slots=True)
class Cable:
    meta: Meta
    subject: str
    body: str  # telegram text; ¶ glyphs become anchors, \ue000TAG\ue001 tag links
    chunks: list[Chunk]
    labels: tuple[str, ...]  # the numbered paragraphs a correct parse finds
    targets: tuple[str, ...]  # the cable ids its REF block names
    mode: str  # "anchors", "bare" (numbers without ¶) or "none" (no numbers)
    theme: int  # the sample cable most paragraphs came from


RefOf = Callable[[int], tuple[str, int, str, int]]  # cable index -> id, year, code, serial


def compose(
    profile: Profile, meta: Meta, n_cables: int, ref_of: RefOf, rng: random.Random, clean: bool
) -> Cable:
    """Draw cable ``meta.index``; ``clean`` leaves out what may confuse the parser
    (stray anchors, skipped markers), for a last attempt after failed checks."""
    rates = profile.rates
    mode = "anchors"
    if rng.random() < rates["no_anchor"]:
        mode = "bare" if rng.random() < rates["bare_given_no_anchor"] else "none"
    theme = rng.randrange(len(profile.docs))
    subject = _subject(profile, theme, rng)
    ref_lines, targets = _refs(profile, meta, n_cables, ref_of, rng)
    header = _header(profile, meta, subject, ref_lines, rng)
    lines, chunks, labels = _paragraphs(profile, meta, theme, mode, rng, clean)
    if profile.signatures and rng.random() < rates["signature"]:
        lines += ["", rng.choice(profile.signatures)]
    body_lines = _paginate(profile, meta, [*header, *lines], rng)
    header_chunk = Chunk(-1, -1, "\n".join(header))
    return Cable(
        meta,
        " ".join(subject.split()),
        "\n".join(body_lines),
        [header_chunk, *chunks],
        tuple(labels),
        tuple(targets),
        mode,
        theme,
    )


def _subject(profile: Profile, theme: int, rng: random.Random) -> str:
    """The theme's subject, its second half taken from another cable's."""
    a = profile.docs[theme].subject.split()
    b = profile.docs[rng.randrange(len(profile.docs))].subject.split()
    if len(a) >= 4 and len(b) >= 4:
        a = a[: len(a) // 2] + b[len(b) // 2 :]
    # A few sample titles swallowed their REF line ("...PRIMEREF: A. LONDON 1939"): cut
    # it, or it would be read as this cable's REF block.
    return _REF_IN_TITLE.split(" ".join(a))[0].strip() or "(NO SUBJECT)"


def _refs(
    profile: Profile, meta: Meta, n_cables: int, ref_of: RefOf, rng: random.Random
) -> tuple[list[str], list[str]]:
    """The REF block's lines (A., B., ... anchored like the sample's) and its targets."""
    if n_cables < 2 or rng.random() >= profile.rates["refs"]:
        return [], []
    count = profile.ref_items.draw(rng)
    items, targets = [], []
    for _ in range(count):
        if profile.other_refs and rng.random() < profile.rates["ref_not_cable"]:
            items.append(rng.choice(profile.other_refs))
            continue
        k = rng.randrange(n_cables - 1)
        k += k >= meta.index
        doc_id, year, code, serial = ref_of(k)
        same_year = year % 100 == meta.year % 100
        yy = "" if same_year and rng.random() < 0.5 else f"{year % 100:02d} "
        items.append(f"{yy}{code} {serial}")
        targets.append(doc_id)
    if count == 1:
        return [f"REF: {items[0]}"], targets
    lines = [f"REF: A. {items[0]}"]
    for i, item in enumerate(items[1:], 1):
        glyph = "¶" if rng.random() < profile.rates["letter_anchor"] else ""
        lines.append(f"{glyph}{chr(65 + i % 26)}. {item}")
    return lines, targets


def _header(
    profile: Profile, meta: Meta, subject: str, ref_lines: list[str], rng: random.Random
) -> list[str]:
    """Banner line (its SECTION part filled in by ``_paginate``) down to Classified By."""
    rates = profile.rates
    banners = profile.banners.get(meta.classification)
    lines = [banners.draw(rng) if banners else meta.classification, ""]
    if rng.random() < rates["sipdis"]:
        lines += ["SIPDIS", ""]
    if profile.eo_lines:
        lines.append(rng.choice(profile.eo_lines))
    tags: list[str] = []
    for _ in range(profile.tag_counts.draw(rng)):
        tag = profile.tags.draw(rng)
        if tag not in tags:
            tags.append(tag)
    if tags and rng.random() < rates["tag_links"]:
        lines.append("TAGS: " + " ".join(f"\ue000{t}\ue001" for t in tags))
    elif tags:
        lines.append("TAGS: " + ", ".join(tags))
    lines += _subject_lines(subject)
    if ref_lines:
        lines += ["", *ref_lines]
    authority = profile.authority.get(meta.classification)
    if authority and rng.random() < rates.get(f"authority:{meta.classification}", 0.0):
        lines += ["", rng.choice(authority)]
    return [*lines, ""]


def _subject_lines(subject: str) -> list[str]:
    """``SUBJECT: ...``, continued on a second line when long (never on a word the
    parser would take for the end of the subject)."""
    if len(subject) <= WRAP:
        return [f"SUBJECT: {subject}"]
    cut = subject.rfind(" ", 0, WRAP)
    rest = subject[cut + 1 :] if cut > 0 else ""
    word = rest.split()[0].rstrip(":.,;").upper() if rest else ""
    if not word[:1].isalpha() or word in _SUBJECT_STOPS or word.startswith("REF") or len(word) < 2:
        return [f"SUBJECT: {subject}"]
    return [f"SUBJECT: {subject[:cut]} ", rest]


def _paragraphs(
    profile: Profile, meta: Meta, theme: int, mode: str, rng: random.Random, clean: bool
) -> tuple[list[str], list[Chunk], list[str]]:
    """The numbered paragraphs (or unnumbered blocks), with headings and markings."""
    rates = profile.rates
    count = max(1, profile.paragraphs.draw(rng))
    pool = _pool(profile, theme, mode)
    lines: list[str] = []
    chunks: list[Chunk] = []
    labels: list[str] = []
    number = 0
    markings = profile.markings.get(meta.classification)
    for i in range(count):
        idx = pool[i] if i < len(pool) and rng.random() < THEME else _any(profile, mode, rng)
        para = profile.paras[idx]
        text, donor = _recombined(profile, para, rng)
        repeat = number > 0 and rng.random() < rates["repeat"]
        number += 0 if repeat else 1
        marking = markings.draw(rng) if markings else ""
        opening = "" if mode == "none" else f"{number}. "
        skip = not clean and 0 < i < count - 1 and rng.random() < rates["skip"]
        if mode == "anchors" and not skip:
            opening = "¶" + opening
        if mode != "none":
            labels.append(f"¶{number}")
        if para.heading:
            lines += [para.heading, "-" * min(len(para.heading), WRAP), ""]
        text_lines = text.split("\n")
        if mode == "anchors" and not clean:
            text_lines = [text_lines[0]] + [_stray(x, rates, rng) for x in text_lines[1:]]
        first = " ".join(x for x in (marking, text_lines[0]) if x)
        lines += [opening + first, *text_lines[1:], ""]
        chunks.append(Chunk(idx, donor, text))
    return lines, chunks, labels


def _pool(profile: Profile, theme: int, mode: str) -> tuple[int, ...]:
    doc = profile.docs[theme]
    return doc.blocks or doc.paras if mode == "none" else doc.paras


def _any(profile: Profile, mode: str, rng: random.Random) -> int:
    """A random sample paragraph; for a cable without numbers, a block of one of the
    sample's own unnumbered cables when there are any."""
    if mode == "none":
        blocks = [b for d in profile.docs for b in d.blocks]
        if blocks:
            return rng.choice(blocks)
    return rng.randrange(len(profile.paras))


def _recombined(profile: Profile, para: Para, rng: random.Random) -> tuple[str, int]:
    """The paragraph's text, a share with one sentence after the first replaced by a
    sentence of another paragraph (re-wrapped when the source is hard-wrapped)."""
    if rng.random() >= RECOMBINE:
        return para.text, -1
    sentences = _SENTENCE.split(" ".join(para.text.split()))
    donor = rng.randrange(len(profile.paras))
    theirs = _SENTENCE.split(" ".join(profile.paras[donor].text.split()))
    if len(sentences) < 2 or not theirs:
        return para.text, -1
    sentences[rng.randrange(1, len(sentences))] = rng.choice(theirs)
    joined = " ".join(sentences)
    lines = para.text.split("\n")
    width = max(len(x) for x in lines)
    if len(lines) == 1 or width > 100:
        return joined, donor
    return _wrap(joined, width), donor


def _wrap(text: str, width: int) -> str:
    out, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*out, line])


def _stray(line: str, rates: dict[str, float], rng: random.Random) -> str:
    """WikiLeaks' converter anchored a number that starts a line (``¶2008.``)."""
    m = _LINE_NUMBER.match(line)
    if m and rng.random() < rates["stray_anchor"]:
        return f"{m.group(1)}¶{line[m.end(1) :]}"
    return line


def _paginate(profile: Profile, meta: Meta, lines: list[str], rng: random.Random) -> list[str]:
    """Page-break lines every ``page_chars`` (splitting a long line where a page ends),
    SECTION lines, and the banner line with the cable's city and serial."""
    rates, origin = profile.rates, meta.origin
    total = sum(len(x) + 1 for x in lines)
    pages = max(1, math.ceil(total / profile.page_chars))
    sections = max(1, round(pages / profile.pages_per_section))
    sectioned = rng.random() < rates["section"]
    banner = lines[0]
    out = [lines[0]]
    at, page = len(lines[0]) + 1, 1
    mid = sectioned and sections > 1 and rng.random() < rates["mid_section"]
    for line in lines[1:]:
        boundary = page * profile.page_chars
        if page < pages and at + len(line) + 1 > boundary:
            cut = line.rfind(" ", 0, max(1, int(boundary - at))) if len(line) > 100 else -1
            if cut > 0:
                out.append(line[:cut])
                line = line[cut + 1 :]
            page += 1
            out.append(_page_line(origin.city, meta.serial, page, pages, rates, rng))
            if mid and page <= sections:
                out.append(
                    f"{banner} SECTION {page:02d} OF {sections:02d} {origin.city} {meta.serial:06d}"
                )
        out.append(line)
        at += len(line) + 1
    section = f" SECTION 01 OF {sections:02d}" if sectioned else ""
    out[0] = f"{banner}{section} {origin.city} {meta.serial:06d}"
    return out


def _page_line(
    city: str, serial: int, page: int, pages: int, rates: dict[str, float], rng: random.Random
) -> str:
    sep = "  " if rng.random() < rates["page_double"] else " "
    dot = f".{rng.randint(1, 3)}" if rng.random() < rates["page_dot"] else ""
    return f"{city} {serial:08d}{sep}{page:03d}{dot} OF {pages:03d}"


def render(profile: Profile, cable: Cable, routing: str) -> str:
    """The cable-viewer page: the sample's frame, the table, routing and body ``<pre>``."""
    meta = cable.meta
    body = cable.body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    body = _GLYPH.sub(r"<a id='par\1' href='#par\1'>¶</a>\1", body)
    body = _TAG.sub(r"<a href='/tag/\1_0.html'>\1</a>", body)
    body = body.replace("\n", "&#x000A;")
    table = TABLE.format(
        y=meta.year,
        m=meta.month,
        id=meta.doc_id,
        created=meta.created,
        rel_day=meta.released[:10],
        released=meta.released,
        classification=profile.class_cells.get(meta.classification, meta.classification),
        origin=meta.origin.cell,
    )
    return (
        f"{profile.top}{table}<code><pre>{routing}</pre></code>\n"
        f"<code><pre>{body}</pre></code>{profile.bottom}"
    )
