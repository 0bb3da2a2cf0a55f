"""The question, normalised once: what the searcher searches and the TUI shows.

Every front end hands the question over as typed; ``Query.parse`` makes it safe to
tokenise and embed, and reads the cable IDs it names, so no later step re-parses it.
No heavy imports: the TUI uses ``clean_question`` on the event loop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.errors import UsageError

MAX_QUESTION_CHARS = 2000  # the model reads ~256 word pieces; the rest only slows BM25

_CABLE_ID = re.compile(r"\b(\d{2}[A-Z][A-Z-]{1,24}\d{1,6})\b", re.IGNORECASE)


def clean_question(text: str) -> str:
    """``text`` with lone surrogates replaced and whitespace runs collapsed.

    Lone surrogates (undecodable bytes from a shell) would crash the tokenizer; runs of
    spaces, tabs and newlines mean nothing to either engine and clutter what is shown.
    """
    text = text.encode("utf-8", "replace").decode("utf-8")
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class Query:
    """A question ready to search: its clean text and the cable IDs it names.

    ``cable_ids`` are upper-cased, each once, in the order they appear
    (``07MOSCOW5292``); hybrid search puts those cables' passages first.
    """

    text: str
    cable_ids: tuple[str, ...] = ()

    @classmethod
    def parse(cls, question: str) -> Query:
        """Clean ``question`` and cap it at MAX_QUESTION_CHARS; UsageError when empty."""
        text = clean_question(question)[:MAX_QUESTION_CHARS]
        if not text:
            raise UsageError("the question is empty")
        ids = dict.fromkeys(m.group(1).upper() for m in _CABLE_ID.finditer(text))
        return cls(text, tuple(ids))
