"""One indexing run: lock → plan → embed → commit.

Take the write lock; find new, changed and deleted sources by stat and content hash
(``plan``); parse only those; embed only view texts the cache has not seen for this model
(``embedding``); then commit the next generation (``commit``). A big run commits in
parts as it goes, each a whole generation, so memory stays bounded and a killed first
build keeps what it committed; the run's last commit always follows its parts.
"""

from __future__ import annotations

import shlex
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from qa import locations, store, vectors
from qa.embed import Embedder, canonical_model_name
from qa.errors import (
    IndexDamagedError,
    QAError,
    RemovalRefusedError,
    UsageError,
)
from qa.index.bm25 import BM25Keeper
from qa.index.commit import (
    Commit,
    commit_generation,
    current_vectors,
    recorded_formats,
    remove_stale_vectors,
)
from qa.index.context import RunContext
from qa.index.embedding import (
    backfill_due,
    check_manifest_dim,
    embed_missing,
    next_sentence_flag,
    sentence_jobs,
)
from qa.index.hooks import checkpoint
from qa.index.lock import write_lock
from qa.index.parsing import Outcome, ToRead, read_all
from qa.index.plan import Part, Plan, removal
from qa.index.ray_stage import RaySession
from qa.index.report import IndexSummary, Progress, SilentProgress, repaired, resumed_note, skip
from qa.index.rows import Parsed, view_texts
from qa.index.sources import (
    Source,
    UnreadablePath,
    file_sources,
)
from qa.ingest import CHUNKER_VERSION
from qa.locations import db_path, generation_passages
from qa.store import UNRECORDED, Manifest, StoredFile
from qa.vectors.ivf import ANN_MIN_VECTORS
from qa.views import VIEWS_VERSION


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How a run goes: ``rebuild`` throws the index away and builds it again; ``wait``
    waits for another running writer instead of refusing; ``progress`` is told as the
    run goes (default: nothing shown, warnings logged); ``allow_removal`` lets a run
    remove most or all of the index's documents (``plan.Removal``: else refused)."""

    rebuild: bool = False
    wait: bool = False
    progress: Progress | None = None
    allow_removal: bool = False
    ray_address: str | None = None  # embed on Ray: ``local`` or a cluster's address
    device: str | None = None  # where the model runs: cpu or cuda; None: $PILCROW_DEVICE


def update_index(
    corpus_dir: Path,
    index_dir: Path,
    model_name: str,
    load_embedder: Callable[[str], Embedder],
    options: RunOptions = RunOptions(),
) -> IndexSummary:
    """Bring the index at ``index_dir`` up to date with the files of ``corpus_dir``."""
    if not corpus_dir.is_dir():
        what = "is not a folder" if corpus_dir.exists() else "does not exist"
        raise UsageError(f"{corpus_dir}: corpus folder {what}")
    try:
        return index_sources(
            lambda: file_sources(corpus_dir), index_dir, model_name, load_embedder, options
        )
    except RemovalRefusedError as exc:
        command = _go_ahead(corpus_dir, index_dir, model_name, options.rebuild)
        raise RemovalRefusedError(
            f"{corpus_dir}: {exc}; to remove them all the same, run `{command}`"
        ) from exc


def _go_ahead(corpus_dir: Path, index_dir: Path, model_name: str, rebuild: bool) -> str:
    """The command that makes a refused run go ahead, spelled out in full: the TUI, which
    builds through here too, has no ``--allow-removal`` of its own to point at."""
    args = ["qa", "index", "--corpus", str(corpus_dir), "--index", str(index_dir)]
    if canonical_model_name(model_name) != canonical_model_name(locations.model_name()):
        args += ["--model", model_name]
    return shlex.join([*args, *(["--rebuild"] if rebuild else []), "--allow-removal"])


def index_sources(
    list_sources: Callable[[], Iterable[Source]],
    index_dir: Path,
    model_name: str,
    load_embedder: Callable[[str], Embedder],
    options: RunOptions = RunOptions(),
) -> IndexSummary:
    """Bring the index at ``index_dir`` up to date with the given document sources.

    Sources are listed only once the write lock is held. The model is loaded (through
    ``load_embedder``) only when something needs embedding, so a no-op run never
    imports torch.
    """
    started = time.perf_counter()
    progress = options.progress or SilentProgress()
    summary = IndexSummary()
    with write_lock(index_dir, wait=options.wait):
        db = _open_for_update(index_dir, options.rebuild, progress)
        try:
            model = canonical_model_name(model_name)
            keeper = BM25Keeper(index_dir)
            device = options.device or locations.embed_device()  # Ray's actors use it too
            ray = RaySession(options.ray_address, device) if options.ray_address else None
            ctx = RunContext(
                db, index_dir, model, load_embedder, progress, summary, keeper, ray, device
            )
            try:
                _update(ctx, list_sources(), options)
            finally:
                if ray is not None:
                    ray.close()
        finally:
            db.close()
    summary.seconds = time.perf_counter() - started
    return summary


# Pages the WAL may hold before SQLite copies them into the database (default 1,000):
# a batch of cached vectors dirties ~1,000 pages (random keys), so at the default every
# commit also checkpointed; at 20,000 (~80 MB of WAL, more while a reader holds the
# checkpoint back or one transaction is bigger; the file keeps its high-water size until
# the last connection closes) a page rewritten by several commits is copied once.
# Commits of 512 vectors: 50-57 ms -> 23 ms, 300k cached.
WAL_CHECKPOINT_PAGES = 20_000


def _open_for_update(index_dir: Path, rebuild: bool, progress: Progress) -> sqlite3.Connection:
    """The index database, created if need be.

    With ``rebuild``, a database that is damaged (or not ours) is verified first and, if
    bad, moved aside (never deleted) so the rebuild can start from an empty one.
    """
    path = db_path(index_dir)
    try:
        db = _writer(path)
        if rebuild:
            try:
                store.verify(db)
            except QAError:
                db.close()
                raise
        return db
    except IndexDamagedError:
        if not rebuild:
            raise
        moved = store.set_aside(path)
        progress.warn(
            f"{path} is damaged or not a Pilcrow index: moved it to {moved.name}; "
            "building a new index"
        )
        return _writer(path)


def _writer(path: Path) -> sqlite3.Connection:
    """The run's connection to ``path`` (created if need be), checkpointing less often."""
    db = store.connect(path, create=True)
    db.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
    return db


@dataclass(frozen=True, slots=True)
class _Step:
    """How one commit of a run differs from its others."""

    final: bool  # the run's last commit (lexicon, sidecar, this Pilcrow's format versions)
    rebuild: bool = False  # the rows are replaced whole
    reparse: bool = False  # a part of a re-parse: the recorded format versions are kept
    parted: bool = False  # parts were committed before it: it must follow
    part: int = 0  # a part's number in the run (recorded as pending in the manifest)


def _update(ctx: RunContext, sources: Iterable[Source], options: RunOptions) -> None:
    """The run under the write lock: plan source by source, commit parts as they fill,
    then the last commit, the touched files' stats and the cleanup."""
    manifest = store.read_manifest(ctx.db)
    rebuild = _model_changed(ctx, manifest) or options.rebuild
    reparse = rebuild or manifest.chunker != CHUNKER_VERSION or manifest.views != VIEWS_VERSION
    if reparse and not rebuild and not manifest.is_empty:
        ctx.summary.rebuilt = "chunker or view format changed: re-parsing all documents"
    if not rebuild:
        check_manifest_dim(ctx.db, ctx.model, manifest)
    ctx.bm25.start(ctx.db, ctx.progress, rebuild=rebuild)
    known = store.file_hashes(ctx.db)
    pending = 0 if rebuild else manifest.parts_pending  # a killed run's last part
    recorded = {} if rebuild else known
    listed = {src.key: src for src in sources}
    unreadable = [key for key, src in listed.items() if isinstance(src, UnreadablePath)]
    checkpoint("listed")
    _check_removal(known, listed, unreadable, rebuild, options.allow_removal)
    if reparse and not rebuild and manifest.views != VIEWS_VERSION and not manifest.is_empty:
        with store.transaction(ctx.db):  # deletes must name the tokens as indexed
            store.rebuild_full_text(ctx.db)
    part_passages = None if rebuild else generation_passages()
    plan: Plan[Parsed] = Plan(
        recorded, listed, reparse=reparse, part_passages=part_passages, unreadable=unreadable
    )
    jobs = _to_read(ctx, plan, listed.values(), None if reparse else recorded)
    for outcome in read_all(jobs, locations.parse_workers()):
        item = _accept(ctx, plan, outcome)
        if item is None:
            continue
        part = plan.add(outcome.key, item.file_hash, item.doc.doc_id, len(item.rows), item)
        checkpoint("parsed")
        if part is not None:
            step = _Step(final=False, reparse=reparse, part=plan.parts)
            _commit(ctx, part, step)
            remove_stale_vectors(ctx.index_dir, store.read_manifest(ctx.db))
    if rebuild and plan.unread:  # files it may not read: a rebuild, one commit, can still stop
        _check_removal(known, listed, [*unreadable, *plan.unread], True, options.allow_removal)
    last = _Step(final=True, rebuild=rebuild, parted=plan.parts > 0)
    generation = _commit(ctx, plan.rest(), last)
    if plan.restat:
        with store.transaction(ctx.db):
            store.record_file_stats(ctx.db, plan.restat)
    ctx.bm25.finish(ctx.db, ctx.progress)
    _tally(ctx, plan, generation, known if rebuild else None)
    if pending:
        ctx.summary.resumed = resumed_note(pending, len(known), plan.parsed)
    remove_stale_vectors(ctx.index_dir, store.read_manifest(ctx.db))


def _check_removal(
    known: Collection[str],
    listed: Collection[str],
    unreadable: Collection[str],
    rebuild: bool,
    allowed: bool,
) -> None:
    """Refuse a run that would remove most of the index unasked (``plan.Removal``)."""
    refusal = removal(known, listed, unreadable, rebuild=rebuild).refusal()
    if refusal and not allowed:
        raise RemovalRefusedError(refusal)


def _tally(
    ctx: RunContext, plan: Plan[Parsed], generation: int, rebuilt_from: Collection[str] | None
) -> None:
    """The run's figures. A rebuild (``rebuilt_from``: the sources indexed before it)
    removed those it did not index again: deleted, unreadable (allowed) or unparsable."""
    summary = ctx.summary
    summary.added, summary.changed, summary.removed = plan.added, plan.changed, len(plan.removed)
    if rebuilt_from is not None:
        summary.removed = len(set(rebuilt_from) - set(store.file_hashes(ctx.db)))
    summary.unchanged, summary.files_read = plan.unchanged, plan.files_read
    summary.generation = generation
    summary.documents, summary.passages = store.counts(ctx.db)


def _model_changed(ctx: RunContext, manifest: Manifest) -> bool:
    """True (and the user told) when the index was built with another model."""
    if not manifest.model or manifest.model == ctx.model:
        return False
    ctx.summary.rebuilt = f"model changed from {manifest.model} to {ctx.model}"
    ctx.progress.warn(f"{ctx.summary.rebuilt}: rebuilding the whole index")
    return True


def _to_read(
    ctx: RunContext,
    plan: Plan[Parsed],
    sources: Iterable[Source],
    recorded: Mapping[str, StoredFile] | None,
) -> list[ToRead]:
    """The sources to read, with the digest each was recorded with (``recorded`` None:
    a re-parse, every source parsed): not those whose stat is as recorded, nor paths
    that could not be read (reported here)."""
    jobs: list[ToRead] = []
    for src in sources:
        if isinstance(src, UnreadablePath):
            skip(ctx.summary, ctx.progress, src.message)
        elif not plan.known_by_stat(src.key, src.stat_key):  # else not even read
            old = recorded.get(src.key) if recorded is not None else None
            jobs.append(ToRead(src, old.file_hash if old else None))
    return jobs


def _accept(ctx: RunContext, plan: Plan[Parsed], outcome: Outcome) -> Parsed | None:
    """The source's rows when it is new or changed (or all are re-parsed); None when its
    bytes are as recorded or it is skipped (reported)."""
    key = outcome.key
    if outcome.error:
        if outcome.refused:
            plan.refused(key)
        skip(ctx.summary, ctx.progress, outcome.error)
        return None
    item = outcome.item
    if item is None:
        plan.known_by_digest(key, outcome.digest, outcome.read_stat)
        return None
    owner = plan.owner(key, item.doc.doc_id)
    if owner != key:
        message = f"{key}: document id {item.doc.doc_id} already comes from {owner}"
        skip(ctx.summary, ctx.progress, message)
        return None
    return item


def _commit(ctx: RunContext, part: Part[Parsed], step: _Step) -> int:
    """Embed what ``part`` needs and commit it as the next generation: the one path of a
    part and of a run's last commit. Returns the generation now committed.

    A part leaves the whole-index work to the run's last commit: the lexicon refresh and
    the approximate sidecar (readers search exactly meanwhile), and, while a re-parse is
    under way, the chunker and view versions, so a killed run re-parses what is left.
    A last commit writes nothing when nothing changed, unless the vector files are
    damaged (then rebuilt from the cache) or the manifest lacks what this Pilcrow records.
    The committed vectors are read only when the base is rewritten, or when their stat is
    not as committed (any write changes it): then checked, to be repaired if need be.
    """
    manifest = store.read_manifest(ctx.db)
    backfill = step.final and not step.rebuild and backfill_due(manifest, ctx.model)
    jobs = sentence_jobs(ctx.db, part.items, part.dropped, backfill)
    texts = view_texts(part.items)
    dim, pooled = embed_missing(ctx, texts, jobs, manifest, rebuild=step.rebuild)
    flag = next_sentence_flag(manifest, ctx.model, pooled, recomputed=backfill or step.rebuild)
    due = not step.final or _commit_due(manifest, part, step, flag)
    compact = _compacts(ctx.db, manifest, part, step)
    current, damage = None, ""
    if (manifest.generation and not step.rebuild) and (
        (due and compact) or not vectors.as_committed(ctx.index_dir, manifest)
    ):
        current, damage = current_vectors(ctx, manifest)
        compact = compact or current is None  # damaged: a new base from the cache
    if damage:
        repaired(ctx.summary, ctx.progress, damage)
    if not (due or damage):
        return manifest.generation
    versions = recorded_formats(manifest) if step.reparse and not step.final else None
    commit = Commit(
        items=part.items,
        dropped=part.dropped,
        dim=dim,
        sentence_flag=flag,
        current=current,
        rebuild=step.rebuild,
        final=step.final,
        versions=versions,
        part=step.part,
        compact=compact,
    )
    return commit_generation(ctx, manifest, commit)


def _compacts(db: sqlite3.Connection, manifest: Manifest, part: Part[Parsed], step: _Step) -> bool:
    """Whether this commit rewrites the base vector file (``vectors.should_compact``):
    always for a rebuild, a first commit or a removed list that is not the manifest's."""
    if step.rebuild or not manifest.generation or manifest.vector_count is None:
        return True
    if store.count_removed(db) != manifest.removed_passages:
        return True
    adding = sum(len(row.view_hashes) for item in part.items for row in item.rows)
    removed = manifest.removed_passages + len(store.passage_ids_of(db, part.dropped))
    base = manifest.vector_count
    return vectors.should_compact(
        base=base,
        deltas=[delta.count for delta in manifest.delta_files],
        adding=adding,
        removed=removed,
        final=step.final,
        sidecar_due=manifest.ann_bytes is None and base >= ANN_MIN_VECTORS,
    )


def _commit_due(manifest: Manifest, part: Part[Parsed], step: _Step, flag: str) -> bool:
    """Whether a run's last commit must write a generation: rows change, parts went
    before (in this run or a killed one), or the manifest lacks a value this Pilcrow
    records (an index written before the manifest held the concentration, the lexicon or
    this sentence flag gets it now)."""
    return bool(
        part.items
        or part.removed
        or step.parted
        or step.rebuild
        or manifest.parts_pending
        or not manifest.generation
        or manifest.concentration is None
        or manifest.lexicon_passages is UNRECORDED
        or manifest.sentences != flag
    )
