"""Hostile and messy corpus files at the indexer level (through `qa index`, in process).

Old encodings and line endings are decoded and indexed; every file that cannot be
indexed gets exactly one warning line naming it and the reason, the rest of the corpus
is indexed, the summary counts the skipped files and the exit code is 3 ("partial").
The parsers themselves are property-tested in tests/test_ingest*.py.
"""

from __future__ import annotations

import json
import os
import pathlib
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa.check import check_index
from qa.cli import cli
from qa.ingest import parse_file
from qa.ingest.listing import Listing
from tests.conftest import SEEDS, cable_path

LATIN1 = (
    "Caf\u00e9 society in S\u00e3o Paulo\n\n"
    "Le ministre a d\u00e9clar\u00e9 que la r\u00e9union \u00e9tait tr\u00e8s importante "
    "pour l'\u00e9conomie, na\u00efve fa\u00e7ade or not.\n\n"
    "Se\u00f1or Mu\u00f1oz dijo: \u00ab\u00bfQu\u00e9 pas\u00f3?\u00bb "
    "1999 \u00b1 2 \u00b0C.\n"
)
CP1252 = (
    "\u201cSmart quotes\u201d from an old Windows editor\r\n\r\n"
    "It\u2019s the minister\u2019s view \u2013 and the opposition\u2019s \u2014 that "
    "\u20ac5 million is enough.\r\n\r\n"
    "A third paragraph \u2026 with an ellipsis.\r\n"
)
MIXED = (
    b"Mixed line endings report\r\n\r\nline one\r\nline two\rline three\n\nSecond para\r\rThird\n"
)
MARKUP = (
    "Rich [bold red]markup[/bold red] in a title\n\n"
    "A paragraph with [link=https://example.invalid]a link[/link], a \x1b[31mred\x1b[0m "
    "escape, a \x1b]0;window title\x07 and a bell \x07 in it.\n"
)


@dataclass(frozen=True)
class Bad:
    name: str  # as it appears in the warning
    reason: str


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Bad]]:
    """Seeds, good-but-messy files and one of every kind of bad file."""
    corpus = tmp_path_factory.mktemp("hostile-corpus")
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, corpus / seed.name)
        (corpus / seed.name).chmod(0o644)
    (corpus / "latin1.txt").write_bytes(LATIN1.encode("latin-1"))
    (corpus / "cp1252.txt").write_bytes(CP1252.encode("cp1252"))
    (corpus / "mixed.txt").write_bytes(MIXED)
    (corpus / "markup.txt").write_text(MARKUP, encoding="utf-8")
    oslo = cable_path("08OSLO461").read_bytes()
    (corpus / "08OSLO461.html").write_bytes(oslo.replace(b"\n", b"\r\n"))

    bad: list[Bad] = []

    def add(name: str, reason: str, data: bytes | None = None) -> None:
        if data is not None:
            (corpus / name).write_bytes(data)
        bad.append(Bad(name, reason))

    rng = random.Random(5)
    add("empty.txt", "empty file", b"")
    add("whitespace.md", "empty file", b"  \n\n\t \r\n")
    add("binary.txt", "binary file", bytes(rng.randrange(256) for _ in range(4096)) + b"\x00")
    add("nul.txt", "binary file", b"\x00" * 65536)
    add("huge.txt", "too large", b"word " * (4 * 2**20))  # 20 MB, one line
    add("one-line.txt", "no paragraph breaks", b"word " * 400_000)  # 2 MB, one line
    add("truncated.html", "no <pre> body", cable_path("06PARIS2069").read_bytes()[:3000])
    os.symlink("loop-b.txt", corpus / "loop-a.txt")
    os.symlink("loop-a.txt", corpus / "loop-b.txt")
    add("loop-a.txt", "symlink loop")
    add("loop-b.txt", "symlink loop")
    os.symlink("nowhere.txt", corpus / "dangling.txt")
    add("dangling.txt", "dangling symlink")
    os.mkfifo(corpus / "fifo.txt")
    add("fifo.txt", "not a regular file")
    add("unreadable.txt", "ermission denied", b"A perfectly good file nobody may read.\n")
    add("vanishing.txt", "file vanished", b"Here when listed, gone when read.\n")
    (corpus / "copies").mkdir()
    shutil.copy(SEEDS / "07MOSCOW5292.txt", corpus / "copies" / "07MOSCOW5292.txt")
    add("copies/07MOSCOW5292.txt", "document id 07MOSCOW5292 already comes from")
    add("evil\\nname.txt", "empty file")
    (corpus / "evil\nname\x1b[31m.txt").write_bytes(b"")
    try:
        with open(os.path.join(os.fsencode(corpus), b"caf\xe9.txt"), "wb") as fh:
            fh.write(b"Named in Latin-1.\n")
        add("caf\\xe9.txt", "file name is not valid UTF-8")
    except OSError:  # a filesystem that insists on UTF-8 names
        pass
    return corpus, bad


@pytest.fixture
def hostile_env(hostile: tuple[Path, list[Bad]], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Make unreadable.txt unreadable (chmod 000, or as root a PermissionError) and make
    vanishing.txt disappear between listing and reading."""
    corpus, bad = hostile
    unreadable = corpus / "unreadable.txt"
    if os.geteuid() != 0:
        unreadable.chmod(0)
    else:  # root reads anything: simulate the refusal the kernel would give a user
        real_read_bytes = pathlib.Path.read_bytes

        def read_bytes(self: Path) -> bytes:
            if self.name == "unreadable.txt":
                raise PermissionError(13, "Permission denied", str(self))
            return real_read_bytes(self)

        monkeypatch.setattr(pathlib.Path, "read_bytes", read_bytes)

    import qa.index.sources

    real_scan = qa.index.sources.scan

    def scan(root: Path) -> Listing:
        found = real_scan(root)
        vanishing = root / "vanishing.txt"
        vanishing.unlink(missing_ok=True)
        return found

    monkeypatch.setattr(qa.index.sources, "scan", scan)
    yield corpus, bad
    (corpus / "vanishing.txt").write_bytes(b"Here when listed, gone when read.\n")
    unreadable.chmod(0o644)


def _index(corpus: Path, index: Path):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(
        cli, ["index", "--corpus", str(corpus), "--index", str(index), "--json"]
    )


def test_hostile_files_are_each_reported_once_and_the_rest_is_indexed(
    hostile_env: tuple[Path, list[Bad]], tmp_path: Path
) -> None:
    corpus, bad = hostile_env
    index = tmp_path / "index"
    result = _index(corpus, index)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 3, result.output  # partial: indexed, but some files skipped
    summary = json.loads(result.stdout)
    assert summary["skipped"] == len(bad)
    assert summary["added"] == 7  # 2 seeds + latin1, cp1252, mixed, markup, CRLF cable

    warning_lines = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning_lines) == len(bad), "\n".join(warning_lines)
    assert "\x1b" not in result.stderr
    for item in bad:
        lines = [line for line in warning_lines if line.startswith(f"warning: {item.name}: ")]
        assert len(lines) == 1, (item, warning_lines)
        assert item.reason in lines[0], (item, lines[0])
    assert len(summary["warnings"]) == len(bad)

    report = check_index(index)
    assert report.ok, report.problems
    assert report.documents == 7

    # Nothing changed: the same files are reported again, nothing is re-indexed.
    (corpus / "vanishing.txt").write_bytes(b"Here when listed, gone when read.\n")
    again = _index(corpus, index)
    assert again.exit_code == 3, again.output
    summary = json.loads(again.stdout)
    assert (summary["added"], summary["changed"], summary["unchanged"]) == (0, 0, 7)
    assert summary["skipped"] == len(bad) and summary["generation"] == 1


def test_old_encodings_and_line_endings_are_decoded_not_skipped(
    hostile_env: tuple[Path, list[Bad]], tmp_path: Path
) -> None:
    corpus, _ = hostile_env
    index = tmp_path / "index"
    assert _index(corpus, index).exit_code == 3
    runner = CliRunner()

    def passages(doc_id: str) -> list[str]:
        result = runner.invoke(cli, ["show", doc_id, "--index", str(index), "--json"])
        assert result.exit_code == 0, result.output
        return [p["text"] for p in json.loads(result.stdout)["passages"]]

    latin1 = "\n".join(passages("latin1"))
    for phrase in ("S\u00e3o Paulo", "d\u00e9clar\u00e9", "na\u00efve fa\u00e7ade", "Mu\u00f1oz"):
        assert phrase in latin1
    cp1252 = "\n".join(passages("cp1252"))
    assert "\u201cSmart quotes\u201d" in cp1252 and "\u20ac5 million" in cp1252
    assert "\u2019s view \u2013 and" in cp1252
    mixed = passages("mixed")
    assert not any("\r" in text for text in mixed)
    assert any("line two\nline three" in text for text in mixed)
    crlf = passages("08OSLO461")
    clean = [p.text for p in parse_file(cable_path("08OSLO461")).passages]
    assert crlf == clean  # CRLF changes nothing: same passages, same citations

    result = runner.invoke(cli, ["ask", "minister's view smart quotes", "--index", str(index)])
    assert result.exit_code == 0, result.output


def test_markup_and_escapes_in_documents_are_shown_literally(
    hostile_env: tuple[Path, list[Bad]], tmp_path: Path
) -> None:
    corpus, _ = hostile_env
    index = tmp_path / "index"
    assert _index(corpus, index).exit_code == 3
    runner = CliRunner()
    for args in (
        ["show", "markup", "--index", str(index)],
        ["ask", "Rich markup in a title with a red escape", "--index", str(index), "-k", "3"],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "[bold red]markup[/bold red]" in result.stdout
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout


def test_half_downloaded_cable_page_is_reported(tmp_path: Path) -> None:
    """A page cut inside its body is skipped and named (exit 3), never indexed as a shorter
    cable: not on a first build, and an update keeps the whole version indexed before."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEEDS / "07MOSCOW5292.txt", corpus / "07MOSCOW5292.txt")
    page = cable_path("08OSLO461").read_bytes()
    body = page.find(b"<pre")
    cut = page[: (body + len(page)) // 2]
    (corpus / "08OSLO461.html").write_bytes(cut)
    result = _index(corpus, tmp_path / "first")
    assert result.exit_code == 3, result.output
    (line,) = [x for x in result.stderr.splitlines() if "08OSLO461.html" in x]
    assert "truncated cable page" in line and "never closed" in line
    assert json.loads(result.stdout)["documents"] == 1  # the seed only

    (corpus / "08OSLO461.html").write_bytes(page)
    index = tmp_path / "index"
    assert _index(corpus, index).exit_code == 0
    whole = parse_file(corpus / "08OSLO461.html").passages
    (corpus / "08OSLO461.html").write_bytes(cut)
    result = _index(corpus, index)
    assert result.exit_code == 3 and "08OSLO461.html: truncated cable page" in result.stderr
    assert json.loads(result.stdout)["skipped"] == 1 and json.loads(result.stdout)["removed"] == 0
    shown = CliRunner().invoke(cli, ["show", "08OSLO461", "--index", str(index), "--json"])
    assert shown.exit_code == 0, shown.output
    assert len(json.loads(shown.stdout)["passages"]) == len(whole) > 3
