"""User friction found by trying the UI and CLI as a newcomer (issue 16, "Also seen").

The footer must stay readable at 80 columns with ^q in every state, the selected card must
stay in view when the source pane re-wraps the transcript, a huge question is echoed
trimmed (kept whole for history and export), a compact card view fits a whole answer on
one screen, exports default to a git-ignored folder, and article output has no blank
metadata lines. Real seed index, real model, Textual's pilot.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Footer

from qa.cli import cli
from tests.conftest import ROOT, SEEDS
from tests.test_tui import ARTICLE, KAZAKH_DAMAGES, ask, cards, open_first_card, text_of, wait_ready
from tui.app import PilcrowApp
from tui.export import conversation_markdown, default_export_path, write_markdown
from tui.render import ECHO_LIMIT
from tui.screens.help import KEYS
from tui.widgets.settings_bar import SettingsBar
from tui.widgets.transcript import Transcript

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def footer_line(pilot: Pilot) -> str:
    """The footer row as the terminal shows it: each key placed at its screen column,
    whatever lies beyond the right edge cut off (as a real terminal would)."""
    app = pilot.app
    width = app.size.width
    row = [" "] * width
    for item in app.screen.query_one(Footer).query("FooterKey, FooterLabel"):
        text = "".join(segment.text for segment in item.render_line(0))
        for offset, char in enumerate(text[: item.region.width]):
            if 0 <= item.region.x + offset < width:
                row[item.region.x + offset] = char
    return "".join(row).rstrip()


def assert_footer_readable(pilot: Pilot) -> str:
    line = footer_line(pilot)
    assert "^q Quit" in line, line
    assert line.endswith("f1 Help"), line  # the last key is whole, not `f1 Hel`
    assert not re.search(r"\S(\^[a-z]|f\d )", line), f"keys run together: {line!r}"
    for key in pilot.app.screen.query_one(Footer).query("FooterKey"):
        assert key.region.right <= pilot.app.size.width, f"a key is cut off: {line!r}"
    return line


def inside(widget: Widget, viewport: Widget) -> bool:
    """``widget`` lies wholly within ``viewport``'s visible area (screen coordinates)."""
    area, region = viewport.content_region, widget.region
    return area.y <= region.y and region.bottom <= area.bottom and region.height > 0


# -- footer -----------------------------------------------------------------------------


@pytest.mark.parametrize("width", [80, 120])
async def test_footer_in_the_empty_state_shows_quit(tmp_path: Path, width: int) -> None:
    app = PilcrowApp(tmp_path / "index", SEEDS)
    async with app.run_test(size=(width, 24)) as pilot:
        await wait_ready(pilot)
        line = assert_footer_readable(pilot)
        assert "f5 Build index" in line
        assert "^o" not in line  # nothing to open without an index


@pytest.mark.parametrize("width", [80, 120])
async def test_footer_with_an_answer_is_readable(seed_index: Path, width: int) -> None:
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(width, 24)) as pilot:
        await wait_ready(pilot)
        await ask(pilot, KAZAKH_DAMAGES)
        line = assert_footer_readable(pilot)
        assert "^n ^p Cite ^o Open" in line
        assert "^g Compact" in line
        assert "f5" not in line  # the index exists


# -- the selected card stays in view -------------------------------------------------------


async def test_selected_card_stays_in_view_when_the_source_pane_opens(seed_index: Path) -> None:
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await ask(pilot, KAZAKH_DAMAGES)
        for _ in range(2):
            await pilot.press("ctrl+n")
        await pilot.pause()
        transcript = app.query_one(Transcript)
        selected = transcript.selected
        assert selected is cards(app)[2]
        assert inside(selected, transcript)
        before = selected.region.height
        await open_first_card(pilot)  # ctrl+o opens the selected card
        await pilot.pause(0.1)
        assert selected.region.height > before  # the transcript was re-wrapped narrower
        assert inside(selected, transcript), (selected.region, transcript.content_region)
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert inside(selected, transcript), (selected.region, transcript.content_region)


# -- a huge question -----------------------------------------------------------------------


async def test_long_question_is_echoed_trimmed_and_kept_whole(seed_index: Path) -> None:
    question = ("How much is Kazakhstan asking in damages for the Proton accident? " * 90)[:5700]
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        view = await ask(pilot, question)
        echoed = text_of(view.query_one(".question"))
        assert echoed.startswith("❯ How much is Kazakhstan asking")
        assert echoed.endswith("…")
        assert ECHO_LIMIT == 300 and len(echoed) <= 2 + ECHO_LIMIT + 1
        turn = app.chat.conversation.turns[-1]
        assert len(turn.question) == len(" ".join(question.split())) > 5000
        assert turn.hits and turn.hits[0].citation == "07MOSCOW5292 ¶3"
        assert turn.question in conversation_markdown([turn])  # exported whole


# -- compact cards -------------------------------------------------------------------------


async def test_compact_cards_fit_a_whole_answer_at_120x40(seed_index: Path) -> None:
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await ask(pilot, KAZAKH_DAMAGES)
        transcript = app.query_one(Transcript)
        full = cards(app)
        assert len(full) == 5 and sum(inside(card, transcript) for card in full) < 5
        await pilot.press("ctrl+g")
        await pilot.pause(0.1)
        assert "cards compact" in text_of(app.query_one(SettingsBar))
        shown = cards(app)
        assert [inside(card, transcript) for card in shown] == [True] * 5
        assert [card.region.height for card in shown] == [2] * 5
        first = text_of(shown[0])
        assert first.startswith("07MOSCOW5292 ¶3")
        assert "$60 million" in first  # the best sentence, not the metadata
        assert "score" not in first
        view = await ask(pilot, "What did Kazcosmos discuss in Beijing?")  # new cards too
        assert all(card.region.height == 2 for card in view.cards)
        await pilot.press("ctrl+g")
        await pilot.pause(0.1)
        assert "cards full" in text_of(app.query_one(SettingsBar))
        assert all(card.region.height > 2 for card in view.cards)
    assert any(key == "ctrl+g" for key, _ in KEYS)


# -- export default --------------------------------------------------------------------------


def test_export_defaults_to_an_ignored_exports_folder(tmp_path: Path) -> None:
    noon = 1735732800.0  # 2025-01-01 12:00 UTC; the stamp is local time
    path = default_export_path(noon)
    assert path.parent == Path("exports")
    assert re.fullmatch(r"pilcrow-\d{8}-\d{6}\.md", path.name)
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "/exports/" in ignored
    written = write_markdown(tmp_path, "# x\n")  # a folder given: a file name inside it
    assert written.parent == tmp_path.resolve() and written.name.startswith("pilcrow-")


# -- CLI output for an article ---------------------------------------------------------------


def test_article_output_has_no_blank_metadata_lines(seed_index: Path) -> None:
    runner = CliRunner()
    args = ["--index", str(seed_index)]
    result = runner.invoke(cli, ["ask", "Kazcosmos delegation in Beijing", "--doc", ARTICLE, *args])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("1. "))  # a summary may lead
    assert lines[first].startswith(f"1. {ARTICLE} ¶")
    meta = lines[first + 1].split()
    assert meta == [f"{ARTICLE}.txt", "score", meta[-1]]
    shown = runner.invoke(cli, ["show", ARTICLE, *args])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[:2] == [
        f"{ARTICLE}  China Finds Eager Space Partners in Ukraine, Kazakhstan",
        f"{ARTICLE}.txt",
    ]
    assert lines[2] == "" and lines[3] == "(title)"
    assert "\n\n\n" not in shown.stdout
    cable = runner.invoke(cli, ["show", "07MOSCOW5292", *args]).stdout.splitlines()
    assert cable[1].startswith("2007-11-07 · Embassy Moscow") and cable[2] == ""
