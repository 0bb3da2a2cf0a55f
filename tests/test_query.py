"""The question normalised once (``qa.search.query``), and the vocabulary of modes and filters."""

from __future__ import annotations

import dataclasses

import click
import pytest
from click.testing import CliRunner

from qa.cli import cli
from qa.cli.asking import ask
from qa.errors import UsageError
from qa.models import FILTER_FIELDS, Filters, Mode
from qa.search.query import MAX_QUESTION_CHARS, Query, clean_question
from tui.session import MODES, Settings, normalise_question


def test_query_collapses_whitespace_and_reads_cable_ids_once() -> None:
    query = Query.parse("  what did\t07moscow5292\n say of 10USNATO52 and 07MOSCOW5292? ")
    assert query.text == "what did 07moscow5292 say of 10USNATO52 and 07MOSCOW5292?"
    assert query.cable_ids == ("07MOSCOW5292", "10USNATO52")
    assert Query.parse("Proton damages 2007").cable_ids == ()


def test_query_replaces_lone_surrogates_and_caps_the_length() -> None:
    assert Query.parse("a\udcff b").text == "a? b"
    assert Query.parse("x " * 3000).text == ("x " * 3000)[:MAX_QUESTION_CHARS]
    assert len(clean_question("x " * 3000)) == 5999  # what is shown is not capped


@pytest.mark.parametrize("blank", ["", "  \t\n ", "\u00a0\u3000"])
def test_an_empty_question_is_a_usage_error(blank: str) -> None:
    with pytest.raises(UsageError, match="the question is empty"):
        Query.parse(blank)


def test_the_tui_normalises_by_the_same_rule() -> None:
    typed = "  Why did\n\nMoscow   object?\udcff "
    assert normalise_question(typed) == clean_question(typed) == "Why did Moscow object??"


def test_filter_fields_are_the_filters_attributes_in_order() -> None:
    assert [f.name for f in FILTER_FIELDS] == [f.name for f in dataclasses.fields(Filters)]
    assert Filters().is_empty() and Filters().active() == []
    filters = Filters(doc_id="07MOSCOW5292", origin="Moscow")
    assert not filters.is_empty()
    assert [(f.name, v) for f, v in filters.active()] == [
        ("origin", "Moscow"),
        ("doc_id", "07MOSCOW5292"),
    ]
    assert Settings(filters=filters).active_filters() == [
        ("origin", "Moscow"),
        ("doc", "07MOSCOW5292"),
    ]


def test_cli_filter_options_and_modes_come_from_the_vocabulary() -> None:
    options = {p.name: p for p in ask.params}
    for field in FILTER_FIELDS:
        assert options[field.name].opts == [field.flag]
    choice = options["mode"].type
    assert isinstance(choice, click.Choice) and tuple(choice.choices) == tuple(Mode)
    assert MODES == (Mode.HYBRID, Mode.DENSE, Mode.LEXICAL)
    result = CliRunner().invoke(cli, ["ask", "--help"])
    assert "--doc TEXT" in result.output and "--since YYYY-MM-DD" in result.output
