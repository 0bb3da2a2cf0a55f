"""A cable's ``REF:`` block → the references it makes: letter, target cable id, raw text.

Cables answer cables: ``REF: A. 05 PARIS 7528 AND PREVIOUS`` names the cable
``05PARIS7528``. Reading a cable means following those references, so they are parsed at
index time from the header (the text before the first numbered paragraph). Pure: text in,
``Reference`` tuples out; whether a target is in the index is the store's question.

The forms met in the 1,295 sample cables, all handled here:

- the keyword: ``REF:``, ``REFS:``, ``REFTEL:``, ``Ref:``, ``REF A: ...`` and one
  ``REF A ...`` / ``REF B ...`` line per item;
- lettered items ``A.``, ``A)``, ``(A)``, ``a.``, doubled (``A. A) 04 STATE 274965``),
  on one line or several, with blank lines between them (a removed page break);
  WikiLeaks' ``¶`` anchor before ``B.`` is gone by now (``numbering`` drops letter
  glyphs: they are reference letters, never paragraphs);
- unlettered lists split by ``;`` or ``:`` (``TEHRAN 1091: TEHRAN 263: MOSCOW 1603``);
- a cable named ``[YY|YYYY] ORIGIN NUMBER``: the year defaults to the citing cable's own
  (``A. MADRID 720`` in a 2006 cable is ``06MADRID720``), zero padding is dropped
  (``STATE 02743`` is ``STATE2743``), ``SECSTATE``/``DEPTEL`` are ``STATE``, a known
  two- or three-word post is joined (``BUENOS AIRES`` → ``BUENOSAIRES``);
- references that are not cables (e-mails, letters, ``IIR 6906012405``, redacted
  ``XXXXXXXXXXXX 167``) keep their text with no target.
"""

from __future__ import annotations

import re

from qa.models import Reference

_HEADER_LIMIT = 4000  # a cable without numbered paragraphs: look this far for a REF block
_MAX_LINES = 24  # a REF block longer than this is not one
_START = re.compile(
    r"(?m)^[ \t]*(?:(?i:ref(?:tel)?s?|references?)[ \t]*:|REFS?[ \t]+(?=[A-Z](?:[ \t]*:|[ \t])))"
)
_ITEM_LINE = re.compile(r"^[ \t]*REFS?[ \t]+([A-Z])[ \t]*:?[ \t]+")  # "REF B SECSTATE 76108"
_LEADING_WORD = re.compile(r"^\s*(?:(?i:ref(?:tel)?s?)\b[ \t]*:?\s*)+")  # "REF: REF (A) ..."
_NOTICE = r"sensitive\s+but\s+unclassified|please\s+(?:pass|protect)|not\s+for\s+internet"
_STOP_LINE = re.compile(
    r"\s*(?:¶|[0-9]{1,3}[ \t]?\.(?:\s|\()|-{3,}|={3,}|\((?:U|C|S|TS|SBU)[)/]|"
    r"(?i:classified\b|(?:begin\s+)?summary\b|subj(?:ect)?\b|tags\b|e\.\s?o\.|sipdis|"
    rf"reasons?\b|decl\b|this is an action request|action request\b|{_NOTICE}))"
)
_INLINE_STOP = re.compile(rf"(?i)\s(?:(?:\(U\)\s*)?classified\s+by\b|{_NOTICE})")
_INLINE_MARK = re.compile(r"\s\((?:U|C|S|SBU|TS)(?://?[A-Z]+)?\)\s")  # "BRASILIA 123 (U) THIS"
_MARKER = re.compile(r"(?<![A-Za-z0-9])(?:\(([A-Za-z])\)|([A-Za-z])[.):])(?=[\s(]|[A-Z0-9])")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*|\S")  # DTG261447ZNOV08 is one
_ATTACHED = re.compile(r"/|-(?!-)")
_ATTACHED_BEFORE = re.compile(r"(?<!-)[-/]$")
_NONE = re.compile(r"(?i)^(?:none|n/?a)\.?$")
_MAX_SERIAL = 999999
# Posts whose name is more than one word, as WikiLeaks writes their IDs (spaces dropped).
_MULTI_WORD = {
    tuple(name.split())
    for name in (
        "ABU DHABI",
        "ADDIS ABABA",
        "BANDAR SERI BEGAWAN",
        "BUENOS AIRES",
        "CAPE TOWN",
        "CHIANG MAI",
        "CIUDAD JUAREZ",
        "DAR ES SALAAM",
        "HO CHI MINH CITY",
        "HONG KONG",
        "KUALA LUMPUR",
        "LA PAZ",
        "NEW DELHI",
        "NUEVO LAREDO",
        "PHNOM PENH",
        "PORT AU PRINCE",
        "PORT LOUIS",
        "PORT MORESBY",
        "PORT OF SPAIN",
        "RIO DE JANEIRO",
        "RPO DUBAI",
        "SAN JOSE",
        "SAN SALVADOR",
        "SANTO DOMINGO",
        "SAO PAULO",
        "ST PETERSBURG",
        "TEL AVIV",
        "THE HAGUE",
        "UNVIE VIENNA",
        "USEU BRUSSELS",
        "USUN NEW YORK",
        "USUN ROME",
    )
}
_ALIASES = {"SECSTATE": "STATE", "DEPTEL": "STATE"}
_LONGEST_NAME = max(len(name) for name in _MULTI_WORD)
# Words that stand before a number without being a post: months, paragraph and law
# numbers, message kinds that are not cables.
_NOT_POST_WORDS = """
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    para paras paragraph paragraphs section sections page pages item items no number nr
    resolution resolutions unscr article articles law decree chapter annex table fy year
    years day days the and or of to on in at by for from since until see also previous
    iir td fax email mail memo memcon letter telcon dtg eo ref refs reftel reftels
"""
_NOT_POSTS = frozenset(_NOT_POST_WORDS.split())


def header_of(body: str, first_paragraph: int | None) -> str:
    """The text a REF block can be in: before the first numbered paragraph (or, in a
    cable without any, its opening characters)."""
    return body[:first_paragraph] if first_paragraph is not None else body[:_HEADER_LIMIT]


def parse_references(header: str, doc_id: str) -> list[Reference]:
    """The references of the REF block in ``header`` (none when there is no block).

    ``doc_id`` gives the year an item without one is in (``06MADRID766`` → 2006).
    """
    block = ref_block(header)
    if block is None:
        return []
    year = doc_id[:2] if doc_id[:2].isdigit() else ""
    out: list[Reference] = []
    for letter, raw in split_items(block):
        named = _named(raw, year)
        if not named:
            out.append(Reference(letter, None, raw))
        elif letter is not None or len(named) == 1:
            out += [Reference(letter, target, raw) for target, _ in named]
        else:  # "SAO PAULO 433 SAO PAULO 421": each its own text
            cuts = [0] + [start for _, start in named[1:]] + [len(raw)]
            for (target, _), start, stop in zip(named, cuts, cuts[1:], strict=False):
                out.append(Reference(None, target, _tidy(raw[start:stop])))
    return out


def ref_block(header: str) -> str | None:
    """The text of the REF block after its keyword, its lines joined by newlines; None
    when the header has no REF line."""
    m = _START.search(header)
    if m is None:
        return None
    first_line_end = header.find("\n", m.end())
    lines = header[m.start() : None if first_line_end == -1 else first_line_end].split("\n")
    first = _ITEM_LINE.sub(lambda x: f"{x.group(1)}. ", lines[0])
    out = [first if first != lines[0] else lines[0][m.end() - m.start() :]]
    rest = header[first_line_end + 1 :].split("\n") if first_line_end != -1 else []
    blank = False
    for line in rest[:_MAX_LINES]:
        if not line.strip():
            blank = True
            continue
        line = _ITEM_LINE.sub(lambda x: f"{x.group(1)}. ", line)
        expected = _next_letter(out)
        opens_item = expected is not None and _opens_with(line, expected)
        if not opens_item and (_STOP_LINE.match(line) or (blank and not _continues(out, line))):
            break
        out.append(line)
        blank = False
    block = "\n".join(out)
    inline = _INLINE_STOP.search(block)  # long-line cables: "B. BRASILIA 1396 Classified By:"
    block = block[: inline.start()] if inline else block
    mark = None if _letter_cuts(_LEADING_WORD.sub("", block)) else _INLINE_MARK.search(block)
    return block[: mark.start()] if mark else block


def _next_letter(lines: list[str]) -> str | None:
    """The letter the next item of a lettered block takes; None in an unlettered one."""
    items = split_items("\n".join(lines))
    if not items or items[0][0] is None:
        return None
    return chr(ord(items[-1][0] or "A") + 1)


def _opens_with(line: str, letter: str) -> bool:
    m = _MARKER.match(line.lstrip())
    return m is not None and (m.group(1) or m.group(2)).upper() == letter


def _continues(lines: list[str], line: str) -> bool:
    """After a blank line, does ``line`` go on with the block? Only if it holds the next
    item's letter (``B. MADRID 919``, ``OF 10/6 D) STATE 215870``) or is the number that
    an item was cut before (``(C) SECSTATE`` / blank / ``36633``)."""
    if line.strip().isdigit() and lines[-1].rstrip()[-1:].isalpha():
        return True
    expected = _next_letter(lines)
    if expected is None:
        return False
    return any((m.group(1) or m.group(2)).upper() == expected for m in _MARKER.finditer(line))


def split_items(block: str) -> list[tuple[str | None, str]]:
    """``(letter, raw text)`` per item: lettered items in sequence from A, else the parts
    of the block between ``;`` (or ``:``) separators, with letter None."""
    text = _LEADING_WORD.sub("", block)
    cuts = _letter_cuts(text)
    if not cuts:
        parts = re.split(r"[;:]\s+|;", text)
        return [(None, raw) for raw in map(_tidy, parts) if raw and not _NONE.match(raw)]
    items: list[tuple[str | None, str]] = []
    for i, (letter, _, end) in enumerate(cuts):
        stop = cuts[i + 1][1] if i + 1 < len(cuts) else len(text)
        items.append((letter, _tidy(text[end:stop])))
    return items


def _letter_cuts(text: str) -> list[tuple[str, int, int]]:
    """``(letter, marker start, text start)`` of the lettered items: the first marker at the
    very start of the block, then each next letter in turn; a doubled marker (``A. A)``,
    ``B. (B)``) is skipped."""
    cuts: list[tuple[str, int, int]] = []
    expected = "A"
    for m in _MARKER.finditer(text):
        letter = (m.group(1) or m.group(2)).upper()
        if not cuts and (m.start() != len(text) - len(text.lstrip()) or letter != "A"):
            return []
        if cuts and letter == cuts[-1][0] and not text[cuts[-1][2] : m.start()].strip():
            cuts[-1] = (letter, cuts[-1][1], m.end())  # "A. A)": the same item
            continue
        if letter == expected:
            cuts.append((letter, m.start(), m.end()))
            expected = chr(ord(letter) + 1)
    return cuts


def _tidy(raw: str) -> str:
    return " ".join(raw.split()).strip(" ,;:")


def cable_ids(text: str, year: str) -> list[str]:
    """Cable ids named in ``text`` (``05 PARIS 7528`` → ``05PARIS7528``), in order.

    ``year`` (two digits) is the year of a reference that gives none; without one, such
    a reference has no id.
    """
    return [target for target, _ in _named(text, year)]


def _named(text: str, year: str) -> list[tuple[str, int]]:
    """``(cable id, offset where its name starts)`` of each cable ``text`` names."""
    tokens = [(m.group(), m.start()) for m in _TOKEN.finditer(text)]
    found: list[tuple[str, int]] = []
    for i, (token, pos) in enumerate(tokens):
        if not (token.isdigit() and len(token) <= 6 and 0 < int(token) <= _MAX_SERIAL):
            continue
        if _ATTACHED.match(text, pos + len(token)) or _ATTACHED_BEFORE.search(text, 0, pos):
            continue  # CA-3400, 3/23, 314/07696 (a "--" after the number is a separator)
        origin, first = _origin(tokens, i)
        if origin is None:
            continue
        yy = _year(tokens[first - 1][0]) if first > 0 else None
        start = tokens[first - 1 if yy else first][1]
        target = f"{yy or year}{origin}{int(token)}"
        if (yy or year) and all(target != seen for seen, _ in found):
            found.append((target, start))
    return found


def _origin(tokens: list[tuple[str, int]], i: int) -> tuple[str | None, int]:
    """The post named right before the number at ``tokens[i]`` and the index of its first
    word: the word next to the number, or a known multi-word post ending with it."""
    words: list[str] = []
    j = i - 1
    while j >= 0 and len(words) < _LONGEST_NAME and _is_word(tokens[j][0]):
        words.insert(0, tokens[j][0].upper().replace("’", "'"))
        j -= 1
    if not words:
        return None, i
    for size in range(len(words), 1, -1):
        name = tuple(words[-size:])
        if name in _MULTI_WORD:
            joined = " ".join(name)
            return _ALIASES.get(joined, joined.replace(" ", "")), i - size
    word = words[-1]
    if len(word) < 3 or word.lower() in _NOT_POSTS or set(word) == {"X"} or "'" in word:
        return None, i
    return _ALIASES.get(word, word.replace("-", "")), i - 1


def _is_word(token: str) -> bool:
    return token.replace("-", "").replace("'", "").replace("’", "").isalpha()


def _year(token: str) -> str | None:
    """Two digits of a year written before the origin: ``05`` or ``2005``."""
    if len(token) == 2 and token.isdigit():
        return token
    if len(token) == 4 and token.isdigit() and token[:2] in ("19", "20"):
        return token[2:]
    return None
