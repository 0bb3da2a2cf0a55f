"""WikiLeaks cable-viewer pages (``cablegate/YYYY/MM/<ID>.html``) to Documents.

The pages are machine-generated and regular: a metadata ``<table class='cable'>``, a routing
header ``<pre>`` and the body ``<pre>`` whose newlines are ``&#x000A;`` entities and whose
paragraph numbers carry ``<a id='parN' href='#parN'>¶</a>`` anchors. A few regular
expressions read that faster than an HTML parser (all 1,295 cables in well under a second)
and degrade the same way on truncated pages: whatever is there is used (``qa audit`` reads
them so), and a page with no body is an IngestError. The indexer's ``parse`` refuses a
page whose body ``<pre>`` is never closed: a half-downloaded file would otherwise be
indexed as a shorter cable without a word, and replace the whole one indexed before.
Entities are decoded by hand, strictly: the bodies contain raw ``&`` (``R&D;``,
``HYPERTENSION & DIABETES``) that a lenient HTML decoder would mangle.
"""

from __future__ import annotations

import re

from qa.errors import IngestError
from qa.ingest import numbering
from qa.ingest.cable import REF_ID, CableMeta, build_cable
from qa.ingest.decode import clean_text
from qa.models import Document

# Attribute runs are [^<>]*, not [^>]*: on a page full of unclosed "<a" a failing match would
# otherwise rescan to the end of the page from every "<a" (quadratic time).
_TABLE = re.compile(r"<table\b[^<>]*class=['\"]cable['\"][^<>]*>(.*?)(?:</table>|\Z)", re.I | re.S)
_TH = re.compile(r"<th\b[^<>]*>(.*?)(?:</th>|\Z)", re.IGNORECASE | re.DOTALL)
_TD = re.compile(r"<td\b[^<>]*>(.*?)(?:</td>|\Z)", re.IGNORECASE | re.DOTALL)
_ANCHOR = re.compile(r"<a\b[^<>]*>\s*¶\s*</a>", re.IGNORECASE)
_TAG_LINK = re.compile(r"<a\b[^<>]*href=['\"]/tag/[^'\"<>]*['\"][^<>]*>([^<]*)</a>", re.I)
_BR_BEFORE_NEWLINE = re.compile(r"<br\s*/?>(?=&#x0*A;|&#0*10;|\n)", re.IGNORECASE)
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[A-Za-z/!?][^>]*(?:>|\Z)")  # a lone "<" in a cable is text
_ENTITY = re.compile(r"&(?:#[xX]([0-9a-fA-F]{1,6})|#(\d{1,7})|(amp|lt|gt|quot|apos|nbsp));")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'", "nbsp": "\u00a0"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2})?")
_ROUTING = re.compile(r"\s*(?:VZCZC|[A-Z]{2} RUE|R \d{6}Z)")


def parse(html: str, source: str, fallback_id: str) -> Document:
    """Parse a whole cable page; ``fallback_id`` (the file stem) is used if the table is
    missing. A page cut inside its body is an IngestError (the indexer skips it, keeping
    what it indexed of the file before)."""
    return _parse(html, source, fallback_id, whole=True)[0]


def parse_with_report(
    html: str, source: str, fallback_id: str
) -> tuple[Document, numbering.Resolution]:
    """Like :func:`parse`, also returning the numbering decisions (for ``qa audit``), and
    best effort on a page cut inside its body: what is there is parsed."""
    return _parse(html, source, fallback_id, whole=False)


def _parse(
    html: str, source: str, fallback_id: str, *, whole: bool
) -> tuple[Document, numbering.Resolution]:
    """The page's cable; with ``whole``, a body that is never closed is refused."""
    body_html, cut = _body_pre(html, source)
    meta = _metadata(html)
    links = (_text(x).strip() for x in _TAG_LINK.findall(body_html))
    tags = tuple(dict.fromkeys(t for t in links if t))
    body = _text(_ANCHOR.sub("¶", body_html))
    if not body.strip():
        raise IngestError(f"{source}: cable page has an empty body")
    if cut and whole:
        raise IngestError(
            f"{source}: truncated cable page (the body is cut off: its <pre> is never "
            "closed, a partial download?); not indexed"
        )
    body = clean_text(body, source)
    doc_id = meta.get("reference id", "")
    if not REF_ID.fullmatch(doc_id):
        doc_id = fallback_id
    created = meta.get("created", "")
    return build_cable(
        body,
        CableMeta(
            doc_id=doc_id,
            source=source,
            date=created if _DATE.fullmatch(created) else "",
            origin=meta.get("origin", ""),
            classification=meta.get("classification", ""),
            tags=tags,
        ),
    )


def _body_pre(html: str, source: str) -> tuple[str, bool]:
    """The body ``<pre>`` (the last one; the first is the routing header), and whether it
    is cut (never closed: the page ends inside it)."""
    pres, cut = _pre_blocks(html)
    if not pres:
        raise IngestError(f"{source}: not a cable page (no <pre> body)")
    if len(pres) == 1 and _ROUTING.match(_text(pres[0])):
        raise IngestError(f"{source}: truncated cable page (only the routing header, no body)")
    return pres[-1], cut


def _pre_blocks(html: str) -> tuple[list[str], bool]:
    """Contents of every ``<pre>`` (an unclosed one runs to the end of a truncated page),
    and whether the last one is unclosed."""
    low = html if "<pre" in html or "<PRE" not in html else html.lower()
    out: list[str] = []
    at = low.find("<pre")
    while at != -1:
        open_end = low.find(">", at)
        if open_end == -1:
            break
        if low[at + 4] not in "> \t\n":  # <prefix...>, not a <pre> tag
            at = low.find("<pre", at + 4)
            continue
        close = low.find("</pre>", open_end)
        if close == -1:
            out.append(html[open_end + 1 :])  # unclosed: runs to the end, nothing after it
            return out, True
        out.append(html[open_end + 1 : close])
        at = low.find("<pre", close)
    return out, False


def _metadata(html: str) -> dict[str, str]:
    """Header cells of the cable table mapped to the first row of values, lower-case keys."""
    table = _TABLE.search(html)
    if not table:
        return {}
    heads = [" ".join(_text(h).split()).lower() for h in _TH.findall(table.group(1))]
    cells = [" ".join(_text(c).split()) for c in _TD.findall(table.group(1))]
    return dict(zip(heads, cells, strict=False))


def _text(fragment: str) -> str:
    """Markup to text: line breaks kept, tags dropped, the few entities decoded."""
    fragment = _BR.sub("\n", _BR_BEFORE_NEWLINE.sub("", fragment))
    text = _TAG.sub("", fragment).replace("&#x000A;", "\n")  # the body's newlines, fast
    return _ENTITY.sub(_entity, text) if "&" in text else text


def _entity(m: re.Match[str]) -> str:
    if m.group(3):
        return _NAMED[m.group(3)]
    code = int(m.group(1), 16) if m.group(1) else int(m.group(2))
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF or code == 0:
        return "\ufffd"
    return chr(code)
