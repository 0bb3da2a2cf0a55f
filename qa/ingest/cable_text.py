"""Cables in the plain-text layout of the Cablegate text dumps (``07MOSCOW5292.txt``).

Layout: line 1 the reference ID, then subject, date (``Wed Nov 07 00:00:00 +0100 2007``),
classification and origin, then the raw telegram: routing lines, the classification line,
``TAGS:``/``SUBJECT:``, and paragraphs marked ``¶1.`` (or bare ``1.`` in other dumps). The
routing lines are skipped so the body matches what the HTML pages show.
"""

from __future__ import annotations

import re
from datetime import datetime

from qa.errors import IngestError
from qa.ingest import numbering
from qa.ingest.cable import REF_ID, CableMeta, build_cable
from qa.models import Document

_META_LINES = 4  # subject, date, classification, origin
_CLASSIFICATION_START = re.compile(
    r"(?<![A-Za-z])(?:UNCLAS\b|UNCLASSIFIED\b|C O N F I D E N T I A L|S E C R E T|"
    r"CONFIDENTIAL\b|SECRET\b|LIMITED OFFICIAL USE)"
)
_DATE_FORMATS = ("%a %b %d %H:%M:%S %z %Y", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def looks_like(text: str) -> bool:
    """Is this the text-dump cable layout (first line a reference ID, then metadata)?"""
    lines = text.lstrip().split("\n", _META_LINES + 1)
    return len(lines) > _META_LINES and bool(REF_ID.fullmatch(lines[0].strip()))


def parse(text: str, source: str) -> Document:
    return parse_with_report(text, source)[0]


def parse_with_report(text: str, source: str) -> tuple[Document, numbering.Resolution]:
    """Parse the layout; missing or odd metadata lines degrade to empty fields."""
    if not looks_like(text):
        raise IngestError(f"{source}: not a plain-text cable (line 1 is not a reference ID)")
    lines = text.lstrip().split("\n")
    doc_id = lines[0].strip()
    meta = [line.strip() for line in lines[1 : 1 + _META_LINES]]
    meta += [""] * (_META_LINES - len(meta))
    raw = "\n".join(lines[1 + _META_LINES :])
    return build_cable(
        _skip_routing(raw),
        CableMeta(
            doc_id=doc_id,
            source=source,
            date=_iso_date(meta[1]),
            classification=meta[2],
            origin=meta[3],
            title=meta[0].rstrip(",; "),
        ),
    )


def _skip_routing(raw: str) -> str:
    """Drop the telegram routing lines (``VZCZC...``) up to the classification line."""
    if not raw.lstrip().startswith("VZCZC"):
        return raw
    m = _CLASSIFICATION_START.search(raw)
    return raw[m.start() :] if m else raw


def _iso_date(value: str) -> str:
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        return parsed.strftime("%Y-%m-%d %H:%M" if fmt == "%Y-%m-%d %H:%M" else "%Y-%m-%d")
    return ""
