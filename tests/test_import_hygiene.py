"""The layers hold (import-linter contracts in pyproject.toml), the core never imports the
UI, and `qa --help` never imports torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return set(out.split())


def test_core_does_not_import_ui() -> None:
    modules = _modules_after(
        "import qa.cli, qa.search.searcher, qa.index, qa.store, qa.factory, qa.ingest, qa.evaluate"
    )
    assert not {m for m in modules if m == "textual" or m.startswith(("textual.", "tui"))}


def test_help_does_not_import_torch() -> None:
    modules = _modules_after(
        "from click.testing import CliRunner\nfrom qa.cli import cli\n"
        "CliRunner().invoke(cli, ['--help'])\nCliRunner().invoke(cli, ['ask', '--help'])"
    )
    assert "torch" not in modules
    assert "sentence_transformers" not in modules
    assert "faiss" not in modules


def test_import_contracts_are_kept() -> None:
    """Every contract in pyproject's [tool.importlinter] (the layers of docs/architecture.md)."""
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter), "--no-logo", "--no-cache"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 4 kept, 0 broken." in result.stdout, result.stdout
