"""The `qa` command end to end, through click's runner (real index, real model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import cli

KAZAKH_DAMAGES = "How much is Kazakhstan asking in damages for the Proton rocket accident?"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_every_command_has_help(runner: CliRunner) -> None:
    for name in cli.list_commands(None):  # type: ignore[arg-type]
        if name == "tui":
            continue
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None and command.help, f"`qa {name}` has no help text"
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, result.output


def test_ask_finds_the_damages_paragraph(runner: CliRunner, seed_index: Path) -> None:
    result = runner.invoke(cli, ["ask", KAZAKH_DAMAGES, "--index", str(seed_index), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    first = data["results"][0]
    assert first["citation"] == "07MOSCOW5292 ¶3"
    assert (first["doc_id"], first["paragraph"], first["label"]) == ("07MOSCOW5292", 3, "¶3")
    assert first["date"].startswith("2007-11-07")
    assert first["origin"] == "Embassy Moscow"
    start, end = first["highlight"]
    assert "$60 million" in first["text"][start:end]
    assert set(first) >= {
        "rank",
        "citation",
        "doc_id",
        "paragraph",
        "label",
        "score",
        "text",
        "title",
        "date",
        "origin",
        "classification",
        "source",
    }
    assert len(data["results"]) == 5 and "took_ms" in data


def test_ask_article_question(runner: CliRunner, seed_index: Path) -> None:
    result = runner.invoke(
        cli, ["ask", "Kazcosmos delegation to Beijing", "--index", str(seed_index), "--json"]
    )
    first = json.loads(result.stdout)["results"][0]
    assert first["doc_id"] == "china-finds-eager-space-partners"
    assert first["citation"] == "china-finds-eager-space-partners ¶2"


def test_ask_text_output_shows_citation(runner: CliRunner, seed_index: Path) -> None:
    result = runner.invoke(cli, ["ask", KAZAKH_DAMAGES, "--index", str(seed_index), "-k", "2"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()  # the cited answer line, a blank line, the cards
    assert lines[0].startswith("Answer: ") and lines[0].endswith("[07MOSCOW5292 ¶3 (SBU)]")
    assert lines[2].startswith("1. 07MOSCOW5292 ¶3")
    assert "ROSCOSMOS ON SPACE COOPERATION" in result.stdout


def test_ask_stdin_batch_writes_json_lines(runner: CliRunner, seed_index: Path) -> None:
    questions = f"{KAZAKH_DAMAGES}\n\nKazcosmos delegation to Beijing\n"
    result = runner.invoke(
        cli, ["ask", "-", "--index", str(seed_index), "-k", "1"], input=questions
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["results"][0]["citation"] for line in lines] == [
        "07MOSCOW5292 ¶3",
        "china-finds-eager-space-partners ¶2",
    ]


@pytest.mark.parametrize(
    "question",
    ['"unbalanced', "NEAR(a b) AND -x*", "(((", "col:umn ^ {}", "[bold]markup[/bold]"],
)
def test_hostile_questions_do_not_break_search(
    runner: CliRunner, seed_index: Path, question: str
) -> None:
    result = runner.invoke(cli, ["ask", question, "--index", str(seed_index), "--json"])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)


def test_errors_are_one_line_with_exit_codes(
    runner: CliRunner, tmp_path: Path, seed_index: Path
) -> None:
    result = runner.invoke(cli, ["ask", "anything", "--index", str(tmp_path / "nope")])
    assert result.exit_code == 4
    assert result.stderr.startswith("Error: no index at") and "Traceback" not in result.output
    result = runner.invoke(cli, ["ask", "   ", "--index", str(seed_index)])
    assert result.exit_code == 2 and "question is empty" in result.stderr


def test_show_paragraph(runner: CliRunner, seed_index: Path) -> None:
    result = runner.invoke(cli, ["show", "07MOSCOW5292", "-p", "7", "--index", str(seed_index)])
    assert result.exit_code == 0, result.output
    assert "¶7" in result.stdout and "Lisitsin's downplaying of space tourism" in result.stdout
    assert "002.2 OF 002" not in result.stdout
    result = runner.invoke(cli, ["show", "07MOSCOW5292", "-p", "9", "--index", str(seed_index)])
    assert result.exit_code == 1 and "has no ¶9" in result.stderr


def test_index_json_summary(runner: CliRunner, tmp_path: Path) -> None:
    from tests.conftest import SEEDS

    args = ["index", "--corpus", str(SEEDS), "--index", str(tmp_path / "i"), "--json"]
    first = json.loads(runner.invoke(cli, args).stdout)
    assert set(first) >= {
        "added",
        "changed",
        "removed",
        "unchanged",
        "skipped",
        "passages",
        "passages_embedded",
        "seconds",
    }
    assert (first["added"], first["passages"]) == (2, 17)
    second = json.loads(runner.invoke(cli, args).stdout)
    assert (second["unchanged"], second["passages_embedded"]) == (2, 0)


def test_paths_honours_environment(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["paths", "--json"], env={"PILCROW_INDEX": str(tmp_path)})
    assert json.loads(result.stdout)["index"] == str(tmp_path)
