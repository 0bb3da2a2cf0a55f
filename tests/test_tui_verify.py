"""The quote check in the TUI (F3): a draft's quotes against the seed index, shown in the
transcript as one block, exported to Markdown, cleared; a draft that cannot be read is
one notification. Real index, real model, Textual's pilot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widgets import Static

from qa import store
from qa.locations import db_path
from tests.test_tui import NotifiedApp, text_of, wait_ready, wait_until
from tui.app import PilcrowApp
from tui.screens.export import ExportScreen
from tui.screens.verify import VerifyScreen
from tui.widgets.verify_report import VerifyReport

pytestmark = pytest.mark.anyio

NOT_IN_ANY_CABLE = (
    "The ambassador praised the excellent weather at the beach resort all summer long."
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def paragraph_sentences(index: Path, doc_id: str, label: str) -> list[str]:
    """The sentences of one indexed paragraph, whitespace collapsed, as stored."""
    db = store.connect(db_path(index), readonly=True)
    try:
        document = store.get_document(db, doc_id)
    finally:
        db.close()
    assert document is not None
    passage = next(p for p in document.passages if p.label == label)
    return re.split(r"(?<=\.)\s+", " ".join(passage.text.split()))


def write_draft(index: Path, folder: Path) -> tuple[Path, str, str]:
    """A draft (its name holding Rich markup) with a verbatim quote of 07MOSCOW5292 ¶3,
    one with "seeks" changed to "wants", and one in no document."""
    sentences = paragraph_sentences(index, "07MOSCOW5292", "¶3")
    verbatim = next(s for s in sentences if s.startswith("Lisitsin said"))
    source = next(s for s in sentences if s.startswith("Kazakhstan reportedly seeks"))
    near = source.replace("seeks", "wants")
    draft = folder / "story[red].md"
    draft.write_text(
        "# Baikonur\n\n"
        f"A Russian official told diplomats “{verbatim}” at the meeting.\n\n"
        f'On the money, the cable says "{near}"\n\n'
        f'One source added: "{NOT_IN_ANY_CABLE}"\n',
        encoding="utf-8",
    )
    return draft, verbatim, near


async def test_f3_checks_a_draft_in_the_transcript_and_the_export(
    seed_index: Path, tmp_path: Path
) -> None:
    draft, verbatim, near = write_draft(seed_index, tmp_path)
    target = tmp_path / "notes.md"
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        footer = text_of(app.screen.query_one("Footer"))
        await pilot.press("f3")
        assert isinstance(app.screen, VerifyScreen)
        await pilot.press(*str(draft), "enter")
        await wait_until(pilot, lambda: bool(app.query(VerifyReport)))
        block = app.query_one(VerifyReport)
        shown = " ".join(text_of(line) for line in block.query(Static))
        checks = app.chat.conversation.verifications[0].report.checks
        assert text_of(app.screen.query_one("Footer")) == footer  # f3 is not in the footer

        assert [c.status.value for c in checks] == ["verbatim", "near", "not_found"]
        assert "❯ quote check " + str(draft) in shown  # "[red]" shown as typed
        assert (  # the 89-character quote cut at 80
            "verbatim “Lisitsin said that the two governments had established a commission"
            " to study…” 07MOSCOW5292 ¶3 (SBU) near"
        ) in shown
        assert verbatim not in shown
        assert f"near “{near}” 07MOSCOW5292 ¶3 (SBU) changed “wants” (source “seeks”)" in shown
        assert "not found “The ambassador praised the excellent weather at the beach" in shown
        assert shown.endswith("all summer…” 2 of 3 quotes verified")
        assert shown.count("07MOSCOW5292") == 2  # not found cites nothing

        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ExportScreen)
        app.screen.query_one("#export-path").value = str(target)
        await pilot.press("enter")
        await wait_until(pilot, target.exists)

        await pilot.press("ctrl+l")
        await pilot.pause()
        assert not app.query(VerifyReport)
        assert not app.chat.conversation.verifications

    text = target.read_text(encoding="utf-8")
    heading = next(line for line in text.splitlines() if line.startswith("## Quote check: "))
    assert heading.endswith("/story\\[red\\].md")  # escaped: Markdown shows it as typed
    assert "3 quotes, **not all verified**." in text
    assert f"- **verbatim** (line 3): “{verbatim}” — `07MOSCOW5292 ¶3 (SBU)`" in text
    assert f"- **near** (line 5): “{near}” — `07MOSCOW5292 ¶3 (SBU)`" in text
    assert "  - changed: “wants” (source “seeks”)" in text
    assert f"- **not found** (line 7): “{NOT_IN_ANY_CABLE}”\n" in text


async def test_f3_unreadable_draft_is_one_notification(seed_index: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-draft.md"
    binary = tmp_path / "story.docx"
    binary.write_bytes(b"PK\x03\x04\x00\x00binary")
    app = NotifiedApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("f3", "escape")  # cancelled: nothing checked
        assert not isinstance(app.screen, VerifyScreen)
        for draft, why in ((missing, "cannot read draft"), (binary, "binary file")):
            app.notified.clear()
            await pilot.press("f3", *str(draft), "enter")
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert len(app.notified) == 1, app.notified
            assert str(draft) in app.notified[0] and why in app.notified[0]
        assert not app.query(VerifyReport)
        assert not app.chat.conversation.verifications
        assert app.is_running
