"""The embedding package's own rules, without a model: quiet loads that configure nothing."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from qa.embed.quiet import quiet_library
from tests.conftest import ROOT


def _record(name: str, level: int, pathname: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, pathname, 1, "advice", None, None)


def test_quiet_library_drops_only_that_librarys_records_and_restores(
    caplog: pytest.LogCaptureFixture,
) -> None:
    root, own = logging.getLogger(), logging.getLogger("onnxruntime")
    before = (own.level, list(root.filters), list(root.handlers))
    library_file = str(Path("site-packages") / "onnxruntime" / "quantization" / "quantize.py")
    caplog.set_level(logging.INFO)
    with quiet_library("onnxruntime"):
        assert own.level == logging.ERROR
        root.handle(_record("root", logging.WARNING, library_file))  # logging.warning(...)
        root.handle(_record("root", logging.ERROR, library_file))
        root.handle(_record("root", logging.WARNING, str(Path("qa") / "indexer.py")))
        logging.getLogger("qa.other").warning("kept")
    kept = [(r.levelno, r.pathname) for r in caplog.records]
    assert (logging.WARNING, library_file) not in kept
    assert (logging.ERROR, library_file) in kept
    assert (logging.WARNING, str(Path("qa") / "indexer.py")) in kept
    assert any(r.getMessage() == "kept" for r in caplog.records)
    assert (own.level, list(root.filters), list(root.handlers)) == before


def test_embedding_code_reads_the_environment_only_through_locations() -> None:
    """Every ``PILCROW_*`` knob of the embedding code has its one home in locations.py."""
    for path in (ROOT / "qa" / "embed").rglob("*.py"):
        assert not re.search(r"environ\b[^\n]*PILCROW_", path.read_text()), path
