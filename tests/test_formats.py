"""``--format`` for ``qa ask`` and ``qa eval``, and ``qa completion`` (issue 17).

Pure renderers on concrete hits (CSV read back with ``csv.reader``: commas, quotes,
line breaks and markup survive), then the CLI over the seed index: CSV cells equal the
JSON fields, one header for a batch, Markdown identical to the TUI's export of the same
turn, JSON as one array for a batch, and the completion scripts a shell accepts.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import cli
from qa.cli.formats import CSV_COLUMNS, AnswerWriter, eval_text
from qa.evaluate import METRICS, ModeResult
from qa.markdown import search_line
from qa.models import Answer, Filters, Hit, Mode
from qa.search.answer import cited_answer
from tui.export import conversation_markdown
from tui.session import Settings, Turn

DAMAGES = "How much did Kazakhstan seek in damages?"
DAMAGES_SENTENCE = "Kazakhstan reportedly seeks about $60 million in damages for the accident."
BAIKONUR = "Who runs the Baikonur launch site?"
HOSTILE_TEXT = (
    'He said, "pay $60,000,000" — now.\nSecond line, with [bold]markup[/bold]; '
    "a \"quote\" and 'single'.\r\n\nThird, after a blank line: =SUM(A1:A2), @x"
)


def hostile_hit(rank: int = 1) -> Hit:
    sentence = 'He said, "pay $60,000,000" — now.'
    return Hit(
        rank=rank,
        passage_id=7,
        doc_id="07MOSCOW5292",
        label="¶3",
        paragraph=3,
        score=2.5714286,
        text=HOSTILE_TEXT,
        heading="",
        title='SUBJECT, WITH "QUOTES", COMMAS\nAND A BREAK',
        date="2007-11-07",
        origin="Embassy Moscow",
        classification="UNCLASSIFIED//FOR OFFICIAL USE ONLY",
        source="07MOSCOW5292.txt",
        highlight=(0, len(sentence)),
        paragraph_class=None,
        kind="cable",
    )


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# -- pure renderers -------------------------------------------------------------------------


def test_csv_round_trips_commas_quotes_newlines_and_markup() -> None:
    answer = Answer('a question, "quoted"', [hostile_hit(1), hostile_hit(2)], 0.7, True)
    writer = AnswerWriter("csv", Mode.HYBRID, Filters(), batch=True)
    text = writer.opening() + writer.answer(answer, 12.0) + writer.closing()
    assert text.startswith(",".join(CSV_COLUMNS) + "\r\n")  # the csv module's own rows
    header, *rows = read_csv(text)
    assert header == list(CSV_COLUMNS)
    assert len(rows) == 2 and [r[1] for r in rows] == ["1", "2"]
    row = dict(zip(header, rows[0], strict=True))
    assert row["question"] == 'a question, "quoted"'
    assert row["text"] == HOSTILE_TEXT  # \r\n, the blank line, [bold] and =SUM kept as is
    assert row["title"] == 'SUBJECT, WITH "QUOTES", COMMAS\nAND A BREAK'
    assert row["highlight_text"] == 'He said, "pay $60,000,000" — now.'
    assert row["citation"] == "07MOSCOW5292 ¶3" and row["paragraph"] == "3"
    assert row["paragraph_class"] == "" and row["score"] == "2.571429"


def test_csv_batch_has_one_header_and_failures_add_no_rows() -> None:
    writer = AnswerWriter("csv", Mode.HYBRID, Filters(), batch=True)
    parts = [writer.opening(), writer.answer(Answer("q1", [hostile_hit()], 0.7, True), 1.0)]
    parts += [writer.failure("q2", "the question is empty")]
    parts += [writer.answer(Answer("q3", [], 0.1, False), 1.0), writer.closing()]
    rows = read_csv("".join(parts))
    assert rows[0] == list(CSV_COLUMNS) and [r[0] for r in rows[1:]] == ["q1"]


def test_json_batch_is_one_array_and_jsonl_one_line_each() -> None:
    answers = [Answer(q, [hostile_hit()], float("nan"), True) for q in ("q1", "q2")]
    for fmt in ("json", "jsonl"):
        writer = AnswerWriter(fmt, Mode.HYBRID, Filters(), batch=True)
        text = writer.opening() + "".join(writer.answer(a, 3.0) for a in answers)
        text += writer.failure("q3", "bad") + writer.closing()
        if fmt == "json":
            [line] = text.splitlines()
            data = json.loads(line)
        else:
            data = [json.loads(line) for line in text.splitlines()]
        assert [d["question"] for d in data] == ["q1", "q2", "q3"]
        assert data[0]["results"][0]["text"] == HOSTILE_TEXT
        assert data[0]["best_similarity"] is None and data[2]["error"] == "bad"


def test_markdown_turns_are_numbered_in_a_batch_and_say_why_one_failed() -> None:
    filters = Filters(doc_id="07MOSCOW5292", since="2007-01-01")
    writer = AnswerWriter("markdown", Mode.LEXICAL, filters, batch=True)
    text = writer.answer(Answer("q1", [hostile_hit()], 0.7, True), 1.0)
    text += writer.failure("q2", "the question is empty")
    assert text.startswith("## 1. q1\n\nSearch: mode lexical, since 2007-01-01, doc 07MOSCOW5292")
    assert '**Answer:** He said, "pay $60,000,000" — now. [07MOSCOW5292 ¶3 (unmarked)]' in text
    assert "### 1. 07MOSCOW5292 ¶3 (unmarked) — SUBJECT, WITH" in text
    assert "> **He said," in text and "[bold]markup[/bold]" in text
    assert text.endswith(
        "\n\n## 2. q2\n\nSearch: mode lexical, since 2007-01-01, doc 07MOSCOW5292"
        "\n\n_No answer: the question is empty_\n"
    )
    single = AnswerWriter("markdown", Mode.HYBRID, Filters())
    assert single.answer(Answer("q1", [], 0.1, False), 1.0).startswith("## q1\n")


def test_eval_table_formats_hold_every_row() -> None:
    overall = dict.fromkeys(METRICS, 0.5)
    by_kind = {"natural": dict.fromkeys(METRICS, 0.25), "key|words": dict.fromkeys(METRICS, 1.0)}
    results = {"hybrid": ModeResult(overall, by_kind, run={}), "dense": ModeResult(overall, {}, {})}
    rows = read_csv(eval_text("csv", "dev", 40, results))
    assert rows[0] == ["mode", "kind", *METRICS]
    assert [r[:2] for r in rows[1:]] == [
        ["hybrid", "all"],
        ["hybrid", "natural"],
        ["hybrid", "key|words"],
        ["dense", "all"],
    ]
    assert rows[2][2:] == ["0.25"] * len(METRICS)
    lines = [json.loads(line) for line in eval_text("jsonl", "dev", 40, results).splitlines()]
    assert lines[3] == {"mode": "dense", "kind": "all", **overall}
    markdown = eval_text("markdown", "dev", 40, results).splitlines()
    assert markdown[0] == "**dev**: 40 questions"
    assert markdown[2] == "| mode | kind | " + " | ".join(METRICS) + " |"
    assert markdown[6] == "| hybrid | key\\|words | " + " | ".join(["1.000"] * len(METRICS)) + " |"


# -- the CLI over the seed index ------------------------------------------------------------


def test_ask_csv_cells_equal_the_json_fields(seed_index: Path) -> None:
    runner = CliRunner()
    args = ["ask", DAMAGES, "-k", "3", "--index", str(seed_index)]
    as_csv = runner.invoke(cli, [*args, "--format", "csv"])
    as_json = runner.invoke(cli, [*args, "--format", "json"])
    assert as_csv.exit_code == 0 and as_json.exit_code == 0, as_csv.output + as_json.output
    header, *rows = read_csv(as_csv.stdout)
    assert header == list(CSV_COLUMNS) and len(rows) == 3
    results = json.loads(as_json.stdout)["results"]
    for row, result in zip(rows, results, strict=True):
        cells = dict(zip(header, row, strict=True))
        for key in ("citation", "doc_id", "date", "origin", "title", "text"):
            assert cells[key] == result[key], key
        assert cells["question"] == DAMAGES and cells["rank"] == str(result["rank"])
        assert float(cells["score"]) == pytest.approx(result["score"], abs=1e-6)
    first = dict(zip(header, rows[0], strict=True))
    assert first["citation"] == "07MOSCOW5292 ¶3" and first["paragraph"] == "3"
    assert first["paragraph_class"] == "SBU"
    assert " ".join(first["highlight_text"].split()) == DAMAGES_SENTENCE
    assert "\n" in first["text"] and first["highlight_text"] in first["text"]


def test_ask_batch_csv_has_one_header_for_every_question(seed_index: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["ask", "-", "-k", "2", "--format", "csv", "--index", str(seed_index)],
        input=f"{DAMAGES}\n\n{BAIKONUR}\n",
    )
    assert result.exit_code == 0, result.output
    header, *rows = read_csv(result.stdout)
    assert header == list(CSV_COLUMNS)
    assert [(r[0], r[1]) for r in rows] == [
        (DAMAGES, "1"),
        (DAMAGES, "2"),
        (BAIKONUR, "1"),
        (BAIKONUR, "2"),
    ]
    assert rows[0][2] == "07MOSCOW5292 ¶3"


def test_ask_markdown_is_the_tui_export_of_the_same_turn(seed_index: Path) -> None:
    from qa.factory import open_searcher

    result = CliRunner().invoke(
        cli,
        ["ask", "-", "-k", "2", "--format", "markdown", "--index", str(seed_index)],
        input=f"{DAMAGES}\n",
    )
    assert result.exit_code == 0, result.output
    searcher = open_searcher(seed_index)
    try:
        answer = searcher.ask(DAMAGES, k=2)
    finally:
        searcher.close()
    turn = Turn(
        1,
        DAMAGES,
        DAMAGES,
        False,
        DAMAGES,
        Settings(),
        hits=answer.hits,
        relevant=answer.relevant,
        answer=cited_answer(answer),
    )
    exported = conversation_markdown([turn])
    assert exported == "# Pilcrow conversation\n\n" + result.stdout
    assert f"**Answer:** {DAMAGES_SENTENCE} [07MOSCOW5292 ¶3" in result.stdout
    assert "### 1. 07MOSCOW5292 ¶3 (SBU) — ROSCOSMOS ON SPACE COOPERATION" in result.stdout
    assert f"**{DAMAGES_SENTENCE}**" in result.stdout
    assert search_line(Mode.HYBRID, Filters()) in result.stdout


def test_ask_json_forms_and_a_disagreeing_pair(seed_index: Path) -> None:
    runner = CliRunner()
    index = ["--index", str(seed_index), "-k", "1"]
    short = runner.invoke(cli, ["ask", DAMAGES, "--json", *index]).stdout
    long = runner.invoke(cli, ["ask", DAMAGES, "--format", "json", *index]).stdout
    assert len(short.splitlines()) == 1 and json.loads(short)["results"][0]["citation"] == (
        "07MOSCOW5292 ¶3"
    )
    drop = lambda s: {k: v for k, v in json.loads(s).items() if k != "took_ms"}  # noqa: E731
    assert drop(short) == drop(long)
    batch = runner.invoke(cli, ["ask", "-", "--json", *index], input=f"{DAMAGES}\n{BAIKONUR}\n")
    assert [a["question"] for a in json.loads(batch.stdout)] == [DAMAGES, BAIKONUR]
    both = runner.invoke(cli, ["ask", DAMAGES, "--json", "--format", "csv", *index])
    assert both.exit_code == 2 and both.stdout == ""
    assert "--json means --format json, not --format csv" in both.stderr


def test_eval_formats_over_the_seed_index(seed_index: Path, tmp_path: Path) -> None:
    questions = tmp_path / "dev.jsonl"
    items = [
        {"id": "1", "question": DAMAGES, "kind": "natural", "doc": "07MOSCOW5292", "gold": [3]},
        {
            "id": "2",
            "question": "Baikonur damages",
            "kind": "keywords",
            "doc": "07MOSCOW5292",
            "gold": [3],
        },
    ]
    questions.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    args = ["eval", str(questions), "--mode", "lexical", "--index", str(seed_index)]
    runner = CliRunner()
    as_csv = runner.invoke(cli, [*args, "--format", "csv"])
    assert as_csv.exit_code == 0, as_csv.output
    rows = read_csv(as_csv.stdout)
    assert rows[0] == ["mode", "kind", *METRICS]
    assert [r[:2] for r in rows[1:]] == [
        ["lexical", "all"],
        ["lexical", "keywords"],
        ["lexical", "natural"],
    ]
    as_json = json.loads(runner.invoke(cli, [*args, "--json"]).stdout)
    assert float(rows[1][2]) == as_json["modes"]["lexical"]["recall@1"]
    markdown = runner.invoke(cli, [*args, "--format", "markdown"]).stdout
    assert markdown.startswith("**dev**: 2 questions\n\n| mode | kind | recall@1")


# -- qa completion --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _qa_completion qa"),
        ("zsh", "#compdef qa"),
        ("fish", "complete --no-files --command qa"),
    ],
)
def test_completion_prints_clicks_script(shell: str, marker: str) -> None:
    result = CliRunner().invoke(cli, ["completion", shell])
    assert result.exit_code == 0 and marker in result.stdout
    assert f"_QA_COMPLETE={shell}_complete" in result.stdout
    assert CliRunner().invoke(cli, ["completion", "tcsh"]).exit_code == 2


def test_completion_script_installs_and_completes_in_bash() -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash to load the completion script into")
    qa_dir = str(Path(sys.executable).parent)  # the venv's `qa`
    env = {**os.environ, "PATH": f"{qa_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    script = 'eval "$(qa completion bash)" && complete -p qa'
    loaded = subprocess.run([bash, "-c", script], capture_output=True, text=True, env=env)
    assert loaded.returncode == 0 and "_qa_completion" in loaded.stdout, loaded.stderr
    env.update(COMP_WORDS="qa comp", COMP_CWORD="1", _QA_COMPLETE="bash_complete")
    asked = subprocess.run(["qa"], capture_output=True, text=True, env=env, timeout=60)
    assert asked.stdout.split() == ["plain,completion"]
