"""PURE: the normal form of a portion (paragraph) marking, ``(S/NF)`` → ``SECRET//NOFORN``.

One vocabulary for what the indexer stores (``qa.ingest.markings`` reads each paragraph's
opening marking into it) and what a ``--paragraph-class`` filter compares (the CLI's
option and the TUI's filters screen read the user's value into it, through
``qa.models.FilterField``): the store's filter SQL then compares the value as given.
It sits below ``qa.models`` so the filter fields can use it; it imports only ``re``.

Normal form: the level spelled out — ``TOP SECRET``, ``SECRET``, ``CONFIDENTIAL``,
``UNCLASSIFIED`` — or the cable abbreviations ``SBU`` (sensitive but unclassified) and
``LOU`` (limited official use), then each dissemination control after ``//`` in the order
written: ``NOFORN``, ``FOUO``, ``FGI``, ``ORCON``, ``REL TO <COUNTRIES>``. So ``(S/NF)``
is ``SECRET//NOFORN``, ``(U//FOUO)`` is ``UNCLASSIFIED//FOUO``, ``(C/Rel UK)`` is
``CONFIDENTIAL//REL TO UK`` (the same separator as the cables' own classification).
"""

from __future__ import annotations

import re

_LEVELS = {
    "TS": "TOP SECRET",
    "TOP SECRET": "TOP SECRET",
    "S": "SECRET",
    "SECRET": "SECRET",
    "C": "CONFIDENTIAL",
    "CONFIDENTIAL": "CONFIDENTIAL",
    "U": "UNCLASSIFIED",
    "UNCLAS": "UNCLASSIFIED",
    "UNCLASSIFIED": "UNCLASSIFIED",
    "SBU": "SBU",
    "LOU": "LOU",
}
_CONTROLS = {
    "NF": "NOFORN",
    "NOFORN": "NOFORN",
    "FOUO": "FOUO",
    "FGI": "FGI",
    "ORCON": "ORCON",
    "OC": "ORCON",
    "ENTIRE TEXT": "",  # "(C - ENTIRE TEXT)": a remark, not a control
}
_GLUED = {"SNF": ("S", "NF"), "CNF": ("C", "NF")}  # "(SNF)": the slash left out
_SEPARATOR = re.compile(r"\s*(?://|/|\s-\s|-)\s*")
_SPACE = re.compile(r"\s+")
LEVELS = tuple(dict.fromkeys(_LEVELS.values()))  # TOP SECRET, SECRET, ... as shown to users
CONTROLS = (*dict.fromkeys(v for v in _CONTROLS.values() if v), "REL TO <COUNTRIES>")


def normalise(marking: str) -> str | None:
    """A portion marking's inside (``S/NF``, ``C//REL ISAF``, ``u``) in the normal form,
    or None when it is not a marking (``(U.S.)``, ``(Iran)``, a level-less ``/Rel UK``)."""
    text = _SPACE.sub(" ", marking.strip().upper())
    if text in _GLUED:
        text = "/".join(_GLUED[text])
    head, *rest = _SEPARATOR.split(text, maxsplit=1)
    level = _LEVELS.get(head)
    if level is None and " " in head:  # "C NF": a space for the slash
        head, _, tail = head.partition(" ")
        level, rest = _LEVELS.get(head), [tail, *rest]
    if level is None:
        return None
    controls = _controls(rest[0]) if rest else []
    if controls is None:
        return None
    return "//".join([level, *controls])


def _controls(text: str) -> list[str] | None:
    """The dissemination controls of ``text`` (``NF/REL UK``) in the normal form, the
    remarks among them left out; None when a part is not a control."""
    controls = [_control(part) for part in _SEPARATOR.split(text)]
    if any(c is None for c in controls):
        return None
    return [c for c in controls if c]


def _control(part: str) -> str | None:
    """One dissemination control in the normal form; None when it is not one (a
    ``REL TO`` that names no country among them)."""
    if part in _CONTROLS:
        return _CONTROLS[part]
    if part.startswith("REL ") or part.startswith("REL:"):
        countries = part[4:].strip(" :")
        countries = "" if countries == "TO" else countries
        countries = countries[3:] if countries.startswith("TO ") else countries
        names = [c.strip() for c in countries.split(",") if c.strip()]
        return "REL TO " + ", ".join(names) if names else None
    return None


def filter_value(value: str) -> str:
    """What a ``--paragraph-class`` filter compares, in the normal form: a marking as
    written (``S/NF``, ``c``, ``SECRET//NOFORN``) or controls alone (``NOFORN``, ``nf``,
    ``REL TO UK``). Raises ValueError (fit to show, naming the valid classes) for anything
    else: a misspelt ``SECRT`` would otherwise be a search that silently finds nothing."""
    marking = normalise(value)
    if marking is not None:
        return marking
    controls = _controls(_SPACE.sub(" ", value.strip().upper()))
    if controls:
        return "//".join(controls)
    raise ValueError(
        f"{value!r} is not a paragraph class: use a level ({', '.join(LEVELS)}), a control "
        f"({', '.join(CONTROLS)}) or a marking as cables write it (S/NF, C//REL TO UK)"
    )
