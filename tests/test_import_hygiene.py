"""The core never imports the UI, and `qa --help` never imports torch."""

from __future__ import annotations

import subprocess
import sys

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
        "import qa.cli, qa.retrieve, qa.indexer, qa.store, qa.factory, qa.ingest, qa.evaluate"
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
