"""Bytes to clean text: the one place that knows about encodings and control characters.

Cables and articles reach us as UTF-8, but older dumps and hand-saved articles come in
CP1252 or Latin-1. Everything downstream works on ``str`` with ``\\n`` line ends and no
control characters, so offsets are stable and nothing odd reaches a terminal or the index.
"""

from __future__ import annotations

import re

from qa.errors import IngestError

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_ANSI_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
)
# C0 controls except \t and \n, DEL, C1 controls, BOMs and the Unicode line separators.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff]")
_LINE_SEPARATORS = re.compile(r"\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
# Anything clean_text may have to change; most files contain none of it (the fast path).
_UNUSUAL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\ufffd\u2028\u2029]")
_BINARY_RATIO = 0.10


def decode_bytes(data: bytes, source: str) -> str:
    """Decode a file's bytes into clean text, or raise IngestError naming ``source``.

    Empty/whitespace-only files and binary files (NUL bytes, or mostly control
    characters) are rejected: indexing them would only produce garbage passages.
    """
    if data.startswith(_UTF16_BOMS):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise IngestError(f"{source}: not valid UTF-16 text ({exc.reason})") from exc
    else:
        if b"\x00" in data:
            raise IngestError(f"{source}: binary file (NUL bytes)")
        text = _decode_8bit(data)
    return clean_text(text, source)


def clean_text(text: str, source: str) -> str:
    """Normalise line ends, strip terminal escapes and control characters; reject junk."""
    if "\x00" in text:
        raise IngestError(f"{source}: binary file (NUL bytes)")
    if not _UNUSUAL.search(text):
        if not text.strip():
            raise IngestError(f"{source}: empty file")
        return text
    # Form feeds, vertical tabs and Unicode separators end lines too: keep words apart.
    text = _ANSI_ESCAPE.sub("", _LINE_SEPARATORS.sub("\n", text))
    if not text.strip():
        raise IngestError(f"{source}: empty file")
    controls = len(_CONTROL.findall(text)) + text.count("\ufffd")
    if controls > _BINARY_RATIO * len(text):
        raise IngestError(f"{source}: binary file (mostly control characters)")
    text = _CONTROL.sub("", text)
    if not text.strip():
        raise IngestError(f"{source}: empty file (only control characters)")
    return text


def _decode_8bit(data: bytes) -> str:
    """UTF-8, else CP1252 for mostly-ASCII text, else charset-normalizer, else Latin-1.

    Detectors guess wildly on short English text with a few accents (``café`` came back
    as Baltic ``cafķ``), so CP1252 wins whenever most letters are plain ASCII, which is
    the case for every Western language; a detector is consulted for the rest (Cyrillic,
    Greek, ... where almost every letter is a high byte).
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        western: str | None = data.decode("cp1252")
    except UnicodeDecodeError:
        western = None  # one of the five bytes CP1252 leaves undefined
    if western is not None and _mostly_ascii(western):
        return western
    guess = _guess_encoding(data)
    if guess is not None:
        return guess
    return western if western is not None else data.decode("latin-1")


def _mostly_ascii(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return sum(1 for ch in letters if ord(ch) > 127) <= 0.3 * len(letters)


def _guess_encoding(data: bytes) -> str | None:
    """charset-normalizer's best guess as text, or None if it has none."""
    from charset_normalizer import from_bytes

    try:
        best = from_bytes(data).best()
    except Exception:  # a detector failure must never make a file unreadable
        return None
    return None if best is None else str(best)
