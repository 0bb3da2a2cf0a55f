"""The terminal UI driven through Textual's pilot against real indexes (seeds, real model)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.pilot import Pilot
from textual.widget import Widget

from qa.factory import build_index
from tests.conftest import SEEDS
from tui.app import PilcrowApp
from tui.screens.chat import ChatScreen
from tui.screens.export import ExportScreen
from tui.screens.filters import FiltersScreen
from tui.screens.help import KEYS, HelpScreen
from tui.state import IndexState, ModelState
from tui.widgets.empty import EmptyState
from tui.widgets.question import QuestionInput
from tui.widgets.settings_bar import SettingsBar
from tui.widgets.source import ParagraphView, SourcePane
from tui.widgets.status import StatusBar
from tui.widgets.transcript import ResultCard, Transcript, TurnView

pytestmark = pytest.mark.anyio

KAZAKH_DAMAGES = "How much is Kazakhstan asking in damages for the Proton rocket accident?"
KAZAKH_SPACE = "What is the state of space cooperation with Kazakhstan?"
CHINA_FOLLOW_UP = "and what did China say?"
ARTICLE = "china-finds-eager-space-partners"
INJECTION = (
    "Markup [bold]injection[/bold] test\n\n"
    "The rocket report said [bold]x[/bold] and [link=http://x]y[/link] about the "
    "\x1b[31mred rocket\x1b[0m launch at Baikonur, and [red]nothing[/red] more.\n\n"
    "A second paragraph about the weather at the launch site.\n"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def injection_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of one article whose text tries markup and terminal escape codes."""
    corpus = tmp_path_factory.mktemp("injection-corpus")
    (corpus / "markup-injection.txt").write_text(INJECTION, encoding="utf-8")
    index = tmp_path_factory.mktemp("injection-index")
    build_index(corpus, index)
    return index


# -- helpers (also used by the snapshot tests) -------------------------------------------


async def wait_until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 60) -> None:
    """Let the app run (workers, messages, refreshes) until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the app"
        await pilot.pause(0.05)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def wait_ready(pilot: Pilot) -> None:
    """Wait until the model is ready, or it is clear that there is no index."""

    def ready() -> bool:
        lifecycle = pilot.app.chat.lifecycle
        return lifecycle.model is ModelState.READY or lifecycle.index is IndexState.MISSING

    await wait_until(pilot, ready)


async def ask(pilot: Pilot, question: str, *, type_it: bool = False) -> TurnView:
    """Submit ``question`` and wait for its answer (or error) to be shown."""
    app = pilot.app
    box = app.query_one(QuestionInput)
    box.focus()
    if type_it:
        await pilot.press(*question)
    else:
        box.value = question
    await pilot.press("enter")
    turn = app.chat.conversation.turns[-1]
    await wait_until(pilot, lambda: not turn.pending and not app.chat.searching)
    view = app.query_one(Transcript).turn_view(turn.id)
    assert view is not None
    return view


async def open_first_card(pilot: Pilot) -> SourcePane:
    app = pilot.app
    await pilot.press("ctrl+o")
    pane = app.query_one(SourcePane)
    await wait_until(pilot, lambda: pane.cited is not None and app.chat.has_class("-source-open"))
    return pane


def text_of(widget: Widget) -> str:
    """What a widget shows on screen, lines joined by single spaces (styles dropped)."""
    lines = ("".join(s.text for s in widget.render_line(y)) for y in range(widget.size.height))
    return " ".join(" ".join(lines).split())


def cards(app: PilcrowApp) -> list[ResultCard]:
    return list(app.query(ResultCard))


class NotifiedApp(PilcrowApp):
    """The app, keeping the text of every notification (through the public ``notify``)."""

    def __init__(self, index_dir: Path) -> None:
        super().__init__(index_dir)
        self.notified: list[str] = []

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        self.notified.append(message)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)


# -- asking ---------------------------------------------------------------------------


async def test_first_card_cites_the_damages_paragraph(seed_index: Path) -> None:
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        status = app.query_one(StatusBar)
        first_frame = status.lifecycle  # no waiting: neither missing nor failed
        assert first_frame.index in (IndexState.OPENING, IndexState.OPEN)
        assert first_frame.model is not ModelState.FAILED
        view = await ask(pilot, KAZAKH_DAMAGES, type_it=True)
        first = view.cards[0]
        assert first.citation == "07MOSCOW5292 ¶3"
        assert first.hit.highlight is not None
        shown = text_of(first)
        assert "07MOSCOW5292 ¶3" in shown
        assert "Embassy Moscow" in shown and "2007-11-07" in shown and "score" in shown
        assert "60 million" in shown
        assert app.query_one(Transcript).selected is first
        assert status.lifecycle.model is ModelState.READY and status.info is not None
        assert status.info.documents == 2
        assert "2 documents" in text_of(status.query_one("#index-summary"))


async def test_question_asked_at_once_is_answered_when_ready(seed_index: Path) -> None:
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(QuestionInput).value = KAZAKH_DAMAGES
        await pilot.press("enter")  # before the index is open or the model loaded
        turn = app.chat.conversation.turns[0]
        await wait_until(pilot, lambda: not turn.pending)
        assert turn.hits and turn.hits[0].citation == "07MOSCOW5292 ¶3"


async def test_history_walks_earlier_questions(seed_index: Path) -> None:
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await ask(pilot, "Baikonur lease")
        await ask(pilot, "GLONASS satellites")
        box = app.query_one(QuestionInput)
        await pilot.press(*"draft")
        await pilot.press("up")
        assert box.value == "GLONASS satellites"
        await pilot.press("up", "up")
        assert box.value == "Baikonur lease"
        await pilot.press("down", "down")
        assert box.value == "draft"


async def test_follow_up_searches_with_the_topic_and_can_be_turned_off(seed_index: Path) -> None:
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await ask(pilot, KAZAKH_SPACE)
        view = await ask(pilot, CHINA_FOLLOW_UP)
        turn = view.turn
        assert turn.combined
        assert turn.searched == f"{CHINA_FOLLOW_UP} state space cooperation Kazakhstan"
        searched_line = text_of(view.query_one(".searched"))
        assert "follow-up, searched:" in searched_line
        assert "state space cooperation Kazakhstan" in searched_line
        assert ARTICLE in {card.hit.doc_id for card in view.cards}

        await pilot.press("ctrl+t")
        assert not app.chat.settings.follow_up
        assert "follow-ups off" in text_of(app.query_one(SettingsBar))
        view = await ask(pilot, "and Ukraine?")
        assert not view.turn.combined and view.turn.searched == "and Ukraine?"


# -- citations and the source pane ------------------------------------------------------


async def test_open_citation_shows_the_paragraph_highlighted(seed_index: Path) -> None:
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        view = await ask(pilot, KAZAKH_DAMAGES)
        pane = await open_first_card(pilot)
        assert pane.doc_id == "07MOSCOW5292" and pane.cited_label == "¶3"
        highlighted = list(pane.query(".-cited"))
        assert highlighted == [pane.cited]
        assert "60 million" in pane.cited.passage.text
        labels = [p.passage.label for p in pane.query(ParagraphView)]
        assert {"¶1", "¶2", "¶3", "¶4", "¶7"} <= set(labels)
        body = pane.query_one("#source-body")
        await wait_until(pilot, lambda: body.region.contains_region(pane.cited.region))
        assert "Lisitsin admitted" in text_of(pane.cited)

        await pilot.press("ctrl+n")  # with the pane open, the pane follows the cursor
        second = app.query_one(Transcript).selected
        assert second is not None and second is not view.cards[0]
        await wait_until(pilot, lambda: pane.cited_label == second.hit.label)

        await pilot.press("escape")
        assert not app.chat.has_class("-source-open")


async def test_citations_are_walked_copied_and_clicked(seed_index: Path) -> None:
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        view = await ask(pilot, KAZAKH_DAMAGES)
        transcript = app.query_one(Transcript)
        await pilot.press("ctrl+n")
        assert transcript.selected is view.cards[1]
        await pilot.press("ctrl+p")
        assert transcript.selected is view.cards[0]
        await pilot.press("ctrl+y")
        assert app.clipboard == "07MOSCOW5292 ¶3"

        second = view.cards[1]
        await pilot.click(second)
        pane = app.query_one(SourcePane)
        await wait_until(pilot, lambda: pane.cited is not None)
        assert transcript.selected is second
        assert (pane.doc_id, pane.cited_label) == (second.hit.doc_id, second.hit.label)


async def test_narrow_terminal_shows_source_in_place_of_transcript(seed_index: Path) -> None:
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await ask(pilot, KAZAKH_DAMAGES)
        assert app.chat.has_class("-narrow")
        await open_first_card(pilot)
        assert not app.query_one(Transcript).display
        assert app.query_one(SourcePane).display
        await pilot.press("escape")
        await pilot.pause()
        assert app.query_one(Transcript).display


# -- filters, export, clear ---------------------------------------------------------------


async def test_filter_from_the_dialog_restricts_results(seed_index: Path) -> None:
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("ctrl+f")
        assert isinstance(app.screen, FiltersScreen)
        app.screen.query_one("#filter-doc_id").focus()
        await pilot.press(*ARTICLE, "enter")
        await pilot.pause()
        assert app.chat.settings.filters.doc_id == ARTICLE
        assert f"doc {ARTICLE}" in text_of(app.query_one(SettingsBar))
        view = await ask(pilot, KAZAKH_DAMAGES)
        assert view.cards and {c.hit.doc_id for c in view.cards} == {ARTICLE}
        assert f"doc {ARTICLE}" in text_of(view.query_one(".searched"))

        await pilot.press("ctrl+r")
        assert app.chat.settings.mode == "dense"


async def test_settings_line_click_opens_filters_and_bad_dates_are_refused(
    seed_index: Path,
) -> None:
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.click(SettingsBar)
        await pilot.pause()
        assert isinstance(app.screen, FiltersScreen)
        app.screen.query_one("#filter-since").focus()
        await pilot.press(*"last year", "enter")
        await pilot.pause()
        assert isinstance(app.screen, FiltersScreen)
        await pilot.press("escape")
        assert app.chat.settings.filters.since is None


async def test_export_writes_markdown_with_citations(seed_index: Path, tmp_path: Path) -> None:
    app = PilcrowApp(seed_index)
    target = tmp_path / "notes" / "conversation.md"
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await ask(pilot, KAZAKH_SPACE)
        await ask(pilot, KAZAKH_DAMAGES)
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, ExportScreen)
        app.screen.query_one("#export-path").value = str(target)
        await pilot.press("enter")
        await wait_until(pilot, target.exists)
        turns = app.chat.conversation.turns
    text = target.read_text(encoding="utf-8")
    assert KAZAKH_DAMAGES in text and KAZAKH_SPACE in text
    assert "### 1. 07MOSCOW5292 ¶3" in text
    assert "60 million" in text
    for turn in turns:
        for hit in turn.hits or []:
            assert hit.citation in text


async def test_clear_empties_the_transcript(seed_index: Path) -> None:
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await ask(pilot, KAZAKH_DAMAGES)
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert not app.chat.conversation.turns
        assert not cards(app)
        assert app.query_one("#welcome").display
        view = await ask(pilot, CHINA_FOLLOW_UP)  # no topic any more: not a follow-up
        assert not view.turn.combined


# -- corpus text is data ------------------------------------------------------------------


async def test_markup_and_escapes_render_literally(injection_index: Path) -> None:
    app = PilcrowApp(injection_index)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_ready(pilot)
        view = await ask(pilot, "red rocket launch at Baikonur")
        card = next(c for c in view.cards if "report" in c.hit.text)
        app.query_one(Transcript).select(card)
        shown = text_of(card)
        assert "[bold]x[/bold]" in shown
        assert "[link=http://x]y[/link]" in shown
        assert "[red]nothing[/red]" in shown
        assert "\x1b" not in shown and "[31m" not in shown
        assert "[bold]injection[/bold]" in shown  # the title, too

        pane = await open_first_card(pilot)
        source = text_of(pane.cited)
        assert "[link=http://x]y[/link]" in source and "\x1b" not in source
        assert "[bold]injection[/bold]" in text_of(pane.query_one("#source-header"))


# -- empty and error states ---------------------------------------------------------------


async def test_empty_state_names_the_command_and_builds_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(SEEDS, tmp_path / "corpus")
    app = PilcrowApp(Path("index"), Path("corpus"))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        assert app.chat.lifecycle.index is IndexState.MISSING
        empty = app.query_one(EmptyState)
        assert empty.display
        assert "qa index --corpus corpus --index index" in text_of(
            empty.query_one("#empty-message")
        )
        await ask_without_index(pilot)
        await pilot.press("f5")
        await wait_until(pilot, lambda: app.chat.lifecycle.model is ModelState.READY, timeout=120)
        assert not empty.display
        view = await ask(pilot, KAZAKH_DAMAGES)
        assert view.cards[0].citation == "07MOSCOW5292 ¶3"


async def ask_without_index(pilot: Pilot) -> None:
    pilot.app.query_one(QuestionInput).value = "anything"
    await pilot.press("enter")
    assert not pilot.app.chat.conversation.turns


async def test_index_rebuilt_by_another_process_is_picked_up(
    seed_index: Path, fresh_copy: Callable[[Path, str], Path]
) -> None:
    index = fresh_copy(seed_index, "index")
    corpus = fresh_copy(SEEDS, "corpus")
    app = PilcrowApp(index)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await ask(pilot, KAZAKH_DAMAGES)
        (corpus / "markup-injection.txt").write_text(INJECTION, encoding="utf-8")
        await asyncio.to_thread(build_index, corpus, index)  # "another process" commits
        view = await ask(pilot, "red rocket launch at Baikonur")
        status = app.query_one(StatusBar)
        assert status.info is not None and status.info.documents == 3
        assert "markup-injection" in {c.hit.doc_id for c in view.cards}


async def test_failed_search_shows_a_message_not_a_traceback(
    seed_index: Path, fresh_copy: Callable[[Path, str], Path]
) -> None:
    index = fresh_copy(seed_index, "index")
    app = NotifiedApp(index)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_ready(pilot)
        with sqlite3.connect(index / "pilcrow.sqlite") as db:  # point at a missing generation
            db.execute("UPDATE manifest SET value = '99' WHERE key = 'generation'")
            db.execute("UPDATE manifest SET value = 'vectors-000099.faiss' WHERE key = 'vectors'")
        view = await ask(pilot, KAZAKH_DAMAGES)
        assert view.turn.error and "vectors-000099" in view.turn.error
        assert "No answer:" in text_of(view.query_one(".note"))
        assert any("vectors-000099" in message for message in app.notified)
        assert app.is_running


# -- keys, help and themes ------------------------------------------------------------------


async def test_help_lists_every_key_and_theme_switches(seed_index: Path) -> None:
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f2")
        assert app.theme == "textual-light"
        await pilot.press("f2")
        assert app.theme == "textual-dark"
    documented = " ".join(key for key, _ in KEYS)
    for binding in Binding.make_bindings([*ChatScreen.BINDINGS, *PilcrowApp.BINDINGS]):
        assert binding.key in documented, f"{binding.key} is not in the help screen"


async def test_model_that_fails_to_load_is_reported_in_each_turn(
    seed_index: Path, fresh_copy: Callable[[Path, str], Path]
) -> None:
    index = fresh_copy(seed_index, "index")
    with sqlite3.connect(index / "pilcrow.sqlite") as db:  # a model this machine doesn't have
        db.execute("UPDATE manifest SET value = 'nobody/no-such-model' WHERE key = 'model'")
    app = PilcrowApp(index)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(QuestionInput).value = KAZAKH_DAMAGES
        await pilot.press("enter")  # queued while the model loads, then failed with the reason
        await wait_until(pilot, lambda: app.chat.lifecycle.model is ModelState.FAILED)
        turn = app.chat.conversation.turns[0]
        await wait_until(pilot, lambda: not turn.pending)
        assert turn.error and "no-such-model" in turn.error
        assert "no-such-model" in app.query_one(StatusBar).detail
        view = await ask(pilot, "anything else")
        assert view.turn.error and "no-such-model" in view.turn.error
        assert app.is_running


async def test_an_unrelated_question_is_flagged(seed_index: Path) -> None:
    app = PilcrowApp(seed_index)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        view = await ask(pilot, "chocolate cake recipe with strawberries")
        assert not view.turn.relevant
        assert "Nothing in the index looks relevant" in text_of(view.query_one(".note"))
