"""Write a generation: document rows, a vector file and the manifest, in one transaction.

The rows are swapped and the manifest pointed at a freshly written vector file of the
next generation in one SQLite transaction; a crash anywhere before its commit leaves the
previous generation untouched, a crash after it leaves the new one complete. The file is
a delta of the commit's own vectors, or a new base when ``qa.vectors.segments`` says the
base is due a rewrite; both are derived: a base starts from the committed generation's
vectors when they are sound, else from the embedding cache.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from qa import store, vectors
from qa.errors import IndexDamagedError
from qa.fsutil import TEMP_SUFFIX, file_stat
from qa.index.context import RunContext
from qa.index.embedding import repair_cache
from qa.index.hooks import checkpoint
from qa.index.repair import REPAIR_SAMPLE
from qa.index.rows import Parsed
from qa.ingest import CHUNKER_VERSION
from qa.locations import delta_path, vectors_path
from qa.store import UNRECORDED, Manifest
from qa.store.manifest import Delta
from qa.vectors import FlatIndex, Segments, VectorFileDamaged, ivf
from qa.vectors.basefile import BaseFile, write_base
from qa.views import VIEWS_VERSION

log = logging.getLogger(__name__)

SET_ASIDE = ".damaged-"  # what a run moved out of the way, kept for the user
CACHE_BLOCK = 50_000  # passages whose cached vectors are read at a time for a new base
VectorBlock = tuple[np.ndarray, np.ndarray]  # vector ids, and their vectors or float16 codes


@dataclass(frozen=True, slots=True)
class Change:
    """The passages a commit dropped and added (what the BM25 index must follow)."""

    dropped: list[int]
    added: list[int]


@dataclass(frozen=True, slots=True)
class Commit:
    """What one commit writes: the documents to insert and the rows to drop.

    ``current`` is the committed generation's vectors (base, deltas, removed passages)
    when they are sound and the commit rewrites the base; without it (first build,
    missing or damaged file) the base is rebuilt from the cache. ``compact``: rewrite the
    base (``qa.vectors.segments.should_compact``) rather than write a delta.
    ``final``: the run's last commit, which also refreshes the lexicon and writes the
    approximate sidecar of a rewritten base. ``versions``: the (chunker, views) versions
    to record instead of this Pilcrow's (a part of a re-parse keeps the old ones until the
    run is done). ``part``: a part's number in its run, recorded as pending until the last
    commit.
    """

    items: Sequence[Parsed]
    dropped: Sequence[int]
    dim: int
    sentence_flag: str
    current: Segments | None = None
    rebuild: bool = False
    final: bool = True
    versions: tuple[str, str] | None = None
    part: int = 0
    compact: bool = True


def commit_generation(ctx: RunContext, manifest: Manifest, commit: Commit) -> int:
    """Write the next generation's rows and vectors; commit points the manifest at them.

    The vectors go to a new base file (``commit.compact``) or to a delta file of this
    commit's vectors alone, with the dropped passages listed in SQLite. Returns the new
    generation.
    """
    db, generation = ctx.db, manifest.generation + 1
    compact = commit.compact or commit.rebuild
    new_file = (vectors_path if compact else delta_path)(ctx.index_dir, generation)
    moved = clear_the_way(new_file)
    if moved is not None:
        ctx.progress.warn(f"{new_file.name} is not a file: moved it to {moved.name}")
    with store.transaction(db):
        if compact:
            vectors_of, change = _write_base(ctx, manifest, commit, new_file)
        else:
            index, change = _add_rows(ctx, commit)
            vectors_of = _write_delta(ctx, manifest, index, new_file)
        checkpoint("vectors")
        taken = manifest.lexicon_passages
        lexicon_passages = None if taken is UNRECORDED else taken
        churn = manifest.lexicon_churn + len(change.dropped) + len(change.added)
        if commit.final and (
            commit.rebuild or store.lexicon_stale(store.counts(db)[1], churn, manifest)
        ):
            lexicon_passages, churn = store.refresh_lexicon(db), 0
        chunker, views = commit.versions or (CHUNKER_VERSION, VIEWS_VERSION)
        next_manifest = replace(
            vectors_of,
            model=ctx.model,
            dim=commit.dim,
            normalized="true",
            metric="inner_product",
            chunker=chunker,
            views=views,
            generation=generation,
            lexicon_passages=lexicon_passages,
            lexicon_churn=churn,
            sentences=commit.sentence_flag,
            updated_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            parts_pending=0 if commit.final else commit.part,
            commit_key=secrets.token_hex(8),
        )
        store.write_manifest(db, next_manifest)
        ctx.bm25.commit(db, manifest, next_manifest, change.dropped, change.added)
    checkpoint("committed")
    return generation


def _write_base(
    ctx: RunContext, manifest: Manifest, commit: Commit, new_file: Path
) -> tuple[Manifest, Change]:
    """Inside the commit's transaction: swap the rows and stream the new base file (and,
    on a run's last commit, its sidecar); returns the manifest fields that describe the
    vectors now (no deltas, none removed) and the passages dropped and added."""
    dim = commit.dim
    blocks, change = _swap_rows(ctx, commit)
    size, count, concentration = write_base(
        new_file, dim, blocks, before_replace=lambda: checkpoint("vector_tmp")
    )
    side = None
    if commit.final:
        previous = vectors.committed_path(ctx.index_dir, manifest) if manifest.generation else None
        written = BaseFile.open(new_file)
        side = vectors.write_ann(written, new_file, previous=previous) if written else None
    else:
        ivf.ann_path(new_file).unlink(missing_ok=True)  # a killed run's leftover
    store.clear_removed(ctx.db)
    fields = Manifest(
        vectors=new_file.name,
        vector_count=count,
        vector_bytes=size,
        vector_stat=file_stat(new_file.stat()),
        ann_bytes=side.stat().st_size if side else None,
        concentration=concentration,
    )
    return fields, change


def _write_delta(ctx: RunContext, manifest: Manifest, delta: FlatIndex, new_file: Path) -> Manifest:
    """Write ``delta`` (this commit's vectors alone) beside the base, which stays as it
    is; returns the manifest with the delta appended and the removed count. The
    concentration is the base's (a delta small enough not to compact moves it little)."""
    written = manifest.deltas
    if delta.count:
        size = delta.save(new_file, before_replace=lambda: checkpoint("vector_tmp"))
        entry = Delta(new_file.name, delta.count, size, file_stat(new_file.stat()))
        written = f"{written} {entry.text}".strip()
    return replace(manifest, deltas=written, removed_passages=store.count_removed(ctx.db))


def _add_rows(ctx: RunContext, commit: Commit) -> tuple[FlatIndex, Change]:
    """Inside the commit's transaction, without touching the base file: drop the old rows
    (their passages listed as removed) and insert the new; returns the delta index of the
    new vectors and the passages dropped and added."""
    db, dim = ctx.db, commit.dim
    dropped = store.passage_ids_of(db, commit.dropped)
    store.record_removed(db, dropped)
    store.delete_documents(db, commit.dropped)
    delta = FlatIndex.empty(dim)
    added = _insert_items(ctx, commit, delta)
    return delta, Change(dropped, added)


def _swap_rows(ctx: RunContext, commit: Commit) -> tuple[Iterator[VectorBlock], Change]:
    """Inside the commit's transaction: drop the old rows and insert the new; returns the
    next base's vectors as blocks to stream (the committed live ones less the dropped
    passages', then the commit's; from the cache when the committed ones are not sound)
    and the passages dropped and added (a rebuild's dropped: none listed, all went)."""
    db, dim = ctx.db, commit.dim
    dropped: list[int] = []
    if commit.rebuild:
        store.delete_all_documents(db)
    else:
        dropped = store.passage_ids_of(db, commit.dropped)
        store.delete_documents(db, commit.dropped)
    new = FlatIndex.empty(dim)
    change = Change(dropped, _insert_items(ctx, commit, new))
    own = _blocks_of(new)
    if commit.rebuild:
        return own, change
    if commit.current is None:
        return _cache_blocks(db, ctx.model, dim), change
    gone = np.array(dropped, dtype=np.int64)
    return itertools.chain(commit.current.live_blocks(gone), own), change


def _blocks_of(index: FlatIndex) -> Iterator[VectorBlock]:
    """``index``'s vectors as one block; the generator keeps ``index`` alive while the
    block (a view of FAISS's memory) is used."""
    yield index.ids(), index.codes()


def _cache_blocks(db: sqlite3.Connection, model: str, dim: int) -> Iterator[VectorBlock]:
    """Every stored passage's cached vectors, CACHE_BLOCK passages at a time."""
    rows = store.all_view_hashes(db)
    while batch := list(itertools.islice(rows, CACHE_BLOCK)):
        block = FlatIndex.empty(dim)
        add_passages(db, block, model, dim, batch)
        yield block.ids(), block.codes()


def _insert_items(ctx: RunContext, commit: Commit, index: FlatIndex) -> list[int]:
    """Insert the commit's documents and add their cached vectors to ``index``; returns
    the new passages' ids."""
    added: list[int] = []
    for item in commit.items:
        ids = store.insert_document(ctx.db, item.doc, item.file_hash, item.rows, item.file_stat)
        views = [row.view_hashes for row in item.rows]
        add_passages(ctx.db, index, ctx.model, commit.dim, zip(ids, views, strict=True))
        added += ids
        checkpoint("rows")
    return added


def add_passages(
    db: sqlite3.Connection,
    index: FlatIndex,
    model: str,
    dim: int,
    rows: Iterable[tuple[int, Sequence[str]]],
) -> None:
    """Add the cached vectors of ``(passage id, view hashes)`` rows to ``index``."""
    rows = list(rows)
    hashes = [h for _, view_hashes in rows for h in view_hashes]
    cache = store.get_embeddings(db, model, hashes, dim)
    ids, vecs = [], []
    for passage_id, view_hashes in rows:
        for window, h in enumerate(view_hashes):
            if h not in cache:
                raise IndexDamagedError(
                    f"the embedding of passage {passage_id} is missing from the cache; "
                    "rebuild with `qa index --rebuild`"
                )
            ids.append(vectors.vector_id(passage_id, window))
            vecs.append(cache[h])
    if not ids:
        return
    stacked = np.vstack(vecs)
    damaged = int(np.count_nonzero(~store.unit_rows(stacked)))
    if damaged:  # never written into a vector file (the run's checks drop them first)
        raise IndexDamagedError(
            f"{damaged} cached embeddings are damaged (not finite unit vectors); "
            "rebuild with `qa index --rebuild`"
        )
    index.add(np.array(ids, dtype=np.int64), stacked)


def current_vectors(ctx: RunContext, manifest: Manifest) -> tuple[Segments | None, str]:
    """The committed generation's vectors, or None and why they cannot be used.

    The rule every reader applies (``qa.vectors.generation``) plus a sample compared with
    the embedding cache, so whatever makes ``qa ask`` report the file damaged, or
    ``qa index --check`` find it wrong, a plain ``qa index`` repairs (the new generation
    is then built from the cache instead). The cache is made sound first
    (``embedding.repair_cache``); when the file and the cache disagreed, the cache may
    have been the damaged side, so the file is asked again before it is given up.
    """
    db, index_dir = ctx.db, ctx.index_dir
    sample = store.sample_view_hashes(db, REPAIR_SAMPLE)
    try:
        return vectors.open_verified(db, index_dir, manifest, sample), ""
    except VectorFileDamaged as exc:
        log.info("%s", exc)
        fault = exc
    repair_cache(ctx, manifest, doubts_cache=fault.doubts_cache)
    if fault.doubts_cache:
        try:
            return vectors.open_verified(db, index_dir, manifest, sample), ""
        except VectorFileDamaged as exc:
            fault = exc
    return None, fault.fault


def recorded_formats(manifest: Manifest) -> tuple[str, str] | None:
    """The (chunker, views) versions the index's documents were parsed under, if recorded."""
    if not manifest.generation or manifest.chunker is None or manifest.views is None:
        return None
    return manifest.chunker, manifest.views


def remove_stale_vectors(index_dir: Path, manifest: Manifest) -> None:
    """Keep the committed generation's vector files and the previous generation's (a
    reader may still be opening them; one that finds a file gone reads the newer
    manifest).

    Also removes what a killed run left: temp files, and files of generations that were
    written but never committed (no reader can have been told about those). Only plain
    files are removed: anything else by such a name (a folder) and what was set aside
    (``.damaged-``) is the user's, and a file that cannot be removed now is left for
    the next run (a warning, never a failed run: the generation is committed).
    """
    keep = vectors.referenced(index_dir, manifest)
    for path in sorted(index_dir.glob("vectors-*.faiss*")):
        stem = path.name.split(".")[0].removeprefix("vectors-")
        stale = stem.isdigit() and int(stem) != manifest.generation - 1 and path not in keep
        if not (path.name.endswith(TEMP_SUFFIX) or stale) or SET_ASIDE in path.name:
            continue
        if path.is_symlink() or not path.is_file():
            log.debug("not removing %s: not a file", path)
            continue
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove the stale vector file %s (%s)", path, exc)
        checkpoint("cleanup")


def clear_the_way(path: Path) -> Path | None:
    """Move aside what stands where the next vector file goes, if it is not a plain
    file (a folder someone made): renamed, never deleted. Returns where it went."""
    if path.is_symlink() or not path.exists() or path.is_file():
        return None
    stamp = f"{path.name}{SET_ASIDE}{time.strftime('%Y%m%d-%H%M%S')}"
    target, n = path.with_name(stamp), 1
    while target.exists():
        n += 1
        target = path.with_name(f"{stamp}-{n}")
    path.rename(target)
    return target
