"""What every step of one indexing run works with, passed as one value."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa.embed import Embedder
from qa.index.bm25 import BM25Keeper
from qa.index.ray_stage import RaySession
from qa.index.report import IndexSummary, Progress


@dataclass(frozen=True, slots=True)
class RunContext:
    """The database and folder a run writes, its model, and where it reports.

    ``summary`` is filled in as the run goes; the model is loaded through
    ``load_embedder`` only when something needs embedding. ``bm25``: whether and how the
    run keeps the BM25 index in step (``qa.index.bm25``). ``ray``: the run embeds on a
    Ray cluster (``qa.index.ray_stage``) instead of with ``load_embedder``'s model.
    """

    db: sqlite3.Connection
    index_dir: Path
    model: str  # canonical name, as the manifest records it
    load_embedder: Callable[[str], Embedder]
    progress: Progress
    summary: IndexSummary
    bm25: BM25Keeper
    ray: RaySession | None = None
    device: str = "cpu"  # where the run's model runs (``load_embedder`` loads it there)
