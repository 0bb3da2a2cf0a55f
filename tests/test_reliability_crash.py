"""Crash safety and concurrency of a real `qa index`, proven by killing and stopping it.

Every trial runs `python -m qa index` as a subprocess and sends it SIGKILL at a named
point of the run (``PILCROW_TEST_KILL_AT``, see ``qa.index.hooks.checkpoint``): during a
first build, an incremental update and a ``--rebuild``. After each kill the index must
open, `qa index --check` must pass, the index must hold exactly the whole old corpus or
the whole new one (documents and passage texts compared with clean builds of each),
`qa ask` must cite only passages that exist with the text it shows, and the next
`qa index` must complete and match a clean rebuild (same passages, same top results).

Cost control: the model is loaded once, in this process, for the clean builds and every
check; the killed runs share that work through the embedding cache, so only the trials
that kill *during embedding* make the subprocess load the model. Kills run two at a time.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from qa import store
from qa.check import check_index
from qa.cli import cli
from qa.errors import NoIndexError
from qa.factory import build_index, open_searcher
from qa.locations import db_path
from tests.conftest import cable_path

ADDED_CABLES = ["08OSLO461", "09BRASILIA1276"]
DELETED = "06LAPAZ906.html"
ADDED_LATER = "10USNATO52.html"  # missing from the first generation of the old index
QUESTIONS = [
    "How much is Kazakhstan asking in damages for the Proton rocket accident?",
    "Norway supports the US nominee for the IPCC working group",
    "Brazil asked to resettle Cuban migrants protected at Guantanamo",
    "mass incidents riot after the death of a cook in a hotel",
]
SUBPROCESS_TIMEOUT = 600
# The sentence highlight embeds every sentence of every hit (hundreds for the longest
# cables): it proves nothing about crash safety, so these asks skip it.


def ask_args(index: Path, question: str) -> list[str]:
    return ["ask", "--json", "--no-highlight", "--index", str(index), "--", question]


# -- snapshots of an index's content -----------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    generation: int
    documents: frozenset[tuple[str, str, str]]  # (doc_id, source, file hash)
    passages: tuple[tuple[str, int, str, str], ...]  # (doc_id, seq, label, text), sorted

    def content(self) -> tuple[object, object]:
        return self.documents, self.passages

    def citations(self) -> dict[str, str]:
        return {f"{doc} {label}": text for doc, _, label, text in self.passages}


def snapshot(index: Path) -> Snapshot | None:
    """The committed content of an index; None when no generation was ever committed."""
    try:
        db = store.connect(db_path(index), readonly=True)
    except NoIndexError:
        return None
    try:
        manifest = store.read_manifest(db)
        if not manifest.generation:
            return None
        docs = frozenset(
            (r["doc_id"], r["source"], r["file_hash"])
            for r in db.execute("SELECT doc_id, source, file_hash FROM documents")
        )
        passages = tuple(
            sorted(
                (r["doc_id"], r["seq"], r["label"], r["text"])
                for r in db.execute(
                    f"SELECT d.doc_id, p.seq, p.label, {store.PASSAGE_TEXT} AS text"
                    " FROM passages p JOIN documents d ON d.id = p.document_id"
                )
            )
        )
        return Snapshot(manifest.generation, docs, passages)
    finally:
        db.close()


def needed_hashes(index: Path) -> set[str]:
    db = store.connect(db_path(index), readonly=True)
    try:
        return {h for _, hashes in store.all_view_hashes(db) for h in hashes}
    finally:
        db.close()


def cached(index: Path) -> set[str]:
    db = store.connect(db_path(index), readonly=True)
    try:
        return {r[0] for r in db.execute("SELECT text_hash FROM embeddings")}
    finally:
        db.close()


def seed_cache(index: Path, source: Path, *, leave_out: set[str] | frozenset[str] = frozenset()):  # type: ignore[no-untyped-def]
    """Copy ``source``'s embedding cache into ``index`` (created if need be), minus some
    view embeddings (the sentence vectors are copied whole).

    This is exactly the state a run killed after embedding leaves behind, and it lets a
    trial skip the model when the point it kills at comes after embedding.
    """
    db = store.connect(db_path(index), create=True)
    try:
        db.execute("ATTACH DATABASE ? AS src", (str(db_path(source)),))
        with store.transaction(db):
            db.execute(
                "INSERT OR IGNORE INTO embeddings SELECT * FROM src.embeddings"
                " WHERE text_hash NOT IN (SELECT value FROM json_each(?))",
                (json.dumps(sorted(leave_out)),),
            )
            db.execute("INSERT OR IGNORE INTO sentence_vectors SELECT * FROM src.sentence_vectors")
        db.execute("DETACH DATABASE src")
    finally:
        db.close()


def top_results(index: Path) -> list[object]:
    """What "the same top results" means, for each question: the same best hybrid hit,
    and the same dense and lexical top 10 up to the order of exactly tied scores.

    Ties are real (BM25 often scores two short passages the same) and are broken by row
    id, which differs between an updated index and a clean build of the same corpus.
    """
    searcher = open_searcher(index)
    try:
        out: list[object] = []
        for question in QUESTIONS:
            out.append(searcher.ask(question, k=1, highlight=False).hits[0].citation)
            for mode in ("dense", "lexical"):
                hits = searcher.ask(question, k=10, mode=mode, highlight=False).hits
                groups: list[tuple[float, set[str]]] = []
                for hit in hits:
                    if groups and abs(groups[-1][0] - hit.score) <= 1e-6 * max(1, hit.score):
                        groups[-1][1].add(hit.citation)
                    else:
                        groups.append((hit.score, {hit.citation}))
                # the last group may be cut by k; scores rounded for floating-point noise
                out.append([(round(score, 3), sorted(c)) for score, c in groups[:-1]])
        return out
    finally:
        searcher.close()


# -- the corpora and their clean builds -----------------------------------------------------


@dataclass
class World:
    old: Path  # corpus before the update
    new: Path  # corpus after it: 2 changed, 1 deleted, 2 added
    old_first: Path  # the old corpus without ADDED_LATER (generation 1 of `base`)
    base: Path  # incremental index of `old` at generation 2 (read-only: copy it)
    clean_new: Path  # clean build of `new` (its cache holds every text of both corpora)
    snap_old: Snapshot
    snap_new: Snapshot
    tops_new: list[list[str]]
    update_missing: int  # texts an update from `base` to `new` must embed
    tmp: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, cables_corpus: Path) -> World:
    tmp = tmp_path_factory.mktemp("crash")
    old = tmp / "old"
    shutil.copytree(cables_corpus, old)
    for path in old.iterdir():
        path.chmod(0o644)
    new = tmp / "new"
    shutil.copytree(old, new)
    moscow = new / "07MOSCOW5292.txt"
    moscow.write_text(moscow.read_text().replace("about $60 million", "about $61 million"))
    beijing = new / "09BEIJING1970.html"
    raw = beijing.read_bytes()
    assert raw.count(b"mysterious death of a chef") == 1
    beijing.write_bytes(raw.replace(b"mysterious death of a chef", b"unexplained death of a cook"))
    (new / DELETED).unlink()
    for doc_id in ADDED_CABLES:
        shutil.copy(cable_path(doc_id), new / f"{doc_id}.html")
        (new / f"{doc_id}.html").chmod(0o644)
    old_first = tmp / "old-first"
    shutil.copytree(old, old_first)
    (old_first / ADDED_LATER).unlink()

    clean_old = tmp / "clean-old"
    assert build_index(old, clean_old).skipped == 0
    base = tmp / "base"
    seed_cache(base, clean_old)
    assert build_index(old_first, base).generation == 1
    assert build_index(old, base).generation == 2
    clean_new = tmp / "clean-new"
    seed_cache(clean_new, clean_old)
    assert build_index(new, clean_new).skipped == 0

    snap_old, snap_base, snap_new = snapshot(clean_old), snapshot(base), snapshot(clean_new)
    assert snap_old is not None and snap_base is not None
    # The incremental index of the old corpus equals its clean build.
    assert snap_base.content() == snap_old.content()
    snap_old = snap_base  # same content, at generation 2
    assert snap_new is not None and snap_new.content() != snap_old.content()
    tops_new = top_results(clean_new)
    assert tops_new[0] == "07MOSCOW5292 ¶3"
    missing = needed_hashes(clean_new) - cached(base)
    assert len(missing) >= 8, "the update must embed enough texts for several batches"
    return World(
        old, new, old_first, base, clean_new, snap_old, snap_new, tops_new, len(missing), tmp
    )


# -- the trials ----------------------------------------------------------------------------

PRE_COMMIT = {"listed", "parsed", "embedded", "rows", "vector_tmp", "vectors"}


@dataclass(frozen=True)
class Trial:
    scenario: str  # build | update | rebuild
    kills: tuple[str, ...]  # one PILCROW_TEST_KILL_AT spec per killed run, in order
    cache: str = "warm"  # warm: every text cached; partial: some texts still to embed

    @property
    def name(self) -> str:
        return f"{self.scenario}-{'+'.join(self.kills)}" + ("-cold" if self.cache != "warm" else "")

    @property
    def expect_new(self) -> bool:
        """Whether the last kill came after the commit (then the new corpus is in)."""
        return self.kills[-1].split(":")[0] not in PRE_COMMIT


TRIALS = [
    *(
        Trial("build", (spec,))
        for spec in ("listed:1", "parsed:4", "rows:1", "rows:7", "vector_tmp:1", "vectors:1")
    ),
    Trial("build", ("committed:1",)),
    Trial("build", ("embedded:1",), cache="partial"),
    Trial("build", ("embedded:2",), cache="partial"),
    *(
        Trial("update", (spec,))
        for spec in ("listed:1", "parsed:2", "rows:1", "rows:3", "vector_tmp:1", "vectors:1")
    ),
    Trial("update", ("committed:1",)),
    Trial("update", ("cleanup:1",)),
    Trial("update", ("embedded:1",), cache="partial"),
    Trial("update", ("embedded:2",), cache="partial"),
    Trial("update", ("vectors:1", "committed:1")),  # killed again while recovering
    Trial("rebuild", ("rows:5",)),
    Trial("rebuild", ("vectors:1",)),
    Trial("rebuild", ("committed:1",)),
]
BUILD_LEFT_OUT = 24  # texts a "partial" build must embed
BUILD_BATCH = 8


@dataclass
class Outcome:
    index: Path
    corpus: Path
    args: list[str]
    returncodes: list[int] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    missing_before: int = 0
    batch: int = 0
    cached_before: int = 0  # cache rows before the killed runs
    cached_after: int = 0  # and after them: what they kept
    seconds: float = 0.0


def _index_command(corpus: Path, index: Path) -> list[str]:
    return [sys.executable, "-m", "qa", "index", "--corpus", str(corpus), "--index", str(index)]


def _cached(index: Path) -> int:
    if not db_path(index).exists():
        return 0
    db = store.connect(db_path(index))
    try:
        return int(db.execute("SELECT count(*) FROM embeddings").fetchone()[0])
    finally:
        db.close()


def _run_killed(outcome: Outcome, kills: tuple[str, ...]) -> Outcome:
    started = time.perf_counter()
    outcome.cached_before = _cached(outcome.index)
    for spec in kills:
        env = {
            **os.environ,
            "PILCROW_TEST_KILL_AT": spec,
            "PILCROW_EMBED_BATCH": str(outcome.batch),
        }
        proc = subprocess.run(
            [*_index_command(outcome.corpus, outcome.index), *outcome.args],
            env=env,
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
        )
        outcome.returncodes.append(proc.returncode)
        outcome.stderr.append(proc.stderr)
    outcome.seconds = time.perf_counter() - started
    outcome.cached_after = _cached(outcome.index)
    return outcome


def _prepare(trial: Trial, world: World) -> Outcome:
    index = world.tmp / "trials" / trial.name
    args = ["--json"] + (["--rebuild"] if trial.scenario == "rebuild" else [])
    outcome = Outcome(index, world.new, args, batch=512)
    if trial.scenario == "build":
        needed = sorted(needed_hashes(world.clean_new))
        left_out = set(needed[-BUILD_LEFT_OUT:]) if trial.cache == "partial" else set()
        seed_cache(index, world.clean_new, leave_out=left_out)
        outcome.missing_before, outcome.batch = len(left_out), BUILD_BATCH
    else:
        shutil.copytree(world.base, index)
        if trial.cache == "warm":
            seed_cache(index, world.clean_new)
        else:
            outcome.missing_before = world.update_missing
            outcome.batch = max(1, world.update_missing // 4)
    return outcome


@pytest.fixture(scope="module")
def killed(world: World) -> dict[str, Outcome]:
    """Every trial's killed run(s), two at a time; verified one by one below."""
    outcomes = {trial.name: _prepare(trial, world) for trial in TRIALS}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(_run_killed, outcomes[t.name], t.kills)
            for t in sorted(TRIALS, key=lambda t: t.cache == "warm")  # slow ones first
        ]
        for future in futures:
            future.result()
    return outcomes


def _assert_cites_exactly(stdout: str, *allowed: dict[str, str]) -> int:
    """Every result of `qa ask --json` is a stored passage of one of the ``allowed``
    snapshots, shown with exactly that snapshot's text."""
    data = json.loads(stdout)
    for result in data["results"]:
        texts = [snap.get(result["citation"]) for snap in allowed]
        assert result["text"] in texts, result["citation"]
    return len(data["results"])


def _verify_consistent(index: Path, expected: Snapshot | None) -> None:
    """What a user sees right after the crash."""
    runner = CliRunner()
    state = snapshot(index)
    if expected is None:
        assert state is None, "a killed first build must not leave a partial generation"
        result = runner.invoke(cli, ["ask", QUESTIONS[0], "--index", str(index), "--json"])
        assert result.exit_code == 4, result.output
        assert result.stderr.startswith("Error: ") and "qa index" in result.stderr
        assert "Traceback" not in result.output
        result = runner.invoke(cli, ["index", "--check", "--index", str(index)])
        assert result.exit_code == 4, result.output
        return
    assert state is not None
    assert state.content() == expected.content(), "the index mixes the old and new corpus"
    assert state.generation == expected.generation
    report = check_index(index)
    assert report.ok, report.problems
    assert report.vectors >= report.passages > 0
    result = runner.invoke(cli, ["index", "--check", "--index", str(index), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"], result.output
    for question in QUESTIONS[:2]:
        result = runner.invoke(cli, ask_args(index, question))
        assert result.exit_code == 0, result.output
        assert _assert_cites_exactly(result.stdout, expected.citations()) > 0


@pytest.mark.parametrize("trial", TRIALS, ids=lambda t: t.name)
def test_killed_index_run_leaves_old_or_new_and_recovers(
    trial: Trial, world: World, killed: dict[str, Outcome]
) -> None:
    outcome = killed[trial.name]
    assert outcome.returncodes == [-signal.SIGKILL] * len(trial.kills), (
        f"the run was not killed at {trial.kills}: {outcome.stderr}"
    )
    pre = None if trial.scenario == "build" else world.snap_old
    new_generation = 1 if trial.scenario == "build" else world.snap_old.generation + 1
    post = Snapshot(new_generation, world.snap_new.documents, world.snap_new.passages)
    _verify_consistent(outcome.index, post if trial.expect_new else pre)

    # The next run completes, reusing what the killed one embedded, and matches a clean build.
    runner = CliRunner()
    args = ["index", "--corpus", str(outcome.corpus), "--index", str(outcome.index)]
    result = runner.invoke(cli, [*args, *outcome.args])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    if trial.kills[0].startswith("embedded:"):
        # A unit commits whole sentence jobs, longest first (``qa.index.units``), so the
        # views it keeps are counted in the cache, not derived from the batch size.
        kept = outcome.cached_after - outcome.cached_before
        assert kept > 0
        assert summary["passages_embedded"] == outcome.missing_before - kept
    final = snapshot(outcome.index)
    assert final is not None and final.content() == world.snap_new.content()
    report = check_index(outcome.index)
    assert report.ok, report.problems
    assert top_results(outcome.index) == world.tops_new
    leftovers = sorted(p.name for p in outcome.index.glob("vectors-*"))
    db = store.connect(db_path(outcome.index), readonly=True)
    manifest = store.read_manifest(db)
    db.close()
    named = {manifest.vectors, f"{manifest.vectors}.ivf", *(d.name for d in manifest.delta_files)}
    previous = f"vectors-{final.generation - 1:06d}."
    assert manifest.vectors in leftovers, leftovers
    assert all(name in named or name.startswith(previous) for name in leftovers), leftovers


# -- the write lock and readers during an update ---------------------------------------------


def _wait_stopped(proc: subprocess.Popen[str], timeout: float = 120) -> None:
    """Until ``proc`` has stopped itself (SIGSTOP at a checkpoint)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited early: {proc.communicate()}"
        state = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return
        time.sleep(0.02)
    raise AssertionError("the index run never reached its stop point")


@pytest.fixture
def running_update(world: World, tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    """Start `qa index` (old -> new) that stops itself at the given points."""
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to see that a process has stopped")
    started: list[subprocess.Popen[str]] = []

    def start(stops: str, index: Path) -> subprocess.Popen[str]:
        env = {**os.environ, "PILCROW_TEST_KILL_AT": stops}
        proc = subprocess.Popen(
            [*_index_command(world.new, index), "--json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
            proc.wait()


def _warm_copy(world: World, tmp_path: Path) -> Path:
    index = tmp_path / "index"
    shutil.copytree(world.base, index)
    seed_cache(index, world.clean_new)  # no model load in the subprocess
    return index


def test_second_writer_refuses_with_exit_6_or_waits(
    world: World, tmp_path: Path, running_update
) -> None:  # type: ignore[no-untyped-def]
    index = _warm_copy(world, tmp_path)
    first = running_update("listed:1:stop", index)
    _wait_stopped(first)  # holds the write lock, has changed nothing yet

    runner = CliRunner()
    result = runner.invoke(cli, ["index", "--corpus", str(world.new), "--index", str(index)])
    assert result.exit_code == 6, result.output
    assert f"being updated by another `qa index` (pid {first.pid})" in result.stderr
    assert "--wait" in result.stderr and "Traceback" not in result.output
    result = runner.invoke(cli, ["index", "--check", "--index", str(index), "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["generation"] == 2

    waiter = subprocess.Popen(
        [*_index_command(world.new, index), "--wait", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            waiter.wait(timeout=3)  # blocked on the lock, not failing
        first.send_signal(signal.SIGCONT)
        out, err = first.communicate(timeout=SUBPROCESS_TIMEOUT)
        assert first.returncode == 0, err
        assert json.loads(out)["generation"] == 3
        out, err = waiter.communicate(timeout=SUBPROCESS_TIMEOUT)
    finally:
        if waiter.poll() is None:
            waiter.kill()
    assert waiter.returncode == 0, err
    second = json.loads(out)  # ran after the first: nothing left to do
    assert (second["generation"], second["changed"], second["added"]) == (3, 0, 0)
    assert snapshot(index).content() == world.snap_new.content()  # type: ignore[union-attr]


def test_readers_see_one_whole_generation_while_an_update_runs(
    world: World, tmp_path: Path, running_update
) -> None:  # type: ignore[no-untyped-def]
    """`qa ask` (fresh and long-lived searchers) while `qa index` is stopped mid-transaction,
    with its vector file written but not committed, just after the commit, and while it runs
    freely between those points: every citation exists and shows its stored text."""
    index = _warm_copy(world, tmp_path)
    old, new = world.snap_old.citations(), world.snap_new.citations()
    long_lived = open_searcher(index)  # like the TUI: opened before the update
    runner = CliRunner()
    asked = {"stopped": 0, "running": 0}

    def ask_all(expected: dict[str, str] | None, generation: int | None, key: str) -> None:
        """Ask every question; ``expected`` None: the old or the new text, either is fine."""
        for question in QUESTIONS:
            hits = long_lived.ask(question, k=5, highlight=False).hits
            assert hits
            for hit in hits:
                if expected is not None:
                    assert expected.get(hit.citation) == hit.text, hit.citation
                else:
                    assert hit.text in (old.get(hit.citation), new.get(hit.citation))
            if generation is not None:
                assert long_lived.info().generation == generation
            result = runner.invoke(cli, ask_args(index, question))
            assert result.exit_code == 0, result.output
            _assert_cites_exactly(result.stdout, *([expected] if expected else [old, new]))
            asked[key] += 1

    try:
        proc = running_update("rows:2:stop,vectors:1:stop,committed:1:stop", index)
        for expected, generation in ((old, 2), (old, 2), (new, 3)):
            _wait_stopped(proc)
            ask_all(expected, generation, "stopped")
            proc.send_signal(signal.SIGCONT)
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:  # and while it runs on
                ask_all(None, None, "running")
        _, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT)
        assert proc.returncode == 0, err
        ask_all(new, 3, "stopped")
    finally:
        long_lived.close()
    assert asked["stopped"] >= 4 * len(QUESTIONS)
