"""Every PILCROW_* variable the code reads has one home (qa/locations.py) and is shown by
`qa paths`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import locations
from qa.cli import cli
from tests.conftest import ROOT

_NAME = re.compile(r"PILCROW_[A-Z0-9_]+")
_READ = re.compile(r"""(?:environ(?:\.get)?|getenv)\s*[\[(]\s*["']PILCROW_""")


def test_environment_is_read_only_in_locations() -> None:
    assert _READ.search('os.environ.get("PILCROW_X")')  # the rule can fail
    for path in sorted((ROOT / "qa").rglob("*.py")) + sorted((ROOT / "tui").rglob("*.py")):
        if path.name == "locations.py":
            continue
        assert not _READ.search(path.read_text(encoding="utf-8")), path


def test_every_variable_in_locations_is_registered() -> None:
    source = (ROOT / "qa" / "locations.py").read_text(encoding="utf-8")
    named = set(_NAME.findall(source))
    registered = {v.name for v in locations.VARIABLES}
    assert registered == named
    assert {"PILCROW_CORPUS", "PILCROW_INDEX", "PILCROW_GENERATION_PASSAGES"} <= registered


def test_paths_shows_every_variable(tmp_path: Path) -> None:
    env = {"PILCROW_THREADS": "1", "PILCROW_INDEX": str(tmp_path)}
    result = CliRunner().invoke(cli, ["paths", "--json"], env=env)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["index"] == str(tmp_path)
    assert set(shown["variables"]) == {v.name for v in locations.VARIABLES}
    assert shown["variables"]["PILCROW_THREADS"]["value"] == "1"
    text = CliRunner().invoke(cli, ["paths"], env=env).stdout
    for v in locations.VARIABLES:
        assert v.name in text


def test_an_unknown_bm25_setting_is_named_once_and_auto_applies(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PILCROW_BM25", "Tantivy ")
    assert locations.bm25_setting() == "tantivy"  # case and spaces forgiven
    monkeypatch.setenv("PILCROW_BM25", "lucene")
    with caplog.at_level("WARNING", logger="qa.locations"):
        assert locations.bm25_setting() == "auto"
        assert locations.bm25_setting() == "auto"
    warned = [r.getMessage() for r in caplog.records]
    assert warned == ["PILCROW_BM25='lucene' is not one of auto, tantivy, fts5: using auto"]
