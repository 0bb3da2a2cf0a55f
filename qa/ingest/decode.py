"""Bytes to clean text: the one place that knows about encodings and control characters.

Cables and articles reach us as UTF-8, but older dumps and hand-saved articles come in
CP1252 or Latin-1. Everything downstream works on ``str`` with ``\\n`` line ends and no
control characters, so offsets are stable and nothing odd reaches a terminal or the index.
"""

from __future__ import annotations

import re

from qa.errors import IngestError

# Single-byte encodings charset-normalizer may name for Western text; for those we decode
# as CP1252 ourselves, because Latin-1 would turn CP1252 smart quotes into C1 controls.
_WESTERN = {
    "ascii",
    "cp1252",
    "windows_1252",
    "latin_1",
    "iso8859_1",
    "iso8859_15",
    "cp1250",
    "iso8859_2",
    "mac_roman",
    "cp850",
    "cp437",
}
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_ANSI_ESCAPE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window titles, hyperlinks
    r"|\x1b[@-Z\\-_]"  # other two-byte escapes
)
# C0 controls except \t and \n, DEL, C1 controls, BOMs and the Unicode line separators.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff]")
_LINE_SEPARATORS = re.compile(r"\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
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
    # Form feeds, vertical tabs and Unicode separators end lines too: keep words apart.
    text = _LINE_SEPARATORS.sub("\n", text)
    if not text.strip():
        raise IngestError(f"{source}: empty file")
    controls = len(_CONTROL.findall(text)) + text.count("\ufffd")
    if controls > _BINARY_RATIO * len(text):
        raise IngestError(f"{source}: binary file (mostly control characters)")
    text = _CONTROL.sub("", _ANSI_ESCAPE.sub("", text))
    if not text.strip():
        raise IngestError(f"{source}: empty file (only control characters)")
    return text


def _decode_8bit(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    guess = _guess_encoding(data)
    if guess is not None:
        return guess
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # total: every byte maps to a character


def _guess_encoding(data: bytes) -> str | None:
    """charset-normalizer's answer, unless it is a Western single-byte code page.

    For Western guesses we return None so the caller uses CP1252 (then Latin-1): those
    guesses are unreliable on short English text and differ only in the quote characters.
    """
    from charset_normalizer import from_bytes

    try:
        best = from_bytes(data).best()
    except Exception:  # a detector failure must never make a file unreadable
        return None
    if best is None or best.encoding.lower() in _WESTERN:
        return None
    return str(best)
