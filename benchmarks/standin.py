"""STAND-IN EMBEDDER (not a model): real sample vectors for the synthetic release.

Embedding the whole release (~4 million windows) takes this machine days, and what the
release benchmark measures is everything around the model: listing, hashing, parsing,
SQLite and FTS5, the vector files, queries. So the indexer is handed this object instead
of a model. For each view text it is asked to embed it finds, through the mapping
``benchmarks/synth_release.py`` wrote beside the corpus (view hash -> the sample view the
window was drawn from, and the paragraph that donated a sentence to it, if any), the real
vector of that sample window in a base index's embedding cache (a ``qa index`` of the
sample), and returns it perturbed: plus 0.4 x the donor's vector (a random sample view's
when there is no donor, so no two copies are alike) and a little noise, renormalised
(cosine ~0.89 to the source). Nearest neighbours then look like real embeddings
(topics, near-paraphrases), not like uniform random vectors, which would flatter neither
approximate search nor fusion. Deterministic: the perturbation is a function of the
text's hash. A text the mapping does not know (an edited cable) gets a sample view picked
by its hash, and is counted (``unmapped``).

Late chunking: ``embed_spans`` returns, per sentence range, the view's vector plus
sentence-specific noise times the range's word count, so the indexer stores sentence
vectors exactly as with the real model (same rows, same bytes per sentence) at no model
cost; their values carry no meaning, so highlights on a stand-in index are not judged.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

MIX = 0.4  # weight of the donor (or a random) sample vector
NOISE = 0.3  # norm of the noise added
SENTENCE_NOISE = 0.5  # per-sentence noise around the view's vector (late-chunking stand-in)
_TABLE_ROWS = 4096  # noise vectors, combined three at a time by hash bits
SOURCES_DTYPE = np.dtype([("key", "<u8"), ("src", "<i4"), ("donor", "<i4")])

SpanSums = tuple[np.ndarray, np.ndarray]


def view_key(view_hash: str) -> int:
    """The 64-bit key of a view in the mapping: the first half of its ``text_hash``."""
    return int(view_hash[:16], 16)


def sources_paths(corpus: Path) -> tuple[Path, Path]:
    """The mapping's records and its description, beside (never inside) the corpus."""
    return (
        corpus.parent / f"{corpus.name}.sources.bin",
        corpus.parent / f"{corpus.name}.sources.json",
    )


def base_vectors(base: Path, hashes: Sequence[str]) -> tuple[str, np.ndarray, np.ndarray]:
    """``(model, vectors, found)``: the base index's cached vector of each view hash, in
    order (a missing one is a zero row, ``found`` False).

    Read through ``qa.store`` (whatever codec the cache uses now); a base index of an
    older schema, which ``qa.store`` refuses until ``qa index`` migrates it, is read with
    plain sqlite3 in the float32 layout it then had, read-only.
    """
    from qa.errors import QAError

    try:
        model, cache = _cached(base, hashes)
    except QAError:
        model, cache = _cached_float32(base, hashes)
    dim = len(next(iter(cache.values()))) if cache else 1
    out = np.zeros((len(hashes), dim), dtype=np.float32)
    found = np.zeros(len(hashes), dtype=bool)
    for i, h in enumerate(hashes):
        vec = cache.get(h)
        if vec is not None:
            out[i], found[i] = vec, True
    return model, out, found


def _cached(base: Path, hashes: Sequence[str]) -> tuple[str, dict[str, np.ndarray]]:
    from qa import store
    from qa.locations import db_path

    db = store.connect(db_path(base), readonly=True)
    try:
        manifest = store.read_manifest(db)
        return manifest.model, store.get_embeddings(db, manifest.model, hashes, manifest.dim)
    finally:
        db.close()


def _cached_float32(base: Path, hashes: Sequence[str]) -> tuple[str, dict[str, np.ndarray]]:
    """Schema <= 5: float32 blobs, no scale column."""
    db = sqlite3.connect(f"file:{base / 'pilcrow.sqlite'}?mode=ro", uri=True)
    try:
        manifest = dict(db.execute("SELECT key, value FROM manifest").fetchall())
        model, dim, wanted = manifest["model"], int(manifest["dim"]), set(hashes)
        rows = db.execute("SELECT text_hash, vector FROM embeddings WHERE model = ?", (model,))
        return model, {
            h: np.frombuffer(blob, dtype=np.float32)
            for h, blob in rows
            if h in wanted and len(blob) == dim * 4
        }
    finally:
        db.close()


class StandInEmbedder:
    """The Embedder (and SpanEmbedder) protocol over real sample vectors; no model runs."""

    max_tokens = 256

    def __init__(
        self, name: str, vectors: np.ndarray, found: np.ndarray, records: np.ndarray
    ) -> None:
        if not found.any():
            raise ValueError("the base index caches none of the sample's views")
        self.name, self.dim = name, int(vectors.shape[1])
        stand = np.flatnonzero(found)  # a view the base lacks borrows a found one's vector
        missing = np.flatnonzero(~found)
        vectors = vectors.copy()
        vectors[missing] = vectors[stand[missing % len(stand)]]
        self._base = vectors
        self.base_missing = len(missing)
        order = np.argsort(records["key"], kind="stable")
        self._keys = np.ascontiguousarray(records["key"][order])
        self._src = np.ascontiguousarray(records["src"][order])
        self._donor = np.ascontiguousarray(records["donor"][order])
        table = np.random.default_rng(20101128).standard_normal((_TABLE_ROWS, self.dim))
        self._noise = (table / np.linalg.norm(table, axis=1, keepdims=True)).astype(np.float32)
        self.texts = self.unmapped = self.calls = 0
        self.seconds = 0.0

    @classmethod
    def load(cls, corpus: Path, base: Path) -> StandInEmbedder:
        """The stand-in for the synthetic corpus at ``corpus`` over the base index."""
        records_path, meta_path = sources_paths(corpus)
        meta = json.loads(meta_path.read_text())
        hashes = [row[3] for row in meta["views"]]
        model, vectors, found = base_vectors(base, hashes)
        records = np.fromfile(records_path, dtype=SOURCES_DTYPE)
        return cls(model, vectors, found, records)

    def memory_mib(self) -> float:
        """What the stand-in holds (base vectors, mapping, noise), to subtract from RSS."""
        parts = (self._base, self._keys, self._src, self._donor, self._noise)
        return sum(a.nbytes for a in parts) / 2**20

    def sources(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(keys, source view rows, donor view rows)`` of each text; -1 donor: none."""
        from qa.views import text_hash

        keys = np.fromiter(
            (view_key(text_hash(t)) for t in texts), dtype=np.uint64, count=len(texts)
        )
        pos = np.minimum(np.searchsorted(self._keys, keys), max(0, len(self._keys) - 1))
        hit = self._keys[pos] == keys if len(self._keys) else np.zeros(len(keys), dtype=bool)
        n = np.uint64(len(self._base))
        src = np.where(hit, self._src[pos], (keys % n).astype(np.int64))
        donor = np.where(hit, self._donor[pos], -1)
        self.unmapped += int(np.count_nonzero(~hit))
        return keys, src.astype(np.int64), donor.astype(np.int64)

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Unit vectors: the source view's real vector, mixed and noised (see module)."""
        started = time.perf_counter()
        out, _ = self._vectors(texts)
        self.seconds += time.perf_counter() - started
        if progress is not None:
            progress(len(texts))
        return out

    def _vectors(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), np.zeros(0, dtype=np.uint64)
        self.calls += 1
        self.texts += len(texts)
        keys, src, donor = self.sources(texts)
        n = np.uint64(len(self._base))
        other = np.where(donor >= 0, donor, ((keys >> np.uint64(20)) % n).astype(np.int64))
        v = self._base[src] + MIX * self._base[other] + NOISE * self._noise_of(keys)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return v.astype(np.float32), keys

    def _noise_of(self, keys: np.ndarray) -> np.ndarray:
        mask = np.uint64(_TABLE_ROWS - 1)
        idx = [((keys >> np.uint64(s)) & mask).astype(np.int64) for s in (0, 12, 24)]
        noise = self._noise[idx[0]] + self._noise[idx[1]] + self._noise[idx[2]]
        return noise / np.linalg.norm(noise, axis=1, keepdims=True)

    def embed_spans(
        self,
        texts: Sequence[str],
        ranges: Sequence[Sequence[tuple[int, int, int]]],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, list[SpanSums]]:
        """``embed(texts)`` plus, per range, a sentence vector times its word count (the
        shape of OnnxEmbedder's token sums; the values are a stand-in's)."""
        started = time.perf_counter()
        vectors, keys = self._vectors(texts)
        pooled: list[SpanSums] = []
        for i, (text, spans) in enumerate(zip(texts, ranges, strict=True)):
            if not spans:
                pooled.append(
                    (np.zeros((0, self.dim), dtype=np.float32), np.zeros(0, dtype=np.int64))
                )
                continue
            counts = np.array([max(1, len(text[s:e].split())) for _, s, e in spans])
            rows = (np.arange(len(spans)) * 977 + int(keys[i] % 65521)) % _TABLE_ROWS
            sums = (vectors[i] + SENTENCE_NOISE * self._noise[rows]) * counts[:, None]
            pooled.append((sums.astype(np.float32), counts.astype(np.int64)))
        self.seconds += time.perf_counter() - started
        if progress is not None:
            progress(len(texts))
        return vectors, pooled

    def count_tokens(self, text: str) -> int:
        """Words, not word pieces: nothing in a build needs more than an estimate."""
        return len(text.split())

    def stats(self) -> dict[str, float]:
        return {
            "texts": self.texts,
            "calls": self.calls,
            "unmapped": self.unmapped,
            "base_missing": self.base_missing,
            "seconds": round(self.seconds, 3),
            "memory_mib": round(self.memory_mib(), 1),
        }
