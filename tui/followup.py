"""Follow-up questions: when to read a new question in the context of the previous one.

Retrieval has no memory, so a chat-style follow-up such as "and what did China say?" has
to carry its context into the search text. The rule is deliberately simple and visible:
a question is a *follow-up* when it

- starts with a continuation word ("and", "but", "also", "or", "so", "then") or with
  "what about" / "how about" / "what else";
- has no content words at all ("why?", "how much?");
- is a short question: ends with "?" and has at most ``SHORT_CONTENT_WORDS`` content
  words (stopwords dropped), e.g. "China?", "the damages?". Short keyword searches without
  a question mark ("Baikonur lease") stay standalone;
- or refers back with a pronoun ("it", "they", "their", "that", "there", ...) and has at
  most ``PRONOUN_CONTENT_WORDS`` content words ("what did they say about the launch?").

The new question leads and the topic only fills in what it lacks: a follow-up that names
its own subject (at least ``OWN_SUBJECT_WORDS`` content words and no pronoun pointing back,
"and what did Ukraine agree with China?") is searched as it is and starts a new topic;
otherwise it is searched as the question followed by the topic's content words it does
not already have ("what about Kazakhstan? countries already cooperating China space").
Gluing the whole previous question in front let the old turn outweigh the new one
(issue 14: measured on ``benchmarks/data/followups.jsonl``, docs/evaluation.md). The
topic is the last question that was *not* a follow-up, so a chain of follow-ups stays on
the original subject instead of growing without bound. The transcript always shows the
text actually searched.
"""

from __future__ import annotations

import re

SHORT_CONTENT_WORDS = 2
PRONOUN_CONTENT_WORDS = 5
OWN_SUBJECT_WORDS = 3  # content words that let a follow-up stand without its topic

CONTINUATIONS = frozenset({"and", "but", "also", "or", "so", "then", "plus"})
LEADING_PHRASES = ("what about", "how about", "what else", "and what", "and how")
PRONOUNS = frozenset(
    """
    it its they them their theirs he him his she her hers this that these those there
    such former latter same
    """.split()  # noqa: SIM905 - a word list reads best as prose
)

_WORD = re.compile(r"[\w']+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (apostrophes kept, so "China's" is one word)."""
    return [w.lower() for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    """Words that carry meaning for search: not stopwords, pronouns or continuations."""
    from qa.search.lexical import STOPWORDS  # deferred: it imports the store (numpy)

    ignored = STOPWORDS | PRONOUNS | CONTINUATIONS
    return [w for w in words(text) if w.split("'")[0] not in ignored]


def is_follow_up(question: str) -> bool:
    """True when ``question`` only makes sense after the previous turn (rules above)."""
    tokens = words(question)
    if not tokens:
        return False
    lowered = " ".join(tokens)
    if tokens[0] in CONTINUATIONS or lowered.startswith(LEADING_PHRASES):
        return True
    content = content_words(question)
    if not content or (question.rstrip().endswith("?") and len(content) <= SHORT_CONTENT_WORDS):
        return True
    return any(t in PRONOUNS for t in tokens) and len(content) <= PRONOUN_CONTENT_WORDS


def searched_text(question: str, topic: str | None, enabled: bool = True) -> tuple[str, bool]:
    """``(text to search, combined?)`` for ``question`` (normalised by the conversation)
    asked after ``topic``: the question first, then only the topic words it lacks."""
    if not enabled or not topic or not is_follow_up(question):
        return question, False
    own = content_words(question)
    refers_back = any(t in PRONOUNS for t in words(question))
    if len(own) >= OWN_SUBJECT_WORDS and not refers_back:
        return question, False
    missing = _missing_words(topic, set(own))
    if not missing:
        return question, False
    return f"{question} {' '.join(missing)}", True


def _missing_words(topic: str, have: set[str]) -> list[str]:
    """The topic's content words, as written and in order, that ``have`` lacks (once each)."""
    from qa.search.lexical import STOPWORDS  # deferred: it imports the store (numpy)

    ignored = STOPWORDS | PRONOUNS | CONTINUATIONS
    seen = set(have)
    out: list[str] = []
    for word in _WORD.findall(topic):
        key = word.lower()
        if key.split("'")[0] in ignored or key in seen:
            continue
        seen.add(key)
        out.append(word)
    return out
