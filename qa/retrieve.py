"""Questions → ranked, cited passages: dense, lexical and hybrid search over one index.

A ``Searcher`` holds a read-only view of one index: the SQLite store, the vector file of
the current generation, and the embedding model (loaded on first use, or ahead of time by
``warm()`` from a worker thread). Before each search it checks the manifest and reloads
the vectors if another process has committed a new generation, so long-lived readers
(the TUI) never mix generations.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from qa import lexical, store, vectors
from qa.embed import Embedder
from qa.errors import IndexDamagedError, ModelError, NoIndexError, QAError, UsageError
from qa.highlight import best_spans
from qa.locations import db_path, vectors_path
from qa.models import Filters, Hit
from qa.sentences import sentence_key
from qa.store import SentenceVectors
from qa.views import is_summary, text_hash

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000  # the model reads ~256 word pieces; the rest only slows BM25
CONFIDENCE_POWER = 2.0  # see fuse(); chosen on our tuning questions and BEIR
CONCENTRATION_EVEN = 0.2  # see dense_prior(): the concentration at which the prior is even
PRIOR_STEEPNESS = 4.0  # see dense_prior(): how fast the prior leaves even as corpora spread
CANDIDATES = 100  # depth of each ranked list fed to fusion
SUMMARY_PENALTY = 1.5  # fused z-score units; chosen on our tuning questions (1.5-3 plateau)
SUMMARY_WINDOW = 50  # how deep the summary rule looks into the fused ranking
ANN_CHECK_SAMPLE = 8  # cached embeddings that must find themselves in an approximate index

_CABLE_ID = re.compile(r"\b(\d{2}[A-Z][A-Z-]{1,24}\d{1,6})\b", re.IGNORECASE)


# Below this cosine similarity between the question and its closest passage, nothing in
# the index is taken to be about the question (calibrated in docs/evaluation.md).
RELEVANCE_THRESHOLD = 0.38


@dataclass(frozen=True, slots=True)
class Answer:
    """Ranked hits plus the evidence for "nothing relevant": the best dense similarity."""

    question: str
    hits: list[Hit]
    best_similarity: float
    relevant: bool


class Mode(StrEnum):
    DENSE = "dense"
    LEXICAL = "lexical"
    HYBRID = "hybrid"


@dataclass(frozen=True, slots=True)
class IndexInfo:
    """What the status line and ``qa paths`` show about an index."""

    documents: int
    passages: int
    model: str
    generation: int
    updated_at: str


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
        self._vectors: Any = None
        self._generation = -1
        self._manifest: dict[str, str] = {}
        self._check_generation()

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        return self._manifest.get("model", "")

    def info(self) -> IndexInfo:
        with self._lock:
            docs, passages = store.counts(self._db)
            return IndexInfo(
                docs,
                passages,
                self.model_name,
                self._generation,
                self._manifest.get("updated_at", ""),
            )

    def warm(self) -> Embedder:
        """Load the model now (call from a worker thread; it takes seconds)."""
        with self._lock:
            if self._embedder is None:
                self._embedder = self._load_embedder(self.model_name)
                if self._embedder.dim != int(self._manifest["dim"]):
                    raise IndexDamagedError(
                        f"model {self.model_name} gives {self._embedder.dim}-d vectors but the "
                        f"index holds {self._manifest['dim']}-d ones; run `qa index --rebuild`"
                    )
            return self._embedder

    @property
    def embedder_loaded(self) -> bool:
        return self._embedder is not None

    def close(self) -> None:
        with self._lock:  # never while a search is using the connection
            self._lexical_pool.shutdown(wait=True)
            self._lexical_db.close()
            self._db.close()

    def _check_generation(self) -> bool:
        """Reload the manifest and vectors if a new generation was committed."""
        manifest = store.read_manifest(self._db)
        if not manifest.get("generation"):
            raise NoIndexError(f"index at {self.index_dir} is empty: run `qa index`")
        generation = int(manifest["generation"])
        if generation == self._generation:
            return False
        if self._manifest.get("model") and manifest["model"] != self._manifest["model"]:
            self._embedder = None  # rebuilt with another model
        path = vectors_path(self.index_dir, generation)
        if not path.exists():
            raise IndexDamagedError(
                f"{path} is missing; repair with `qa index` or `qa index --rebuild`"
            )
        index = self._read_vectors(path, manifest)
        expected = int(manifest.get("vector_count", index.ntotal))
        if index.ntotal != expected:
            raise IndexDamagedError(
                f"{path} holds {index.ntotal} vectors, the manifest says {expected}; "
                "run `qa index --rebuild`"
            )
        self._vectors, self._manifest, self._generation = index, manifest, generation
        return True

    def _read_vectors(self, path: Path, manifest: dict[str, str]) -> Any:
        """The approximate sidecar above ``vectors.ANN_MIN_VECTORS`` if sound, else exact."""
        dim = int(manifest["dim"])
        count, ann_bytes = manifest.get("vector_count", ""), manifest.get("ann_bytes", "")
        recorded_none = "ann_bytes" in manifest and not ann_bytes  # a leftover of a crash
        if recorded_none or not vectors.ann_path(path).exists():
            return vectors.read(path, dim)
        try:
            sample = store.sample_view_hashes(self._db, ANN_CHECK_SAMPLE)
            cache = store.get_embeddings(
                self._db, manifest.get("model", ""), [hs[0] for _, hs in sample if hs], dim
            )
        except (QAError, ValueError) as exc:  # any doubt about the sidecar: exact search
            log.warning("cannot check %s (%s); searching exactly", vectors.ann_path(path), exc)
            return vectors.read(path, dim)
        samples = [
            (vectors.vector_id(pid, 0), cache[hs[0]]) for pid, hs in sample if hs and hs[0] in cache
        ]
        return vectors.read_for_search(
            path,
            dim,
            int(count) if count.isdigit() else None,
            ann_bytes=int(ann_bytes) if ann_bytes.isdigit() else None,
            samples=samples,
        )

    def refresh(self) -> bool:
        """True when a newer generation was picked up."""
        with self._lock:
            return self._check_generation()

    # -- search -------------------------------------------------------------------------

    def search(
        self,
        question: str,
        *,
        k: int = 5,
        mode: Mode | str = Mode.HYBRID,
        filters: Filters | None = None,
        highlight: bool = True,
    ) -> list[Hit]:
        """The top-k passages for a question, best first."""
        return self.ask(question, k=k, mode=mode, filters=filters, highlight=highlight).hits

    def ask(
        self,
        question: str,
        *,
        k: int = 5,
        mode: Mode | str = Mode.HYBRID,
        filters: Filters | None = None,
        highlight: bool = True,
    ) -> Answer:
        """The top-k passages and whether anything in the index looks relevant at all."""
        # Lone surrogates (undecodable bytes from a shell) would crash the tokenizer.
        question = question.encode("utf-8", "replace").decode("utf-8")
        question = " ".join(question.split())[:MAX_QUESTION_CHARS]
        if not question:
            raise UsageError("the question is empty")
        mode = Mode(mode)
        filters = filters or Filters()
        with self._lock:
            self._check_generation()
            query_vector, dense, lex = self._retrieve(
                question,
                max(k, CANDIDATES),
                mode,
                filters,
                lambda: self._query_vector(question, required=mode != Mode.LEXICAL),
            )
            ranked = self._rank(question, dense, lex, k, mode, filters)
            hits = self._hydrate(ranked[:k])
            if highlight and hits and query_vector is not None:
                texts = [h.text for h in hits]
                stored = self._stored_sentences(hits)
                spans = best_spans(self.warm(), query_vector, texts, stored)
                hits = [_with_highlight(h, span) for h, span in zip(hits, spans, strict=True)]
            if query_vector is None:  # lexical search without a model: no evidence either way
                return Answer(question, hits, float("nan"), bool(hits))
            best = dense[0][1] if dense else 0.0
            return Answer(question, hits, best, best >= RELEVANCE_THRESHOLD)

    def _query_vector(self, question: str, *, required: bool) -> np.ndarray | None:
        """The question's embedding; lexical search goes on without it if the model fails."""
        try:
            return self.warm().embed([question])[0]
        except ModelError:
            if required:
                raise
            log.warning("model unavailable: lexical results without highlight or relevance")
            return None

    def _retrieve(
        self,
        question: str,
        depth: int,
        mode: Mode,
        filters: Filters,
        query_vector: Callable[[], np.ndarray | None],
    ) -> tuple[np.ndarray | None, list[tuple[int, float]], list[tuple[int, float]]]:
        """``(question vector, dense candidates, BM25 candidates)`` for ``mode``.

        BM25 needs no vector, so it runs on a worker thread while the question is
        embedded and FAISS searched (SQLite and onnxruntime release the GIL while they
        work): a hybrid question waits for about the slower of the two, not for both
        (measured at 13.5k passages: hybrid search p50 14 -> 9 ms, docs/benchmarks.md).
        """
        lexical_job = None
        if mode != Mode.DENSE:
            lexical_job = self._lexical_pool.submit(
                lexical.search, self._lexical_db, question, depth, filters
            )
        try:
            vector = query_vector()
            dense = self._dense(vector, depth, filters) if vector is not None else []
        finally:
            if lexical_job is not None:  # never leave it reading while the caller moves on
                wait([lexical_job])
        return vector, dense, lexical_job.result() if lexical_job is not None else []

    def _rank(
        self,
        question: str,
        dense: list[tuple[int, float]],
        lex: list[tuple[int, float]],
        k: int,
        mode: Mode,
        filters: Filters,
    ) -> list[tuple[int, float]]:
        if mode == Mode.LEXICAL:
            return lex
        if mode == Mode.DENSE:
            return dense
        fused = fuse(
            dense,
            lex,
            boost=self._mentioned_passages(question, filters),
            prior=dense_prior(self._manifest.get("concentration", "")),
        )
        return self._summaries_defer(fused)

    def _summaries_defer(self, fused: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """Lower summary paragraphs by SUMMARY_PENALTY among the top SUMMARY_WINDOW.

        A cable's summary matches nearly every question about the cable; the paragraph
        with the detail should be cited first unless the summary is clearly the better
        match (measured in docs/evaluation.md).
        """
        head = fused[:SUMMARY_WINDOW]
        leads = store.passage_leads(self._db, [pid for pid, _ in head])
        adjusted = [
            (pid, score - SUMMARY_PENALTY if is_summary(*leads.get(pid, ("", ""))) else score)
            for pid, score in head
        ]
        return sorted(adjusted + fused[SUMMARY_WINDOW:], key=lambda item: item[1], reverse=True)

    def _dense(self, query_vector: np.ndarray, k: int, filters: Filters) -> list[tuple[int, float]]:
        allowed = None
        if not filters.is_empty():
            allowed = vectors.all_window_ids(store.filtered_passage_ids(self._db, filters))
        # Windows of one passage compete for slots: over-fetch, keep each passage's best.
        scores, ids = vectors.search(self._vectors, query_vector, k * 3, allowed)
        best: dict[int, float] = {}
        for score, pid in zip(scores.tolist(), vectors.passage_of(ids).tolist(), strict=True):
            if pid not in best:
                best[pid] = score
        return list(best.items())[:k]

    def _mentioned_passages(self, question: str, filters: Filters) -> set[int]:
        """Passages of cables whose ID appears in the question (``07MOSCOW5292``)."""
        found: set[int] = set()
        for doc_id in {m.group(1).upper() for m in _CABLE_ID.finditer(question)}:
            narrowed = Filters(**{**_filters_dict(filters), "doc_id": doc_id})
            found.update(store.filtered_passage_ids(self._db, narrowed).tolist())
        return found

    def _stored_sentences(self, hits: list[Hit]) -> list[SentenceVectors | None]:
        """The hits' stored sentence vectors (None for a passage that has none)."""
        hashes = store.passage_hashes(self._db, [h.passage_id for h in hits])
        texts = {h.passage_id: h.text for h in hits}
        keys = {
            pid: sentence_key(th, vh)
            for pid, (th, vh) in hashes.items()
            if text_hash(texts[pid]) == th  # the row read is the text shown
        }
        found = store.get_sentence_vectors(
            self._db, self.model_name, list(keys.values()), int(self._manifest["dim"])
        )
        return [found.get(keys.get(h.passage_id, "")) for h in hits]

    def _hydrate(self, ranked: list[tuple[int, float]]) -> list[Hit]:
        rows = store.passage_rows(self._db, [pid for pid, _ in ranked])
        hits: list[Hit] = []
        for pid, score in ranked:
            row = rows.get(pid)
            if row is None:  # deleted since the vectors were written; never cite it
                continue
            hits.append(
                Hit(
                    rank=len(hits) + 1,
                    passage_id=pid,
                    doc_id=row["doc_id"],
                    label=row["label"],
                    paragraph=row["paragraph"],
                    score=score,
                    text=row["text"],
                    heading=row["heading"],
                    title=row["title"],
                    date=row["date"],
                    origin=row["origin"],
                    classification=row["classification"],
                    source=row["source"],
                )
            )
        return hits

    def document(self, doc_id: str):  # type: ignore[no-untyped-def]
        """The stored document (with passages) for ``qa show`` and the source pane."""
        with self._lock:
            return store.get_document(self._db, doc_id)


def dense_prior(concentration: str | float) -> float:
    """The per-index prior weight of dense scores in fusion, from the index's concentration.

    ``vectors.concentration`` is the mean cosine between two of the index's vectors. On
    the cables (0.2: one register, one subject) BM25 is the stronger mode and the prior is
    even; on diverse corpora the model was trained for (web passages, encyclopedia
    entries: about 0.03) BM25 added nothing at any weight we measured, and the prior all
    but hands the ranking to the embeddings. Prior odds dense:lexical are
    ``(CONCENTRATION_EVEN / c) ** PRIOR_STEEPNESS`` (c = 0.1 gives 0.94). Fitted on
    three corpora only (docs/evaluation.md); an index that has not recorded c gets 0.5.
    """
    try:
        c = float(concentration)
    except (TypeError, ValueError):
        return 0.5
    if not math.isfinite(c) or c <= 0:
        return 0.5
    odds = (CONCENTRATION_EVEN / min(max(c, 1e-3), 1.0)) ** PRIOR_STEEPNESS
    return odds / (1.0 + odds)


def fuse(
    dense: list[tuple[int, float]],
    lexical_hits: list[tuple[int, float]],
    *,
    boost: set[int] | None = None,
    prior: float = 0.5,
) -> list[tuple[int, float]]:
    """Confidence-weighted fusion of z-normalised dense and BM25 scores.

    Each list's scores are z-normalised over its own candidates; the dense weight is
    ``π·zd² / (π·zd² + (1-π)·zl²)``, where z is how far each list's best score stands out
    from the rest and π is the index's ``dense_prior``. A rare name that BM25 pins to one
    paragraph dominates; a paraphrase that only the embeddings recognise dominates when
    BM25's scores are flat. Measured against RRF and fixed weights in docs/evaluation.md.
    Passages in ``boost`` (a cable the question names by ID) go first.
    """
    z_dense, z_lex = _zscores(dense), _zscores(lexical_hits)
    conf_dense = prior * max(_top_z(dense), 1e-6) ** CONFIDENCE_POWER
    conf_lex = (1.0 - prior) * max(_top_z(lexical_hits), 1e-6) ** CONFIDENCE_POWER
    alpha = conf_dense / (conf_dense + conf_lex)
    floor_dense = min(z_dense.values(), default=0.0)
    floor_lex = min(z_lex.values(), default=0.0)
    scores = {
        pid: alpha * z_dense.get(pid, floor_dense) + (1 - alpha) * z_lex.get(pid, floor_lex)
        for pid in z_dense.keys() | z_lex.keys()
    }
    if boost:
        for pid in scores.keys() & boost:
            scores[pid] += 100.0
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)


def _zscores(ranked: list[tuple[int, float]]) -> dict[int, float]:
    if not ranked:
        return {}
    values = np.array([score for _, score in ranked], dtype=np.float64)
    spread = values.std() or 1.0
    normalised = (values - values.mean()) / spread
    return {pid: float(v) for (pid, _), v in zip(ranked, normalised, strict=True)}


def _top_z(ranked: list[tuple[int, float]]) -> float:
    """How many standard deviations the best score sits above the candidates' mean."""
    if len(ranked) < 3:
        return 0.0
    values = np.array([score for _, score in ranked], dtype=np.float64)
    return float((values[0] - values.mean()) / (values.std() or 1.0))


def _filters_dict(filters: Filters) -> dict[str, str | None]:
    return {
        "origin": filters.origin,
        "since": filters.since,
        "until": filters.until,
        "classification": filters.classification,
        "tag": filters.tag,
        "doc_id": filters.doc_id,
    }


def _with_highlight(hit: Hit, span: tuple[int, int]) -> Hit:
    from dataclasses import replace

    return replace(hit, highlight=span)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - started) * 1000
