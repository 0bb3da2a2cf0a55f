"""Honest signals (issue 16, items 6 to 10): file modes, dates, exit codes and JSON as
documented, absolute paths, and a closed stdout.

Each test fails on the code before the fix: files were created 0600 and an unreadable
vector file was called damaged; ``--since yesterday`` searched and found nothing; exit
code 7 and two JSON keys were undocumented and a missing corpus exited 1; ``qa paths``
printed relative paths; ``qa ... | head`` exited 1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.cli import cli
from qa.errors import ExitCode
from qa.fsutil import write_atomic
from qa.models import FILTER_FIELDS, date_bound
from tests.conftest import ROOT
from tests.test_data_loss import DROP_OVERRIDES

README = (ROOT / "README.md").read_text(encoding="utf-8")
KAZAKH_DAMAGES = "How much is Kazakhstan asking in damages for the Proton rocket accident?"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


# -- 6: files get the umask's mode; an unreadable file is a permission problem ------------


@pytest.mark.usefixtures("umask")
def test_written_files_get_the_mode_the_umask_gives(tmp_path: Path) -> None:
    assert write_atomic(tmp_path / "a.bin", b"12345") == 5
    assert _mode(tmp_path / "a.bin") == 0o644

    def write_at(tmp: Path) -> None:  # FAISS's way: the library opens the path itself
        tmp.write_bytes(b"x")

    write_atomic(tmp_path / "b.faiss", write_at)
    assert _mode(tmp_path / "b.faiss") == 0o644
    os.umask(0o027)
    write_atomic(tmp_path / "a.bin", "replaced")
    assert _mode(tmp_path / "a.bin") == 0o640
    assert (tmp_path / "a.bin").read_text() == "replaced"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.faiss"]  # no temp left


@pytest.mark.usefixtures("umask")
def test_the_vector_file_and_an_export_are_as_readable_as_the_database(
    seed_index: Path, tmp_path: Path
) -> None:
    from tui.export import write_markdown

    database = _mode(seed_index / "pilcrow.sqlite")
    (vector_file,) = seed_index.glob("vectors-*.faiss")
    assert _mode(vector_file) == database & 0o666  # 0644 under the usual umask
    exported = write_markdown(tmp_path / "notes.md", "# Pilcrow conversation\n")
    assert _mode(exported) == 0o644


@pytest.mark.parametrize(
    "command", [["ask", KAZAKH_DAMAGES], ["index", "--check"]], ids=["ask", "check"]
)
def test_an_unreadable_vector_file_is_reported_as_a_permission_problem(
    seed_index: Path, tmp_path: Path, command: list[str]
) -> None:
    """``qa ask`` and ``qa index --check`` alike: one line naming the file and its mode,
    exit 1, never "damaged: run `qa index --rebuild`" (exit 5), which would not help."""
    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    prefix = DROP_OVERRIDES if os.geteuid() == 0 else []
    if prefix and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot bind")
    (vector_file,) = index.glob("vectors-*.faiss")
    vector_file.chmod(0o000)
    probe = [sys.executable, "-c", "import sys; open(sys.argv[1], 'rb')", str(vector_file)]
    if subprocess.run([*prefix, *probe], capture_output=True).returncode == 0:
        pytest.skip("cannot drop the permission override here")
    qa = [sys.executable, "-m", "qa", *command, "--index", str(index)]
    proc = subprocess.run([*prefix, *qa], capture_output=True, text=True, timeout=120)
    assert proc.returncode == ExitCode.ERROR, proc.stderr
    assert proc.stderr.startswith(f"Error: {vector_file}: permission denied (mode ----------")
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "damaged" not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr


# -- 7: dates are checked in one place ------------------------------------------------------


@pytest.mark.parametrize("bad", ["yesterday", "2020-13-01", "2021-02-30", "07-11-2007", "0000"])
def test_a_bad_date_is_a_usage_error(seed_index: Path, bad: str) -> None:
    for flag in ("--since", "--until"):
        result = CliRunner().invoke(cli, ["ask", "damages", flag, bad, "--index", str(seed_index)])
        assert result.exit_code == ExitCode.USAGE, result.output
        assert f"Invalid value for '{flag}': '{bad}' is not a date" in result.stderr
        assert "YYYY, YYYY-MM or YYYY-MM-DD" in result.stderr


def test_until_a_year_means_through_its_last_day(seed_index: Path) -> None:
    args = ["ask", KAZAKH_DAMAGES, "--index", str(seed_index), "--json", "--mode", "lexical"]
    result = CliRunner().invoke(cli, [*args, "--doc", "07MOSCOW5292", "--until", "2007"])
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)["results"]
    assert results and results[0]["citation"] == "07MOSCOW5292 ¶3"  # dated 2007-11-07
    assert date_bound("2007-11", upper=True) == "2007-11-31"
    assert date_bound(" 2007-11-07 ") == "2007-11-07"


def test_the_tui_filters_screen_uses_the_same_check() -> None:
    from tui.screens.filters import validators

    since = next(f for f in FILTER_FIELDS if f.name == "since")
    (check,) = validators(since)
    assert not check.validate("2020-13-01").is_valid  # the old pattern let it through
    assert not check.validate("yesterday").is_valid
    assert check.validate("2007-11").is_valid
    with pytest.raises(ValueError, match="'2020-13-01' is not a date"):
        since.value("2020-13-01")


# -- 8: exit codes and JSON as the README says ----------------------------------------------


def test_the_readme_lists_exactly_the_exit_codes() -> None:
    paragraph = README[README.index("Exit codes:") :].split("\n\n")[0]
    listed = {
        int(code) for code in re.findall(r"(?:codes:|·)\s*(\d+) ", paragraph.replace("\n", " "))
    }
    assert listed == {code.value for code in ExitCode}


def test_every_key_of_ask_json_is_documented(seed_index: Path) -> None:
    result = CliRunner().invoke(cli, ["ask", KAZAKH_DAMAGES, "--index", str(seed_index), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["relevant"] is True and 0.38 <= data["best_similarity"] <= 1
    documented = README[README.index("`qa ask --json` prints") :].split("\n- ")[0]
    for key in [*data, *data["results"][0]]:
        assert f'"{key}"' in documented, f"README does not document {key!r} of qa ask --json"


def test_a_missing_corpus_and_a_file_are_both_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("not a folder\n", encoding="utf-8")
    for corpus in ("missing", "file.txt"):
        result = CliRunner().invoke(
            cli, ["index", "--corpus", str(tmp_path / corpus), "--index", str(tmp_path / "ix")]
        )
        assert result.exit_code == ExitCode.USAGE, (corpus, result.output)
        assert corpus in result.stderr


# -- 9: qa paths prints absolute paths ------------------------------------------------------


def test_paths_are_absolute_whatever_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PILCROW_CORPUS", raising=False)
    monkeypatch.setenv("PILCROW_INDEX", "../elsewhere/index")
    result = CliRunner().invoke(cli, ["paths", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["corpus"] == str(tmp_path / "corpus")
    assert data["index"] == str(tmp_path.parent / "elsewhere" / "index")
    assert data["database"] == str(tmp_path.parent / "elsewhere" / "index" / "pilcrow.sqlite")
    text = CliRunner().invoke(cli, ["paths"]).stdout
    assert f"corpus    {tmp_path / 'corpus'}\n" in text


# -- 10: a closed stdout ends a command cleanly ----------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["paths"],
        ["show", "07MOSCOW5292", "--index", "{index}"],
        ["ask", KAZAKH_DAMAGES, "--index", "{index}"],
        ["ask", KAZAKH_DAMAGES, "--index", "{index}", "--json"],
    ],
)
def test_a_reader_that_stops_reading_ends_the_command_cleanly(
    seed_index: Path, args: list[str]
) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader has gone (`| head -1` after its line) before qa writes
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "qa", *(a.format(index=seed_index) for a in args)],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no traceback, no "Exception ignored ... BrokenPipeError"


def test_head_gets_its_line_and_qa_exits_zero(seed_index: Path) -> None:
    command = f"{sys.executable} -m qa show 07MOSCOW5292 --index {seed_index} | head -1"
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("07MOSCOW5292") and proc.stdout.count("\n") == 1
    assert proc.stderr == ""


BROKEN_ELSEWHERE = """
import os, sys, click
from qa.cli.group import QAGroup

@click.group(cls=QAGroup)
def group() -> None: ...

@group.command()
def own_pipe() -> None:
    click.echo("before")
    read, write = os.pipe()
    os.close(read)
    os.write(write, b"x")  # a pipe of the command's own, its reader gone; stdout is fine

@group.command()
def closed_stderr() -> None:
    from rich.console import Console
    click.echo("before")
    Console(stderr=True).print("a warning")  # stderr's reader has gone, stdout's has not

group()
"""


def test_a_pipe_broken_elsewhere_than_stdout_is_an_error() -> None:
    own = subprocess.run(
        [sys.executable, "-c", BROKEN_ELSEWHERE, "own-pipe"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (own.returncode, own.stdout) == (ExitCode.ERROR, "before\n"), own.stderr
    assert own.stderr == "Error: broken pipe, not stdout: [Errno 32] Broken pipe\n"
    read, write = os.pipe()
    os.close(read)
    try:
        closed = subprocess.run(
            [sys.executable, "-c", BROKEN_ELSEWHERE, "closed-stderr"],
            stdout=subprocess.PIPE,
            stderr=write,
            timeout=60,
        )
    finally:
        os.close(write)
    assert closed.returncode == ExitCode.ERROR  # nowhere to say why: the code must
