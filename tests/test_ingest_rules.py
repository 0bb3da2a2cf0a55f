"""The two rule modules on their own: page-break repair and paragraph numbering."""

from __future__ import annotations

import pytest

from qa.ingest import numbering, pagebreaks


@pytest.mark.parametrize(
    "line",
    [
        "MOSCOW 00005292  002.2 OF 002",
        "LA PAZ 00000906 002 OF 003",
        "TEL AVIV 00001098  002 OF 003 ",
        "Kyiv 00000278 003 of 003",
        "SECTION 01 OF 02",
        "C O N F I D E N T I A L SECTION 01 OF 04 PARIS 001234",
        "UNCLAS SECTION 01 OF 02 MOSCOW 005292",
        "S E C R E T SECTION 02 OF 03 STATE 123456",
        "C o n f i d e n t i a l section 01 of 04 ankara 000348",
        "PAGE 02        CAPE T  00097  01 OF 03  182017Z",
    ],
)
def test_break_lines(line: str) -> None:
    assert pagebreaks.is_break_line(line)
    assert pagebreaks.repair(f"text.\n\n{line}\n\nMore") == "text.\n\nMore"


@pytest.mark.parametrize(
    "line",
    ["He left at 002 OF 003 hours", "SECTION 2 OF THE LAW", "MOSCOW 5292 002 OF 002", "1 OF 2"],
)
def test_not_break_lines(line: str) -> None:
    assert not pagebreaks.is_break_line(line)


def test_break_inside_a_paragraph_joins_with_one_newline() -> None:
    text = "would be\nimpossible not to take\n\nPARIS 00002069 002.2 OF 002\n\n\ninto account"
    assert pagebreaks.repair(text) == "would be\nimpossible not to take\ninto account"


def test_break_between_paragraphs_keeps_one_blank_line() -> None:
    text = "End Summary.\n\nPARIS 00002069 002 OF 003\n\n\n¶2. (C) Next"
    assert pagebreaks.repair(text) == "End Summary.\n\n¶2. (C) Next"
    heading = "the end.\n\nPARIS 00002069 002 OF 003\n\nBackground\n----------\n\n¶2. (C) Next"
    assert pagebreaks.repair(heading) == "the end.\n\nBackground\n----------\n\n¶2. (C) Next"


def test_break_between_heading_and_underline() -> None:
    text = "shrugged.\n\nComment\n\nMOSCOW 00005292  002.2 OF 002\n\n\n-------\n\n¶7. (SBU)"
    assert pagebreaks.repair(text) == "shrugged.\n\nComment\n-------\n\n¶7. (SBU)"


def test_old_telegram_page_with_classification_lines() -> None:
    page = "PAGE 02   CAPE T  00097  01 OF 03  182017Z"
    text = f"AND THE\nCONFIDENTIAL\n\nCONFIDENTIAL\n\n{page}\n\nRELEASE"
    assert pagebreaks.repair(text) == "AND THE\nRELEASE"
    assert pagebreaks.repair("CONFIDENTIAL\n\nSIPDIS") == "CONFIDENTIAL\n\nSIPDIS"  # kept alone


def test_marker_glued_into_unwrapped_text() -> None:
    text = "monitor these extremists and BRASILIA 00001234 002 OF 003 share this information"
    assert pagebreaks.repair(text) == "monitor these extremists and share this information"
    assert not pagebreaks.contains_break(pagebreaks.repair(text))


def resolve(text: str) -> tuple[list[tuple[int, str]], list[tuple[str, str]]]:
    """(number, how) accepted and (token, reason) rejected, for readable asserts."""
    cands = numbering.glyph_candidates(text) or numbering.bare_candidates(text)
    res = numbering.resolve(text, cands)
    return (
        [(p.number, p.how) for p in res.paragraphs],
        [(r.candidate.token, r.reason) for r in res.rejected],
    )


def test_years_dates_and_letters_are_rejected() -> None:
    text = (
        "REF: A. X 1\n¶B. PARIS 1871\n\n¶1. (C) Met in December\n¶2008. He said on June\n"
        "¶15. that\n\n¶2. (C) Next."
    )
    accepted, rejected = resolve(text)
    assert accepted == [(1, "sequence"), (2, "sequence")]
    assert [token for token, _ in rejected] == ["B", "2008", "15"]


def test_sequence_after_a_mid_sentence_line_is_kept() -> None:
    text = "¶1. (C) One.\n\nAfghanistan -- Rhetoric and Bugti\n¶2. (C) Two\ngoes far\n¶3. Three"
    accepted, _ = resolve(text)
    assert accepted == [(1, "sequence"), (2, "sequence"), (3, "sequence")]


def test_repeat_skip_and_unmarked_split() -> None:
    text = "¶1. (C) One.\n\n¶2. (C) Two.\n\n¶2. (C) Two again.\n\n3.(C) Three.\n\n¶4. (C) Four."
    accepted, rejected = resolve(text)
    assert accepted == [
        (1, "sequence"),
        (2, "sequence"),
        (2, "repeat"),
        (3, "unmarked"),
        (4, "skip"),
    ]
    assert rejected == []


def test_restart_needs_a_portion_mark_else_it_is_a_list() -> None:
    restart = "¶1. (C) A.\n\n¶2. (C) B.\n\n¶1. (S) Summary again.\n\n¶2. (S) More."
    assert resolve(restart)[0] == [
        (1, "sequence"),
        (2, "sequence"),
        (1, "restart"),
        (2, "sequence"),
    ]
    nested = "¶1. (C) A.\n\n¶2. (C) Text of letter:\n\n¶1. I am.\n\n¶2. We are.\n\n¶3. (C) Comment."
    accepted, rejected = resolve(nested)
    assert accepted == [(1, "sequence"), (2, "sequence"), (3, "sequence")]
    assert rejected == [("1", "list inside a paragraph"), ("2", "list inside a paragraph")]


def test_contents_list_gives_way_to_the_real_paragraphs() -> None:
    text = "¶1. Contents\n¶2. Iran\n¶3. China\n\n¶1. Contents\n\n¶2. Iran\ntext\n\n¶3. China\ntext"
    accepted, rejected = resolve(text)
    assert [n for n, _ in accepted] == [1, 1, 2, 3]
    assert [token for token, _ in rejected] == ["2", "3"]


def test_bare_numbers_when_there_is_no_glyph() -> None:
    text = "SUBJECT: X\n\n1.(S) One, in March\n2. people met.\n\n2.(C) Two.\n\n4.(C) Four."
    accepted, _ = resolve(text)
    assert accepted == [(1, "sequence"), (2, "sequence"), (4, "skip")]


def test_placement() -> None:
    text = "a\n\n¶1. x\nends here.\n¶2. y\nin June\n¶3. z"
    places = [numbering.placement(text, c.pos) for c in numbering.glyph_candidates(text)]
    assert places == [
        numbering.Placement.AFTER_BREAK,
        numbering.Placement.AFTER_SENTENCE,
        numbering.Placement.MID_SENTENCE,
    ]
