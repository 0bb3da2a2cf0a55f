"""Before the embedding cache is trusted: damaged entries dropped, and doubt settled.

Every vector file is rebuilt from the cache, so a damaged cache would turn a repair into
damage (and ``--rebuild`` would reuse it, the advice looping). Entries that are not
finite unit vectors (zeroed, overwritten) are dropped and embedded again. An entry can
also be a unit vector and still wrong (another model's, garbage that happens to
normalise): when the vector file and the cache disagree, a sample of the cached views is
re-embedded, and a cache the model disowns is not trusted at all. The helpers here
judge; ``embedding`` decides when to ask them and embeds what they drop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import numpy as np

from qa import store, vectors
from qa.embed import Embedder
from qa.errors import QAError
from qa.index.context import RunContext
from qa.index.report import record_repair
from qa.store import Manifest
from qa.vectors import FlatIndex, VectorFileDamaged
from qa.views import clean, text_hash, views_of

RESAMPLE = 8  # cached views re-embedded when the cache is in doubt
AGREEMENT = 0.99  # cosine of a fresh embedding with a sound cached one (batching noise: >0.9999)
# Passages whose vectors are compared with the embedding cache: by every run before it
# builds on the committed file (``commit``), before ``--rebuild`` trusts the cache
# (``file_doubts_cache``), and whose first views the model re-embeds when in doubt.
REPAIR_SAMPLE = 64


def note(ctx: RunContext, message: str) -> None:
    """Tell the user what was repaired, and keep it in the summary's ``repaired``."""
    record_repair(ctx.summary, message)
    ctx.progress.warn(message)


def drop_unsound(ctx: RunContext, hashes: Sequence[str] | None = None) -> int:
    """Drop the cached vectors of ``hashes`` (default: every one of the run's model) that
    are not finite unit vectors; returns how many. They are embedded again when needed.

    Damaged entries may be the visible part of damaged pages (garbage reads back without
    an error), so the database is checked first: IndexDamagedError (rebuild) when it is
    not whole, before anything is written.
    """
    bad = store.unsound_embeddings(ctx.db, ctx.model, hashes)
    if bad:
        store.verify(ctx.db)
        with store.transaction(ctx.db):
            store.drop_embeddings(ctx.db, ctx.model, bad)
        note(
            ctx,
            f"{len(bad)} cached embeddings of {ctx.model} were damaged (not finite unit "
            "vectors): dropped, to be embedded again",
        )
    return len(bad)


def distrust(ctx: RunContext, hashes: Sequence[str]) -> None:
    """Drop the cached vectors of ``hashes``: the model disowned a sample of them (the
    database is checked first, as ``drop_unsound`` does)."""
    store.verify(ctx.db)
    with store.transaction(ctx.db):
        store.drop_embeddings(ctx.db, ctx.model, hashes)
    note(
        ctx,
        f"the embedding cache of {ctx.model} disagrees with the model (another model's "
        f"vectors?): dropped {len(hashes)} entries, to be embedded again",
    )


def model_disowns(ctx: RunContext, embedder: Embedder, texts: dict[str, str]) -> bool:
    """True when the model, re-embedding a sample of the cached ``texts`` (hash -> text),
    disagrees with what the cache holds for them."""
    cached = sorted(store.cached_hashes(ctx.db, ctx.model, texts))
    sample = cached[:: max(1, len(cached) // RESAMPLE)][:RESAMPLE]
    if not sample:
        return False
    stored = store.get_embeddings(ctx.db, ctx.model, sample, embedder.dim)
    fresh = np.asarray(embedder.embed([texts[h] for h in sample]), dtype=np.float32)
    agreement = np.einsum("ij,ij->i", fresh, np.stack([stored[h] for h in sample]))
    return bool(np.any(agreement < AGREEMENT))


def file_doubts_cache(ctx: RunContext, manifest: Manifest) -> bool:
    """True when the committed vector file, readable and of this model, holds sampled
    vectors that differ from the cache (what ``qa index --check`` reports): before
    ``--rebuild`` builds everything from the cache, that doubt must be settled."""
    if not manifest.generation or manifest.model != ctx.model:
        return False
    path = vectors.committed_path(ctx.index_dir, manifest)
    try:
        index = FlatIndex.open(path)
    except Exception:  # unreadable: nothing to compare the cache with
        return False
    if not index.is_pilcrow() or index.dim != manifest.dim:
        return False
    sample = store.sample_view_hashes(ctx.db, REPAIR_SAMPLE)
    try:
        vectors.check_against_cache(ctx.db, index, path, ctx.model, sample)
    except VectorFileDamaged as exc:
        return exc.doubts_cache
    except QAError:  # cached vectors of another size: the rebuild drops them anyway
        return False
    return False


def stored_views(db: sqlite3.Connection, wanted: set[str]) -> dict[str, str]:
    """hash -> text of the stored passages' embedded views whose hash is in ``wanted``,
    recomputed as the indexer made them (a view whose text no longer hashes the same,
    after a views change, is left out: a re-parse embeds it)."""
    out: dict[str, str] = {}
    for row in store.sentence_sources(db):
        hashes = row["view_hashes"].split()
        if wanted.isdisjoint(hashes):
            continue
        views = views_of(row["title"], row["heading"], clean(row["text"]))[: vectors.WINDOWS]
        for h, view in zip(hashes, views, strict=False):
            if h in wanted and text_hash(view) == h:
                out[h] = view
    return out


def stored_hashes(db: sqlite3.Connection) -> set[str]:
    """The hash of every embedded view of every stored passage."""
    return {h for _, hashes in store.all_view_hashes(db) for h in hashes}
