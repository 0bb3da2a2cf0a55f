"""Screenshots of the main states (pytest-textual-snapshot; `--snapshot-update` to accept).

Deterministic by construction: timings hidden, the index's update time pinned, the model
ready (no spinner) and the cursor not blinking before the screenshot is taken.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from textual.pilot import Pilot

from tests.conftest import SEEDS
from tests.test_tui import KAZAKH_DAMAGES, ask, open_first_card, wait_ready
from tui.app import PilcrowApp
from tui.widgets.question import QuestionInput
from tui.widgets.status import StatusBar

SIZE = (100, 30)
SnapCompare = Callable[..., bool]


async def steady(pilot: Pilot) -> None:
    """Pin what changes between runs: the update time and the blinking cursor."""
    status = pilot.app.query_one(StatusBar)
    if status.info is not None:
        status.info = replace(status.info, updated_at="2025-01-01T12:00:00+0000")
    pilot.app.query_one(QuestionInput).cursor_blink = False
    await pilot.pause()


def test_snapshot_empty_state(
    snap_compare: SnapCompare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(SEEDS, tmp_path / "corpus")

    async def run_before(pilot: Pilot) -> None:
        await wait_ready(pilot)
        await steady(pilot)

    app = PilcrowApp(Path("index"), Path("corpus"), show_timings=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_answer(snap_compare: SnapCompare, seed_index: Path) -> None:
    async def run_before(pilot: Pilot) -> None:
        await wait_ready(pilot)
        await ask(pilot, KAZAKH_DAMAGES)
        await steady(pilot)

    app = PilcrowApp(seed_index, show_timings=False)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_snapshot_source_pane(snap_compare: SnapCompare, seed_index: Path) -> None:
    async def run_before(pilot: Pilot) -> None:
        await wait_ready(pilot)
        await ask(pilot, KAZAKH_DAMAGES)
        await open_first_card(pilot)
        await steady(pilot)

    app = PilcrowApp(seed_index, show_timings=False)
    assert snap_compare(app, terminal_size=(120, 30), run_before=run_before)
