"""The UI's plain-Python parts: follow-up rules, conversation, rendering, export."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from qa.models import Filters, Hit
from tests.conftest import ROOT
from tui.export import conversation_markdown, write_markdown
from tui.followup import is_follow_up, searched_text
from tui.render import card_content, passage_content
from tui.screens.filters import until_bound
from tui.session import Conversation, Settings
from tui.widgets.empty import index_command

TOPIC = "What is the state of space cooperation with Kazakhstan?"


def make_hit(text: str, highlight: tuple[int, int] | None = None, **fields: object) -> Hit:
    values: dict[str, object] = {
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
    return Hit(**values)  # type: ignore[arg-type]


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
    assert searched_text("and China?", TOPIC) == (f"{TOPIC} and China?", True)
    assert searched_text("and China?", TOPIC, enabled=False) == ("and China?", False)
    assert searched_text("and China?", None) == ("and China?", False)
    assert searched_text("Baikonur lease", TOPIC) == ("Baikonur lease", False)


def test_a_chain_of_follow_ups_stays_on_the_first_topic() -> None:
    conversation = Conversation()
    settings = Settings()
    first = conversation.ask(TOPIC, settings)
    second = conversation.ask("and what did China say?", settings)
    third = conversation.ask("what about Ukraine?", settings)
    fresh = conversation.ask("Baikonur lease payments", settings)
    after = conversation.ask("and  the  damages?", settings)
    assert not first.combined and first.searched == TOPIC
    assert second.searched == f"{TOPIC} and what did China say?"
    assert third.searched == f"{TOPIC} what about Ukraine?"
    assert not fresh.combined
    assert after.question == "and the damages?"
    assert after.searched == "Baikonur lease payments and the damages?"
    assert [t.id for t in conversation.turns] == [1, 2, 3, 4, 5]
    conversation.clear()
    assert not conversation.ask("and China?", settings).combined


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
    assert until_bound("2007") == "2007-12-31"
    assert until_bound("2007-11") == "2007-11-31"
    assert until_bound("2007-11-07") == "2007-11-07"


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
    turn = conversation.ask(TOPIC, settings)
    text = "¶3. Lisitsin admitted problems.\nKazakhstan seeks about\n$60 million in damages."
    start = text.index("Kazakhstan")
    turn.hits = [
        make_hit(text, (start, len(text))),
        make_hit("¶1. Summary.", None, rank=2, label="¶1", paragraph=1),
    ]
    follow = conversation.ask("and China?", settings)
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
    assert f"Searched (follow-up): {TOPIC} and China?" in markdown
    assert "_No answer: the index is damaged_" in markdown
    written = write_markdown(tmp_path / "out" / "c.md", markdown)
    assert written.read_text(encoding="utf-8") == markdown
    assert not [p for p in written.parent.iterdir() if p.name.startswith(".")]


def test_tui_modules_import_without_torch_or_faiss() -> None:
    """The first frame must not wait for torch: importing the app stays light."""
    code = "import tui.app, tui.cli, sys; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    assert not {"torch", "sentence_transformers", "faiss"} & set(out)
