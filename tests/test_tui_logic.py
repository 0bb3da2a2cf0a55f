"""The UI's plain-Python parts: follow-up rules, conversation, rendering, export."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qa.models import Filters, Hit
from qa.text import one_line, reflow, terminal_safe
from tests.conftest import ROOT
from tui.export import conversation_markdown, write_markdown
from tui.followup import is_follow_up, searched_text
from tui.render import card_content, passage_content
from tui.session import Conversation, Settings
from tui.state import IndexState, Lifecycle, ModelState, QuestionQueue
from tui.widgets.empty import index_command

TOPIC = "What is the state of space cooperation with Kazakhstan?"


def make_hit(text: str, highlight: tuple[int, int] | None = None, **fields: object) -> Hit:
    values: dict[str, Any] = {
        "rank": 1,
        "passage_id": 1,
        "doc_id": "07MOSCOW5292",
        "label": "¶3",
        "paragraph": 3,
        "score": 0.0328,
        "text": text,
        "heading": "",
        "title": "ROSCOSMOS ON SPACE COOPERATION WITH KAZAKHSTAN",
        "date": "2007-11-07",
        "origin": "Embassy Moscow",
        "classification": "UNCLASSIFIED",
        "source": "07MOSCOW5292.txt",
        "highlight": highlight,
    }
    values.update(fields)
    return Hit(**values)


@pytest.mark.parametrize(
    "question",
    [
        "and what did China say?",
        "And Ukraine?",
        "What about Ukraine?",
        "also the damages",
        "China?",
        "why?",
        "What did they say about the launch?",
        "How much did it cost?",
    ],
)
def test_follow_ups_are_recognised(question: str) -> None:
    assert is_follow_up(question)


@pytest.mark.parametrize(
    "question",
    [
        TOPIC,
        "How much is Kazakhstan asking in damages for the Proton rocket accident?",
        "Baikonur lease",
        "GLONASS satellites launch delay",
        "What did Lisitsin say about commercial space tourism and wealthy travellers?",
        "",
    ],
)
def test_standalone_questions_are_not_follow_ups(question: str) -> None:
    assert not is_follow_up(question)


def test_searched_text_combines_with_the_topic_only_when_enabled() -> None:
    assert searched_text("and China?", TOPIC) == (
        "and China? state space cooperation Kazakhstan",
        True,
    )
    assert searched_text("and China?", TOPIC, enabled=False) == ("and China?", False)
    assert searched_text("and China?", None) == ("and China?", False)
    assert searched_text("Baikonur lease", TOPIC) == ("Baikonur lease", False)


def test_a_chain_of_follow_ups_stays_on_the_first_topic() -> None:
    conversation = Conversation()
    settings = Settings()
    first = conversation.new_turn(TOPIC, settings)
    second = conversation.new_turn("and what did China say?", settings)
    third = conversation.new_turn("what about Ukraine?", settings)
    fresh = conversation.new_turn("Baikonur lease payments", settings)
    after = conversation.new_turn("and  the  damages?", settings)
    assert not first.combined and first.searched == TOPIC
    assert second.searched == "and what did China say? state space cooperation Kazakhstan"
    assert third.searched == "what about Ukraine? state space cooperation Kazakhstan"
    assert not fresh.combined
    assert after.question == "and the damages?"
    assert after.searched == "and the damages? Baikonur lease payments"
    assert [t.id for t in conversation.turns] == [1, 2, 3, 4, 5]
    conversation.clear()
    assert not conversation.new_turn("and China?", settings).combined


def test_settings_cycle_modes_and_list_active_filters() -> None:
    settings = Settings(filters=Filters(origin="Moscow", doc_id="07MOSCOW5292"))
    assert [settings.mode, settings.next_mode().mode, settings.next_mode().next_mode().mode] == [
        "hybrid",
        "dense",
        "lexical",
    ]
    assert settings.next_mode().next_mode().next_mode().mode == "hybrid"
    assert settings.active_filters() == [("origin", "Moscow"), ("doc", "07MOSCOW5292")]
    assert Settings().active_filters() == []


def test_until_dates_cover_the_whole_period() -> None:
    from qa.models import date_bound

    assert date_bound("2007", upper=True) == "2007-12-31"
    assert date_bound("2007-11", upper=True) == "2007-11-31"
    assert date_bound("2007-11-07", upper=True) == "2007-11-07"


def test_index_command_is_exact_and_quoted() -> None:
    assert index_command(Path("corpus"), Path("index")) == "qa index --corpus corpus --index index"
    assert (
        index_command(Path("my corpus"), Path("ix")) == "qa index --corpus 'my corpus' --index ix"
    )


def test_passage_content_emphasises_the_highlight_and_keeps_text_literal() -> None:
    text = "First line\nwraps here. [bold]Key[/bold] \x1b[31mfact\x1b[0m here.\n\nNext block."
    start = text.index("[bold]")
    end = text.index("here.", start) + len("here.")
    content = passage_content(text, (start, end))
    assert content.plain == "First line wraps here. [bold]Key[/bold] fact here.\n\nNext block."
    emphasised = [content.plain[s.start : s.end] for s in content.spans]
    assert emphasised == ["[bold]Key[/bold] fact here."]


def test_card_shows_citation_metadata_and_score() -> None:
    hit = make_hit("¶3. Kazakhstan seeks $60 million.", heading="Baikonur")
    plain = card_content(hit).plain
    lines = plain.split("\n")
    assert lines[0].startswith("07MOSCOW5292 ¶3  ROSCOSMOS")
    assert "Embassy Moscow · 2007-11-07 · UNCLASSIFIED" in lines[1]
    assert "§Baikonur" in lines[1] and "score 0.033" in lines[1]
    assert lines[2] == "¶3. Kazakhstan seeks $60 million."


def test_markdown_export_has_every_citation_and_passage(tmp_path: Path) -> None:
    conversation = Conversation()
    settings = Settings(filters=Filters(origin="Moscow"))
    turn = conversation.new_turn(TOPIC, settings)
    text = "¶3. Lisitsin admitted problems.\nKazakhstan seeks about\n$60 million in damages."
    start = text.index("Kazakhstan")
    turn.hits = [
        make_hit(text, (start, len(text))),
        make_hit("¶1. Summary.", None, rank=2, label="¶1", paragraph=1),
    ]
    follow = conversation.new_turn("and China?", settings)
    follow.error = "the index is damaged"
    markdown = conversation_markdown(conversation.turns, index="index")
    assert f"## 1. {TOPIC}" in markdown
    assert "### 1. 07MOSCOW5292 ¶3 — ROSCOSMOS" in markdown
    assert "### 2. 07MOSCOW5292 ¶1" in markdown
    assert (
        "> ¶3. Lisitsin admitted problems. **Kazakhstan seeks about $60 million in damages.**"
        in (markdown)
    )
    assert "Search: mode hybrid, origin Moscow" in markdown
    assert "Searched (follow-up): and China? state space cooperation Kazakhstan" in markdown
    assert "_No answer: the index is damaged_" in markdown
    written = write_markdown(tmp_path / "out" / "c.md", markdown)
    assert written.read_text(encoding="utf-8") == markdown
    assert not [p for p in written.parent.iterdir() if p.name.startswith(".")]


def test_lifecycle_keeps_the_index_and_the_model_apart() -> None:
    start = Lifecycle()
    assert (start.index, start.model) == (IndexState.OPENING, ModelState.UNLOADED)
    assert start.accepts_questions and start.waiting
    assert not start.can_search and not start.can_build and not start.settled
    loading = start.opened(model_loaded=False)
    assert loading.model is ModelState.LOADING and loading.waiting and not loading.can_search
    ready = loading.model_loaded()
    assert ready.can_search and ready.settled and not ready.waiting
    assert start.opened(model_loaded=True) == ready
    failed = loading.model_failed()
    assert failed.settled and not failed.can_search and failed.accepts_questions


def test_lifecycle_builds_only_a_missing_index() -> None:
    missing = Lifecycle().missing()
    assert missing == Lifecycle(IndexState.MISSING, ModelState.UNLOADED)
    assert missing.can_build and not missing.accepts_questions and not missing.waiting
    building = missing.building()
    assert building.index is IndexState.BUILDING
    assert not building.can_build and not building.accepts_questions
    assert building.missing().can_build  # the build ended (done or failed)
    assert Lifecycle().opened(model_loaded=True).missing().model is ModelState.UNLOADED


def test_question_queue_runs_one_search_at_a_time_in_order() -> None:
    queue = QuestionQueue()
    assert queue.start_next() is None and queue.finish() is None
    for turn_id in (1, 2, 3):
        queue.add(turn_id)
    assert queue.start_next() == 1 and queue.searching == 1
    assert queue.start_next() is None  # 1 is still being searched
    assert queue.finish() == 1 and queue.searching is None
    assert queue.start_next() == 2 and len(queue) == 1
    assert queue.drain() == [3] and len(queue) == 0
    queue.add(4)
    queue.clear()
    assert len(queue) == 0 and queue.searching == 2  # a running search is not forgotten
    assert queue.finish() == 2 and queue.start_next() is None


def test_terminal_safe_text_drops_escapes_and_reflows() -> None:
    hostile = "Title \x1b[31mred\x1b[0m \x1b]0;owned\x07bell\x00 [bold]x[/bold]"
    assert terminal_safe(hostile) == "Title red bell [bold]x[/bold]"
    assert one_line(" a\n\tb \x1b[2J c ") == "a b c"
    assert reflow("one\ntwo\n \nthree\n\n\n") == "one two\n\nthree"


def test_tui_modules_import_without_torch_or_faiss() -> None:
    """The first frame must not wait for torch: importing the app stays light."""
    code = "import tui.app, tui.cli, sys; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    assert not {"torch", "sentence_transformers", "faiss"} & set(out)


def test_tui_never_imports_cli_code() -> None:
    """Shared text helpers live in ``qa.text``; the CLI's renderers are the CLI's own."""
    for path in sorted((ROOT / "tui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):  # ``from qa import cli`` counts too
                modules = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for module in modules:
                assert module.split(".")[:2] not in (["qa", "cli"], ["qa", "cli_output"]), path
