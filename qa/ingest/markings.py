"""Classification markings: each paragraph's own ``(C)``/``(S/NF)``, and the cable's
"Classified by" line (who, for which reasons, until when).

A journalist needs to know how each paragraph was classified, not just the cable: a
SECRET cable holds UNCLASSIFIED paragraphs and the other way round. A paragraph's class
is read only from the marking it opens with; a paragraph without one has none (it never
inherits the cable's classification, which is a different claim). The normal form the
marking is read into (``(S/NF)`` → ``SECRET//NOFORN``) is ``qa.portion``'s, the one the
``--paragraph-class`` filter uses too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.portion import normalise

# How a cable paragraph opens: its number (``¶3.``, ``12.``) and then its marking
# (``(SBU)``, ``(S/NF)``, at most 80 characters inside), either one optional; in a cable
# without numbers the marking opens the block. The one pattern for every reader of
# that opening: the indexer (``paragraph_class``), the cited answer line, which cuts it
# (``qa.search.answer``), and the TUI's source pane, which styles it (``opening_end``).
OPENING = re.compile(
    r"(?P<number>¶?[0-9]{1,3}[ \t]?\.{1,2})?(?:\s*\((?P<marking>[^()\n]{1,80})\))?"
)
_SPACE = re.compile(r"\s+")


def paragraph_class(text: str) -> str | None:
    """The marking a paragraph opens with, normalised; None when it carries none."""
    m = OPENING.match(text)
    return normalise(m["marking"]) if m and m["marking"] is not None else None


def opening_end(text: str, start: int = 0, end: int | None = None) -> int:
    """Where the paragraph opening at ``start`` (after any white space) ends: after its
    marking (``¶3. (SBU)``) when it is one, else after its number (``¶3.`` of
    ``¶3. (U.S.) officials``), else at its first non-space character. ``text[:result]``
    is what a reader may cut or style as the paragraph's label, never one of its words."""
    stop = len(text) if end is None else end
    while start < stop and text[start].isspace():
        start += 1
    m = OPENING.match(text, start, stop)  # it matches anywhere, if only the empty string
    if m is None:
        return start
    if m["marking"] is not None and normalise(m["marking"]) is not None:
        return m.end()
    return m.end("number") if m["number"] is not None else start


@dataclass(frozen=True, slots=True)
class Authority:
    """A cable's "Classified by" line, as far as it is there (``""`` where it is not).

    ``reasons`` is normalised to ``1.4 (b) and (d)`` whatever the cable wrote
    (``1.4 B/D``, ``1.4(b,d)``, ``REAS\\nONS 1.4 (B) a\\nnd (D)``); ``declassify_on`` is
    ISO (``2017-11-07``) when the cable gives a date, else its words (``OADR``).
    """

    classified_by: str = ""
    reasons: str = ""
    declassify_on: str = ""


def _spread(word: str) -> str:
    """A regex for ``word`` that also matches it cut by a line break or a space
    (``REAS\\nONS``, ``reaso ns``): the Classified-by line is wrapped mid-word."""
    return r"\s?".join(re.escape(ch) for ch in word)


_CLASSIFIED_BY = re.compile(
    r"(?im)^[ \t]*(?:¶?[0-9]{1,2}\.[ \t]*)?(?:\(U\)[ \t]*)?"
    r"(?:classified[ \t]+by[ \t]*:?[ \t]*)+"
)
_INLINE_BY = re.compile(r"(?i)(?<=\s)classified\s+by\s*:?\s*")
_FOR = rf"(?:{_spread('for')}|per|under\s+section)\s+"
_EO = r"(?:E\.O\.\s*12958,?\s*)?"
_REASON_WORD = rf"{_spread('reason')}(?:\s?s)?"
# Where the classifier's name ends and the reasons begin: "for reasons", "; Reason:",
# ", per", or just a comma before the section number ("Kathleen Allegrone, 1.4 (b/ d)").
_REASON = re.compile(
    rf"(?i)(?:[,;.:]?\s*(?:{_FOR})?{_EO}{_REASON_WORD}\s*[,.:]?\s*{_EO}\(?|\s+{_FOR}|[,;.:]\s+)"
    r"(?=1\s?[.:/]\s?[0-9]|14\b|\(\s?[a-h]\s?\)|[a-h],\s?[a-h]\b)"
)
_KEYWORD_ONLY = re.compile(rf"(?i){_REASON_WORD}\s*:?\s*$")
_SECTION = re.compile(r"(1)\s?[.:/]\s?([0-9])|(1)([4-6])\b")
_LETTERS = re.compile(r"(?:[\s(),&/.;:]|\band\b|[a-h](?![a-z]))+", re.IGNORECASE)
_LETTER = re.compile(r"(?<![a-z])([a-h])(?![a-z])")
_CUT_AND = re.compile(r"(?i)\ba(?:\s?\n\s?| )nd\b|\ban\s?\n\s?d\b")  # "a\nnd", "a nd"
_BLOCK_STOP = re.compile(
    r"\s*(?:$|¶|[0-9]{1,3}\.\s|-{3,}|\((?:U|C|S|TS|SBU)[)/]|(?i:classified)\b)"
)
_DECL = re.compile(
    r"(?i)\bDECL(?:ASSIFY)?(?:\s+ON)?\s*:\s*"
    r"(?:([0-9]{1,2})/([0-9]{1,2})/([0-9]{4}|[0-9]{2})\b|([0-9]{4})[/-]([0-9]{2})[/-]([0-9]{2})\b"
    r"|([A-Z][A-Z0-9 .-]{0,24}?)(?=\s*(?:$|\n|TAGS|SUBJ|,|;)))"
)


def authority(header: str) -> Authority:
    """Who classified the cable, for which reasons, until when: read from ``header`` (the
    cable text down to, and including, its first paragraph)."""
    by, reasons = _classified_by(header)
    return Authority(by, reasons, _declassify_on(header))


def _classified_by(text: str) -> tuple[str, str]:
    m = _CLASSIFIED_BY.search(text)
    if not m:  # inline, in a header without line breaks: "...PLEASE PASS. Classified by"
        glyph = text.find("¶")
        m = _INLINE_BY.search(text, 0, glyph if glyph != -1 else len(text))
    if not m:
        return "", ""
    block = _block(text, m.end())
    reason = _REASON.search(block)
    who = block[: reason.start()] if reason else block
    who = _SPACE.sub(" ", who).strip(" ,;:.")
    return who[:200], _reasons(block[reason.end() :]) if reason else ""


def _block(text: str, start: int) -> str:
    """The line at ``start`` and up to three continuation lines (not a paragraph marker,
    a rule or a new Classified-by line), until the reasons are closed. A blank line ends
    it, unless the reasons keyword was left dangling before it ("REASON:\\n\\n1.4(C).",
    where a page break was)."""
    lines = text[start:].split("\n")
    out = [lines[0]]
    for line in lines[1:6]:
        joined = "\n".join(out)
        if len(out) == 4 or _closed(joined):
            break
        if not line.strip():
            if _KEYWORD_ONLY.search(joined):
                continue
            break
        if _BLOCK_STOP.match(line) and not line.lstrip().startswith(")"):
            break
        out.append(line)
    return "\n".join(out)


def _closed(text: str) -> bool:
    """Do the reasons end here: given, and the text stops on ``)`` or ``.`` with every
    parenthesis closed?"""
    tail = text.rstrip()
    return (
        _REASON.search(text) is not None
        and tail.endswith((")", "."))
        and tail.count("(") <= tail.count(")")
    )


def _reasons(text: str) -> str:
    """``1.4 (b) and (d)`` from whatever follows the reason keyword."""
    text = text.lstrip()
    section = _SECTION.match(text)
    number = ""
    if section:
        number = f"{section.group(1) or section.group(3)}.{section.group(2) or section.group(4)}"
        text = text[section.end() :]
    run = _LETTERS.match(_CUT_AND.sub("and", text))
    letters = list(dict.fromkeys(_LETTER.findall(run.group().lower()))) if run else []
    if not letters:
        return number
    shown = [f"({x})" for x in letters]
    listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
    return f"{number} {listed}".strip()


def _declassify_on(text: str) -> str:
    m = _DECL.search(text)
    if not m:
        return ""
    month, day, year, iso_year, iso_month, iso_day, words = m.groups()
    if iso_year:
        return f"{iso_year}-{iso_month}-{iso_day}"
    if year:
        full = year if len(year) == 4 else f"{20 if int(year) < 70 else 19}{year}"
        return f"{full}-{int(month):02d}-{int(day):02d}"
    return _SPACE.sub(" ", words or "").strip(" .-")
