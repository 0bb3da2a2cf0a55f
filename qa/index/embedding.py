"""Embed what the cache lacks: view vectors, and sentence vectors for highlighting.

Only view texts the cache has not seen for the model are embedded, in batches each
committed to the cache (a killed run keeps its work). Passages that need sentence
vectors get them from the same model pass that embeds their views (late chunking); a
model that cannot pool over token ranges leaves them to query-time highlighting.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from typing import NamedTuple

from qa import store
from qa.embed import Embedder, SpanEmbedder, backend_name
from qa.errors import IndexDamagedError
from qa.highlight import SENTENCES_VERSION, SentenceJob, job_for
from qa.index.context import RunContext
from qa.index.hooks import checkpoint
from qa.index.model_pool import runner_for
from qa.index.ray_stage import RayRunner
from qa.index.repair import (
    REPAIR_SAMPLE,
    distrust,
    drop_unsound,
    file_doubts_cache,
    model_disowns,
    stored_hashes,
    stored_views,
)
from qa.index.rows import Parsed
from qa.index.units import UnitResult, UnitRunner, plan_units
from qa.store import Manifest
from qa.views import clean


class Embedded(NamedTuple):
    """What embedding left in the cache: the vectors' dimension, and whether every
    passage that needed sentence vectors got them (``pooled``)."""

    dim: int
    pooled: bool


def embed_missing(
    ctx: RunContext,
    texts: dict[str, str],
    wanted: list[SentenceJob],
    manifest: Manifest,
    *,
    rebuild: bool,
) -> Embedded:
    """Embed the view ``texts`` (hash -> text) not yet cached for the run's model, and
    the ``wanted`` sentence-vector jobs not yet done.

    An update trusts the manifest's dimension; a rebuild takes it from the cache (when
    all its vectors agree) or the model, so a damaged manifest cannot block a rebuild.
    Cached entries of ``texts`` that are not finite unit vectors are dropped and embedded
    again; a rebuild whose old vector file disagrees with the cache re-embeds a sample
    first, and trusts none of the cache if the model disowns it (``repair``). The model
    is loaded only when something is missing or in doubt.
    """
    db, model = ctx.db, ctx.model
    drop_unsound(ctx, list(texts))
    missing = _uncached(db, model, texts)
    jobs = _undone(db, model, wanted)
    dim = _expected_dim(db, model, manifest, rebuild)
    doubted = rebuild and len(missing) < len(texts) and file_doubts_cache(ctx, manifest)
    if not missing and not jobs and dim and not doubted:
        return Embedded(dim, True)
    embedder = ctx.load_embedder(model)
    if rebuild or not manifest.generation or manifest.model != model:
        with store.transaction(db):  # vectors of another size under this model's name
            if store.drop_embeddings_not_of_dim(db, model, embedder.dim):
                missing = _uncached(db, model, texts)
            if store.drop_sentence_vectors_not_of_dim(db, model, embedder.dim):
                jobs = _undone(db, model, wanted)
        if doubted and model_disowns(ctx, embedder, texts):
            distrust(ctx, sorted(texts))
            missing = _uncached(db, model, texts)
    elif embedder.dim != dim:
        raise IndexDamagedError(
            f"model {model} gives {embedder.dim}-d vectors but the index holds {dim}-d ones; "
            "rebuild with `qa index --rebuild`"
        )
    span = embedder if isinstance(embedder, SpanEmbedder) else None
    pooled = span is not None or not jobs
    if span is None:
        jobs = []
    covered = {h for j in jobs for h in j.view_hashes}
    plain = [h for h in missing if h not in covered]
    if not plain and not jobs:
        return Embedded(embedder.dim, pooled)
    _embed_units(ctx, embedder, jobs, [(h, texts[h]) for h in plain], set(missing))
    ctx.summary.passages_embedded += len(missing)
    ctx.summary.sentences_embedded += len(jobs)
    return Embedded(embedder.dim, pooled)


def repair_cache(ctx: RunContext, manifest: Manifest, *, doubts_cache: bool) -> None:
    """Make the cache fit to rebuild a damaged vector file from: the database is whole
    (``PRAGMA quick_check``: garbage pages can read back without an error), no entry of
    the model is a damaged vector, and when the file and the cache disagreed
    (``doubts_cache``) the model agrees with a sample of it. What was dropped is
    embedded again from the stored passages. Raises IndexDamagedError (rebuild) when
    the database is damaged: nothing is then written.
    """
    db = ctx.db
    store.verify(db)
    drop_unsound(ctx)
    wanted = stored_hashes(db)
    if doubts_cache:
        firsts = {hashes[0] for _, hashes in store.sample_view_hashes(db, REPAIR_SAMPLE) if hashes}
        if model_disowns(ctx, ctx.load_embedder(ctx.model), stored_views(db, firsts)):
            distrust(ctx, sorted(wanted))
    lacking = wanted - store.cached_hashes(db, ctx.model, wanted)
    if lacking:
        embed_missing(ctx, stored_views(db, lacking), [], manifest, rebuild=False)


def _uncached(db: sqlite3.Connection, model: str, texts: dict[str, str]) -> list[str]:
    """The hashes of ``texts`` without a cached embedding, sorted."""
    return sorted(set(texts) - store.cached_hashes(db, model, texts))


def _undone(db: sqlite3.Connection, model: str, wanted: list[SentenceJob]) -> list[SentenceJob]:
    """The jobs whose sentence vectors are not stored yet."""
    known = store.cached_sentence_keys(db, model, [j.key for j in wanted])
    return [j for j in wanted if j.key not in known]


def _expected_dim(db: sqlite3.Connection, model: str, manifest: Manifest, rebuild: bool) -> int:
    """The dimension the run's vectors must have; 0 when only the model can tell."""
    if rebuild or manifest.model != model:
        dims = store.cached_dims(db, model)
        return dims[0] if len(dims) == 1 else 0
    return manifest.dim


def _embed_units(
    ctx: RunContext,
    embedder: Embedder,
    jobs: list[SentenceJob],
    views: list[tuple[str, str]],
    missing: set[str],
) -> None:
    """Embed ``jobs`` and plain ``views`` unit by unit, on the run's runner, committing
    each unit's ``missing`` views and its sentence vectors as it arrives."""
    total = len(views) + sum(len(j.views) for j in jobs)
    runner = _runner(ctx, embedder, total)
    units = plan_units(jobs, views, runner.unit_size(total))
    ctx.progress.start(total, "embedding")
    # closing: a failed commit shuts the runner's stream now, while Ray is still up
    with closing(runner.run(units, ctx.progress.advance)) as results:
        for result in results:
            _keep(ctx, result, missing)
    ctx.progress.finish()
    if isinstance(runner, RayRunner):
        ctx.summary.embed_restarts = runner.restarts
        ctx.summary.embedded_on = dict(sorted(runner.nodes.items()))


def _runner(ctx: RunContext, embedder: Embedder, total: int) -> UnitRunner:
    """Where the units run: on the run's Ray session, on a model process per core, or
    here with the loaded model (``model_pool.runner_for``)."""
    if ctx.ray is not None:
        return ctx.ray.runner_for(ctx.model)
    return runner_for(embedder, total, ctx.device)


def _keep(ctx: RunContext, result: UnitResult, wanted_views: set[str]) -> None:
    """Commit one unit to the cache: its views the cache lacked (a job's other views
    are cached already) and its sentence vectors."""
    rows = [i for i, h in enumerate(result.hashes) if h in wanted_views]
    with store.transaction(ctx.db):
        if rows:
            hashes = [result.hashes[i] for i in rows]
            store.put_embeddings(ctx.db, ctx.model, hashes, result.vectors[rows])
        if result.sentences:
            store.put_sentence_vectors(ctx.db, ctx.model, result.sentences)
    checkpoint("embedded")


def sentence_vectors_flag(model: str, *, pooled: bool = True) -> str:
    """The manifest's ``sentences`` value: every stored passage of ``model`` was given
    sentence vectors, or (``pooled=False``) the model could not pool them on this
    backend. The latter names the backend, so that switching backend (torch to onnx)
    computes them once more."""
    flag = f"{SENTENCES_VERSION}:{model}"
    return flag if pooled else f"{flag}:none:{backend_name()}"


def next_sentence_flag(manifest: Manifest, model: str, pooled: bool, *, recomputed: bool) -> str:
    """The ``sentences`` value the next generation records: the manifest's, unless this
    commit (re)computed sentence vectors for every passage, starts the index, or could
    not pool."""
    if recomputed or not manifest.generation or not pooled:
        return sentence_vectors_flag(model, pooled=pooled)
    return manifest.sentences


def backfill_due(manifest: Manifest, model: str) -> bool:
    """True when stored passages may lack sentence vectors that this run could compute:
    an index from before they existed, a new sentence format, or another backend."""
    done = {sentence_vectors_flag(model), sentence_vectors_flag(model, pooled=False)}
    return bool(manifest.generation) and manifest.sentences not in done


def sentence_jobs(
    db: sqlite3.Connection,
    items: Sequence[Parsed],
    dropped_documents: Sequence[int],
    backfill: bool,
) -> list[SentenceJob]:
    """Passages that need sentence vectors: the new and changed ones and, with
    ``backfill``, every stored passage that stays. One job per key."""
    jobs: dict[str, SentenceJob] = {}
    for item in items:
        for made in _jobs_of(item):
            jobs.setdefault(made.key, made)
    if backfill:
        dropped = set(dropped_documents)
        for source in store.sentence_sources(db):
            if source["document_id"] in dropped:
                continue
            job = job_for(
                source["text"],
                clean(source["text"]),
                source["title"],
                source["heading"],
                source["text_hash"],
                source["view_hashes"].split(),
            )
            if job:
                jobs.setdefault(job.key, job)
    return list(jobs.values())


def _jobs_of(item: Parsed) -> list[SentenceJob]:
    """The sentence-vector jobs of a parsed document: those its parse made, else made now."""
    if item.jobs is not None:
        return item.jobs
    jobs = []
    for p, row in zip(item.doc.passages, item.rows, strict=True):
        views = [item.texts[h] for h in row.view_hashes]  # as parsed: no rebuild
        job = job_for(
            p.text,
            row.search_text,
            item.doc.title,
            p.heading,
            row.text_hash,
            row.view_hashes,
            views,
        )
        if job:
            jobs.append(job)
    return jobs


def check_manifest_dim(db: sqlite3.Connection, model: str, manifest: Manifest) -> None:
    """The manifest's dimension must be that of the cached vectors of its model."""
    if manifest.model != model or not manifest.dim:
        return
    cached = store.cached_dim(db, model)
    if cached is not None and cached != manifest.dim:
        raise IndexDamagedError(
            f"the index manifest says {manifest.dim}-d vectors but the embedding cache of "
            f"{model} holds {cached}-d ones; rebuild with `qa index --rebuild`"
        )
