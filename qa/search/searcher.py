"""The read side of one index, and the ask pipeline: question → ranked, cited passages.

A ``Searcher`` holds a read-only view of one index: the SQLite store, the vector file of
the current generation, and the embedding model (loaded on first use, or ahead of time by
``warm()`` from a worker thread). Before each search it checks the manifest and reloads
the vectors if another process has committed a new generation (trusted by the one rule
in ``qa.vectors.generation``), so long-lived readers (the TUI) never mix generations.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa import bm25, locations, store, vectors
from qa.embed import Embedder
from qa.errors import IndexDamagedError, ModelError, NoIndexError
from qa.highlight import best_spans
from qa.locations import db_path
from qa.models import Answer, Document, Filters, Hit, IndexInfo, Mode
from qa.search import lexical, rank
from qa.search.answer import score_spread
from qa.search.hydrate import Hydrated, hydrate
from qa.search.query import Query
from qa.search.rank import Ranked
from qa.store import Manifest
from qa.vectors import VectorFileDamaged, VectorIndex
from qa.views import is_summary

if TYPE_CHECKING:
    from qa.search.tantivy_lexical import TantivyLexical

log = logging.getLogger(__name__)

CANDIDATES = 100  # depth of each ranked list fed to fusion


class Searcher:
    """Read side of an index. Thread-safe for one search at a time per instance."""

    def __init__(self, index_dir: Path, load_embedder: Callable[[str], Embedder]) -> None:
        self.index_dir = index_dir
        self._load_embedder = load_embedder
        self._db = store.connect(db_path(index_dir), readonly=True)
        self._lock = threading.RLock()
        # BM25 runs beside the embedding (see _retrieve) on a connection of its own, so the
        # two threads never share a connection's statement cache.
        self._lexical_db = store.connect(db_path(index_dir), readonly=True)
        self._lexical_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bm25")
        self._embedder: Embedder | None = None
        self._vectors: VectorIndex | None = None
        self._bm25: TantivyLexical | None = None
        self._manifest = Manifest()
        self._check_generation()

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        """The model the index was built with: the one questions are embedded with."""
        return self._manifest.model

    @property
    def manifest(self) -> Manifest:
        """The manifest of the generation being searched."""
        return self._manifest

    @property
    def vectors(self) -> VectorIndex:
        """The vector index being searched: the committed file, or its approximate sidecar."""
        assert self._vectors is not None  # loaded by the constructor
        return self._vectors

    @property
    def embedder_loaded(self) -> bool:
        """Whether ``warm()`` has already loaded the model (the TUI skips its load step)."""
        return self._embedder is not None

    def info(self) -> IndexInfo:
        """Counts and provenance of the generation being searched (the status line)."""
        with self._lock:
            docs, passages = store.counts(self._db)
            manifest = self._manifest
            return IndexInfo(
                docs, passages, manifest.model, manifest.generation, manifest.updated_at
            )

    def warm(self) -> Embedder:
        """Load the model now (call from a worker thread; it takes seconds)."""
        with self._lock:
            if self._embedder is None:
                self._embedder = self._load_embedder(self.model_name)
                if self._embedder.dim != self._manifest.dim:
                    raise IndexDamagedError(
                        f"model {self.model_name} gives {self._embedder.dim}-d vectors but the "
                        f"index holds {self._manifest.dim}-d ones; run `qa index --rebuild`"
                    )
            return self._embedder

    def refresh(self) -> bool:
        """True when a newer generation was picked up."""
        with self._lock:
            return self._check_generation()

    def document(self, doc_id: str) -> Document | None:
        """The stored document (with passages) for ``qa show`` and the source pane."""
        with self._lock:
            return store.get_document(self._db, doc_id)

    def indexed(self, doc_ids: list[str]) -> set[str]:
        """Which of ``doc_ids`` the index holds (the source pane's openable references)."""
        with self._lock:
            return store.indexed_doc_ids(self._db, doc_ids)

    def close(self) -> None:
        """Release the connections and the BM25 thread; the searcher is unusable after."""
        with self._lock:  # never while a search is using the connection
            self._lexical_pool.shutdown(wait=True)
            self._lexical_db.close()
            self._db.close()

    def _check_generation(self) -> bool:
        """Reload the manifest and vectors if a new generation was committed."""
        manifest = store.read_manifest(self._db)
        if not manifest.generation:
            raise NoIndexError(f"index at {self.index_dir} is empty: run `qa index`")
        if manifest.generation == self._manifest.generation:
            return False
        self._vectors, manifest = self._open_vectors(manifest)
        if self._bm25 is None:  # a run may have built one since
            self._bm25 = _open_bm25(self.index_dir)
        if self._manifest.model and manifest.model != self._manifest.model:
            self._embedder = None  # rebuilt with another model
        self._manifest = manifest
        return True

    def _open_vectors(self, manifest: Manifest) -> tuple[VectorIndex, Manifest]:
        """The vectors of ``manifest``'s generation, and the manifest they belong to.

        A writer that commits twice between the manifest read and the open (a big run
        commits parts seconds apart) has removed the file the manifest named: the
        manifest is read again and, if a newer generation was committed meanwhile, its
        file is opened instead, once. A fault that remains is the index's.
        """
        try:
            return vectors.open_for_search(self._db, self.index_dir, manifest), manifest
        except VectorFileDamaged as first:
            newer = store.read_manifest(self._db)
            if not newer.generation or newer.generation == manifest.generation:
                raise
            log.debug("%s; reading generation %d instead", first, newer.generation)
            return vectors.open_for_search(self._db, self.index_dir, newer), newer

    # -- the ask pipeline ---------------------------------------------------------------

    def ask(
        self,
        question: str,
        *,
        k: int = 5,
        mode: Mode | str = Mode.HYBRID,
        filters: Filters | None = None,
        highlight: bool = True,
    ) -> Answer:
        """The top-k passages for ``question``, best first, and whether anything in the
        index looks relevant at all. UsageError for an empty question."""
        query = Query.parse(question)
        mode = Mode(mode)
        filters = filters or Filters()
        with self._lock:
            self._check_generation()
            query_vector, dense, lex = self._retrieve(
                query,
                max(k, CANDIDATES),
                mode,
                filters,
                lambda: self._query_vector(query, required=mode != Mode.LEXICAL),
            )
            ranked = self._rank(query, dense, lex, mode, filters)
            spread = score_spread(mode, [score for _, score in ranked])
            found = hydrate(self._db, ranked[:k])
            hits = found.hits
            if highlight and hits and query_vector is not None:
                hits = self._highlighted(found, query_vector)
            if query_vector is None:  # lexical search without a model: no evidence either way
                return Answer(query.text, hits, float("nan"), bool(hits), spread)
            best = dense[0][1] if dense else 0.0
            return Answer(query.text, hits, best, rank.is_relevant(best), spread)

    def _query_vector(self, query: Query, *, required: bool) -> np.ndarray | None:
        """The question's embedding; lexical search goes on without it if the model fails."""
        try:
            return self.warm().embed([query.text])[0]
        except ModelError:
            if required:
                raise
            log.warning("model unavailable: lexical results without highlight or relevance")
            return None

    def _retrieve(
        self,
        query: Query,
        depth: int,
        mode: Mode,
        filters: Filters,
        query_vector: Callable[[], np.ndarray | None],
    ) -> tuple[np.ndarray | None, Ranked, Ranked]:
        """``(question vector, dense candidates, BM25 candidates)`` for ``mode``.

        BM25 needs no vector, so it runs on a worker thread while the question is
        embedded and FAISS searched (SQLite and onnxruntime release the GIL while they
        work): a hybrid question waits for about the slower of the two, not for both
        (measured at 13.5k passages: hybrid search p50 14 -> 9 ms, docs/benchmarks.md).
        """
        lexical_job = None
        if mode != Mode.DENSE:
            lexical_job = self._lexical_pool.submit(self._lexical, query.text, depth, filters)
        try:
            vector = query_vector()
            dense = self._dense(vector, depth, filters) if vector is not None else []
        finally:
            if lexical_job is not None:  # never leave it reading while the caller moves on
                wait([lexical_job])
        return vector, dense, lexical_job.result() if lexical_job is not None else []

    def _lexical(self, text: str, depth: int, filters: Filters) -> Ranked:
        """BM25 candidates: tantivy while it holds the searched generation, else FTS5."""
        if self._bm25 is None:
            return lexical.search(self._lexical_db, text, depth, filters)
        from qa.search.tantivy_lexical import search_in_step

        return search_in_step(self._bm25, self._lexical_db, self._manifest, text, depth, filters)

    def _dense(self, query_vector: np.ndarray, k: int, filters: Filters) -> Ranked:
        allowed = None
        if not filters.is_empty():
            allowed = vectors.all_window_ids(store.filtered_passage_ids(self._db, filters))
        # Windows of one passage compete for slots: over-fetch, keep each passage's best.
        scores, ids = self.vectors.search(query_vector, k * 3, allowed)
        return rank.best_per_passage(scores.tolist(), vectors.passage_of(ids).tolist(), k)

    def _rank(
        self, query: Query, dense: Ranked, lex: Ranked, mode: Mode, filters: Filters
    ) -> Ranked:
        """One mode's list as it is, or both fused with the cable-ID and summary rules."""
        if mode == Mode.LEXICAL:
            return lex
        if mode == Mode.DENSE:
            return dense
        fused = rank.fuse(
            dense,
            lex,
            boost=self._named_cable_passages(query, filters),
            prior=rank.dense_prior(self._manifest.concentration, self.vectors.count),
        )
        return rank.defer_summaries(fused, summaries_among(self._db, rank.summary_window(fused)))

    def _named_cable_passages(self, query: Query, filters: Filters) -> set[int]:
        """Passages of cables whose ID appears in the question (``07MOSCOW5292``)."""
        found: set[int] = set()
        for doc_id in query.cable_ids:
            narrowed = replace(filters, doc_id=doc_id)
            found.update(store.filtered_passage_ids(self._db, narrowed).tolist())
        return found

    def _highlighted(self, found: Hydrated, query_vector: np.ndarray) -> list[Hit]:
        """The hits with their best sentence marked: stored sentence vectors where the
        index has them, the rest embedded now (``qa.highlight.best_spans``)."""
        keys = found.sentence_keys()
        stored = store.get_sentence_vectors(
            self._db, self.model_name, [key for key in keys if key], self._manifest.dim
        )
        spans = best_spans(
            self.warm(),
            query_vector,
            [hit.text for hit in found.hits],
            [stored.get(key) if key else None for key in keys],
        )
        return [replace(hit, highlight=span) for hit, span in zip(found.hits, spans, strict=True)]


def _open_bm25(index_dir: Path) -> TantivyLexical | None:
    """The BM25 index (``qa.bm25``) of ``index_dir`` when there is one this install can
    search (tantivy installed, ``PILCROW_BM25`` not ``fts5``), else None: FTS5 answers."""
    directory = locations.bm25_path(index_dir)
    if locations.bm25_setting() == "fts5" or not directory.is_dir() or not bm25.available():
        return None
    from qa.search.tantivy_lexical import TantivyLexical

    return TantivyLexical.open(directory)


def summaries_among(db: sqlite3.Connection, passage_ids: list[int]) -> set[int]:
    """Which of ``passage_ids`` present themselves as summaries (``views.is_summary`` of
    their heading and lead): what ``rank.defer_summaries`` lowers."""
    leads = store.passage_leads(db, passage_ids)
    return {pid for pid, lead in leads.items() if is_summary(*lead)}
