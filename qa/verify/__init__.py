"""``qa verify``: check the quotes of a draft against the index, word by word.

``quotes`` finds the quoted passages of a draft (pure), ``align`` aligns one quote with
one paragraph (pure), ``check`` puts them together over an index: BM25 candidates,
alignment, and dense similarity only for what the words do not find.
"""

from __future__ import annotations

from qa.verify.align import Alignment, Difference, align
from qa.verify.check import PARAPHRASE_THRESHOLD, QuoteCheck, Report, Status, Verifier
from qa.verify.quotes import MIN_WORDS, Found, Quote, find_quotes

__all__ = [
    "MIN_WORDS",
    "PARAPHRASE_THRESHOLD",
    "Alignment",
    "Difference",
    "Found",
    "Quote",
    "QuoteCheck",
    "Report",
    "Status",
    "Verifier",
    "align",
    "find_quotes",
]
