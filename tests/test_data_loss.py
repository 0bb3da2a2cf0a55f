"""Nothing indexed is lost without a word (issue 16, items 1 and 2).

A folder or file that cannot be read is not a deletion: its documents stay, it is named
on stderr and the run exits 3. A run that would remove every document, or more than
half of them and at least 3 (an empty, unmounted or mistyped corpus folder), is refused
with exit 2 and nothing changed, unless ``--allow-removal``.

Permission tests run ``qa index`` as a subprocess: as an ordinary user the permission
bits bind as they are; as root, ``setpriv`` drops the capabilities that override them
(skipped where neither works).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from qa import store
from qa.cli import cli
from qa.index.plan import REMOVAL_FLOOR, Plan, Removal, covered, removal
from qa.locations import db_path
from qa.store import StoredFile

DROP_OVERRIDES = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
ARTICLES = {
    "alpha.txt": "Alpha grain exports\n\nThe ministry reported record wheat exports to Egypt.",
    "beta.txt": "Beta pipeline talks\n\nThe pipeline consortium met in Baku on Tuesday.",
    "gamma.txt": "Gamma election monitors\n\nObservers counted ballots in three provinces.",
    "locked/inside.txt": "Inside the locked folder\n\nThe embassy cabled about fishing rights.",
}


# -- the rules, pure -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recorded", "removed", "refused"),
    [
        (2, 1, False),  # a 2-document index may lose one
        (2, 2, True),  # every document
        (1, 1, True),
        (3, 2, False),  # more than half, but fewer than REMOVAL_FLOOR
        (4, 3, True),
        (10, 5, False),  # half is allowed
        (10, 6, True),
        (1000, 400, False),
        (0, 0, False),  # a first build
    ],
)
def test_removal_is_refused_for_all_or_most_documents(
    recorded: int, removed: int, refused: bool
) -> None:
    assert REMOVAL_FLOOR == 3
    reason = Removal(recorded, removed).refusal()
    assert bool(reason) is refused
    if refused:
        assert f"remove {removed} of the {recorded} indexed documents" in reason
        assert reason.endswith("nothing was changed")  # how to go on: the caller's to say


def test_unreadable_paths_cover_what_is_under_them() -> None:
    assert covered("locked/inside.txt", ["locked"])
    assert covered("locked/deep/x.txt", ["locked"])
    assert covered("locked/inside.txt", ["locked/inside.txt"])
    assert not covered("locked2/x.txt", ["locked"])
    assert not covered("lock.txt", ["locked"])
    assert covered("any/thing.txt", ["."])  # the corpus folder itself


def test_an_update_keeps_what_it_cannot_read_and_a_rebuild_would_lose_it() -> None:
    recorded = {
        "a.txt": StoredFile(1, "A", "h", "s"),
        "locked/inside.txt": StoredFile(2, "I", "h", "s"),
        "gone.txt": StoredFile(3, "G", "h", "s"),
    }
    plan: Plan[str] = Plan(recorded, ["a.txt", "locked"], unreadable=["locked"])
    assert plan.removed == [3]  # deleted; the unreadable folder's document is kept
    update = removal(recorded, ["a.txt", "locked"], ["locked"])
    assert (update.removed, update.lost, update.refusal()) == (1, 0, "")
    rebuild = removal(recorded, ["a.txt", "locked"], ["locked"], rebuild=True)
    assert (rebuild.removed, rebuild.lost) == (2, 1)
    assert rebuild.refusal().startswith("cannot read locked: rebuilding would drop the 1 ")


def test_a_kept_documents_id_stays_its_own() -> None:
    recorded = {
        "a.txt": StoredFile(1, "A", "h", "s"),
        "locked/inside.txt": StoredFile(2, "I", "h", "s"),
    }
    plan: Plan[str] = Plan(recorded, ["a.txt", "locked", "other/i.txt"], unreadable=["locked"])
    assert plan.owner("other/i.txt", "i") == "locked/inside.txt"  # it would clash with row 2
    assert plan.owner("a.txt", "A") == "a.txt" and plan.owner("b.txt", "B") == "b.txt"


# -- the CLI, real index -------------------------------------------------------------------


def _write_corpus(folder: Path) -> Path:
    for name, text in ARTICLES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A corpus of four articles (one in ``locked/``) and its index (copy to modify)."""
    corpus = _write_corpus(tmp_path_factory.mktemp("loss-corpus"))
    index = tmp_path_factory.mktemp("loss-index")
    result = CliRunner().invoke(cli, ["index", "--corpus", str(corpus), "--index", str(index)])
    assert result.exit_code == 0, result.output
    return corpus, index


@pytest.fixture
def copies(built: tuple[Path, Path], tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    corpus, index = built
    corpus_copy, index_copy = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(corpus, corpus_copy)
    shutil.copytree(index, index_copy)
    yield corpus_copy, index_copy
    for folder in corpus_copy.rglob("*"):  # let tmp_path be cleaned whatever a test did
        if folder.is_dir():
            folder.chmod(0o755)


def _sources(index: Path) -> set[str]:
    db = store.connect(db_path(index), readonly=True)
    try:
        return set(store.file_hashes(db))
    finally:
        db.close()


def _generation(index: Path) -> int:
    db = store.connect(db_path(index), readonly=True)
    try:
        return store.read_manifest(db).generation
    finally:
        db.close()


def test_an_empty_corpus_is_refused_and_removes_nothing(
    copies: tuple[Path, Path], tmp_path: Path
) -> None:
    _, index = copies
    empty = tmp_path / "unmounted"
    empty.mkdir()
    generation = _generation(index)
    for extra in ([], ["--rebuild"]):
        result = CliRunner().invoke(
            cli, ["index", "--corpus", str(empty), "--index", str(index), *extra]
        )
        assert result.exit_code == 2, result.output
        assert f"{empty}: this run would remove 4 of the 4 indexed documents" in result.stderr
        flags = " ".join([*extra, "--allow-removal"])  # the command to go on, in full
        assert f"run `qa index --corpus {empty} --index {index} {flags}`" in result.stderr
        assert "Traceback" not in result.output and result.stderr.count("\n") == 1
        assert _sources(index) == set(ARTICLES) and _generation(index) == generation
    allowed = CliRunner().invoke(
        cli, ["index", "--corpus", str(empty), "--index", str(index), "--allow-removal", "--json"]
    )
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout)["removed"] == 4 and _sources(index) == set()


def test_removing_most_documents_is_refused_but_half_is_not(copies: tuple[Path, Path]) -> None:
    corpus, index = copies
    for name in ("alpha.txt", "beta.txt", "gamma.txt"):
        (corpus / name).unlink()
    args = ["index", "--corpus", str(corpus), "--index", str(index), "--json"]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2, refused.output
    assert "would remove 3 of the 4 indexed documents" in refused.stderr
    assert _sources(index) == set(ARTICLES)
    (corpus / "alpha.txt").write_text(ARTICLES["alpha.txt"] + "\n", encoding="utf-8")
    half = CliRunner().invoke(cli, args)  # 2 of 4: an ordinary clean-up
    assert half.exit_code == 0, half.output
    assert json.loads(half.stdout)["removed"] == 2
    assert _sources(index) == {"alpha.txt", "locked/inside.txt"}


def test_a_rebuild_reports_the_documents_it_dropped(copies: tuple[Path, Path]) -> None:
    corpus, index = copies
    (corpus / "alpha.txt").unlink()
    args = ["index", "--corpus", str(corpus), "--index", str(index), "--rebuild", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["removed"], summary["added"], summary["documents"]) == (1, 3, 3)


def test_a_mistyped_corpus_is_a_usage_error(copies: tuple[Path, Path], tmp_path: Path) -> None:
    _, index = copies
    for corpus in (tmp_path / "no-such-folder", index / "pilcrow.sqlite"):
        result = CliRunner().invoke(cli, ["index", "--corpus", str(corpus), "--index", str(index)])
        assert result.exit_code == 2, result.output
        assert str(corpus.name) in result.stderr and "Traceback" not in result.output
    assert _sources(index) == set(ARTICLES)


# -- unreadable folders and files (real permissions, subprocess) -----------------------------


def _unprivileged(scratch: Path) -> list[str]:
    """The command prefix under which permission bits bind (checked on a folder made
    unreadable in ``scratch``); skips the test where there is none."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot bind")
        prefix = DROP_OVERRIDES
    probe = scratch / "probe"
    probe.mkdir(mode=0o000)
    listing = [sys.executable, "-c", "import os, sys; os.listdir(sys.argv[1])", str(probe)]
    try:
        if subprocess.run([*prefix, *listing], capture_output=True).returncode == 0:
            pytest.skip("cannot drop the permission override here")
    finally:
        probe.rmdir()
    return prefix


def _qa_index(prefix: list[str], corpus: Path, index: Path, *extra: str) -> tuple[int, str, str]:
    command = [sys.executable, "-m", "qa", "index", "--corpus", str(corpus), "--index"]
    proc = subprocess.run(
        [*prefix, *command, str(index), "--json", *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize(
    ("mode", "named"),
    [
        (0o000, "locked: cannot read (Permission denied)"),  # cannot be listed
        (0o644, "locked/inside.txt: cannot read (Permission denied)"),  # listed, not searchable
    ],
)
def test_an_unreadable_folder_keeps_its_documents(
    copies: tuple[Path, Path], tmp_path: Path, mode: int, named: str
) -> None:
    corpus, index = copies
    prefix = _unprivileged(tmp_path)
    locked = corpus / "locked"
    locked.chmod(mode)
    rc, out, err = _qa_index(prefix, corpus, index)
    assert rc == 3, err
    summary = json.loads(out)
    assert (summary["removed"], summary["skipped"], summary["documents"]) == (0, 1, 4)
    assert named in err and "the documents indexed from it are kept" in err
    assert "Traceback" not in err
    rc, out, err = _qa_index(prefix, corpus, index, "--rebuild")  # cannot keep them: refused
    assert rc == 2 and "rebuilding would drop the 1 documents" in err, err
    locked.chmod(0o755)
    assert _sources(index) == set(ARTICLES)
    show = CliRunner().invoke(cli, ["show", "inside", "--index", str(index)])
    assert show.exit_code == 0 and "fishing rights" in show.stdout


def test_an_unreadable_file_keeps_its_document(copies: tuple[Path, Path], tmp_path: Path) -> None:
    corpus, index = copies
    prefix = _unprivileged(tmp_path)
    inside = corpus / "locked" / "inside.txt"
    inside.chmod(0o000)
    try:
        rc, out, err = _qa_index(prefix, corpus, index)
        assert rc == 3, err
        assert json.loads(out)["removed"] == 0
        assert "locked/inside.txt: cannot read (Permission denied)" in err
        rc, out, err = _qa_index(prefix, corpus, index, "--rebuild")  # found only on reading
    finally:
        inside.chmod(0o644)
    assert rc == 2 and out == "", err
    assert "cannot read locked/inside.txt: rebuilding would drop the 1 documents" in err
    assert f"--index {index} --rebuild --allow-removal`" in err and "Traceback" not in err
    assert _sources(index) == set(ARTICLES) and _generation(index) == 1


def test_a_locked_documents_id_is_not_taken_by_a_new_file(
    copies: tuple[Path, Path], tmp_path: Path
) -> None:
    corpus, index = copies
    prefix = _unprivileged(tmp_path)
    (corpus / "other").mkdir()
    (corpus / "other" / "inside.txt").write_text("Another inside\n\nA new text.\n")
    (corpus / "locked").chmod(0o000)
    for _ in range(2):  # every update while the folder stays locked
        rc, out, err = _qa_index(prefix, corpus, index)
        assert rc == 3 and "Traceback" not in err, err
        assert "other/inside.txt: document id inside already comes from locked/inside.txt" in err
        assert json.loads(out)["documents"] == 4
    (corpus / "locked").chmod(0o755)
    assert _sources(index) == set(ARTICLES)


# -- the TUI and the factory build the same way ------------------------------------------------


def test_the_factory_takes_a_run_only_as_options(copies: tuple[Path, Path]) -> None:
    from qa.factory import build_index
    from qa.index import RunOptions

    corpus, index = copies
    with pytest.raises(TypeError):  # once accepted beside options, and silently ignored
        build_index(corpus, index, **{"rebuild": True})
    assert build_index(corpus, index).added == 0
    assert build_index(corpus, index, options=RunOptions(rebuild=True)).added == 4


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_the_tui_shows_a_refused_build_as_a_message(
    copies: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.notifications import SeverityLevel

    from tests.test_tui import wait_ready, wait_until
    from tui.app import PilcrowApp
    from tui.state import IndexState

    class Notified(PilcrowApp):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.notified: list[tuple[str, str]] = []

        def notify(
            self, message: str, *, severity: SeverityLevel = "information", **kw: Any
        ) -> None:
            self.notified.append((message, severity))
            super().notify(message, severity=severity, **kw)

    _, index = copies
    for vector_file in index.glob("vectors-*.faiss"):
        vector_file.unlink()  # the index cannot be opened: the empty state offers a build
    monkeypatch.chdir(tmp_path)
    (tmp_path / "unmounted").mkdir()  # and the corpus folder is empty
    app = Notified(Path("index"), Path("unmounted"))
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_ready(pilot)
        await pilot.press("f5")
        await wait_until(pilot, lambda: bool(app.notified))
        assert app.is_running and app.chat.lifecycle.index is IndexState.MISSING
    (message, severity), *_ = app.notified
    assert severity == "error" and "\n" not in message
    assert message.startswith("unmounted: this run would remove 4 of the 4 indexed documents")
    assert message.endswith(
        "run `qa index --corpus unmounted --index index --rebuild --allow-removal`"
    )
    assert _sources(index) == set(ARTICLES)
