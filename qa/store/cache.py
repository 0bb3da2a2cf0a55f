"""The embedding cache and the stored sentence vectors, keyed by model and content hash.

Every vector the index holds is rebuilt from here (the FAISS files are derived data);
keys are content hashes, so a re-index embeds only texts this model has not seen.
Sentence vectors are kept as int8 with a float32 scale per sentence (a quarter of the
size of float32); ``_quantise`` and ``_dequantise`` are that codec.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence

import numpy as np

from qa.errors import IndexDamagedError
from qa.models import SentenceVectors
from qa.store.sql import rows_in_chunks

log = logging.getLogger(__name__)

NORM_TOLERANCE = 1e-3  # a cached vector is unit length to this, else it is damaged
_SCAN_BATCH = 4096  # cached vectors judged per numpy pass


# -- embeddings -------------------------------------------------------------------------


def cached_hashes(db: sqlite3.Connection, model: str, hashes: Iterable[str]) -> set[str]:
    """Which of ``hashes`` have an embedding of ``model`` in the cache."""
    return _present(db, "embeddings", "text_hash", model, hashes)


def put_embeddings(
    db: sqlite3.Connection, model: str, hashes: Sequence[str], vectors: np.ndarray
) -> None:
    """Cache one float32 vector per text hash (replacing what was there)."""
    db.executemany(
        "INSERT OR REPLACE INTO embeddings(model, text_hash, vector) VALUES (?, ?, ?)",
        [
            (model, h, np.ascontiguousarray(v, dtype=np.float32).tobytes())
            for h, v in zip(hashes, vectors, strict=True)
        ],
    )


def cached_dims(db: sqlite3.Connection, model: str) -> list[int]:
    """The distinct vector lengths cached for ``model`` (normally one, or none)."""
    rows = db.execute(
        "SELECT DISTINCT length(vector) / 4 FROM embeddings WHERE model = ?", (model,)
    ).fetchall()
    return sorted(int(row[0]) for row in rows)


def cached_dim(db: sqlite3.Connection, model: str) -> int | None:
    """The length of one cached vector of ``model`` (cheap), or None when none is cached."""
    row = db.execute(
        "SELECT length(vector) / 4 FROM embeddings WHERE model = ? LIMIT 1", (model,)
    ).fetchone()
    return None if row is None else int(row[0])


def drop_embeddings_not_of_dim(db: sqlite3.Connection, model: str, dim: int) -> int:
    """Delete cached vectors of ``model`` whose length is not ``dim``; returns how many."""
    cur = db.execute(
        "DELETE FROM embeddings WHERE model = ? AND length(vector) != ?", (model, dim * 4)
    )
    return int(cur.rowcount)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Which rows of a 2-d float array are finite unit vectors: the only kind the model
    gives (``normalize``), so any other is damage (zeroed, overwritten, garbage)."""
    with np.errstate(all="ignore"):
        norms = np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64)
    return np.asarray(np.abs(norms - 1.0) <= NORM_TOLERANCE)


def unsound_embeddings(
    db: sqlite3.Connection, model: str, hashes: Sequence[str] | None = None
) -> list[str]:
    """The hashes (of ``hashes``, or of every cached text of ``model``) whose cached
    vector is not a finite unit vector: what must never be trusted to build a vector file.

    Reads the blobs once, in batches; a vector of another length than its neighbours is
    judged on its own (the dimension checks say what is wrong with it).
    """
    if hashes is None:
        rows: Iterable[tuple[str, bytes]] = db.execute(
            "SELECT text_hash, vector FROM embeddings WHERE model = ?", (model,)
        )
    else:
        sql = "SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash IN ({marks})"
        rows = rows_in_chunks(db, sql, list(dict.fromkeys(hashes)), before=[model])
    bad: list[str] = []
    batch: list[tuple[str, bytes]] = []
    for row in rows:
        batch.append((row[0], row[1]))
        if len(batch) >= _SCAN_BATCH:
            bad += _unsound_in(batch)
            batch = []
    return bad + _unsound_in(batch)


def _unsound_in(batch: list[tuple[str, bytes]]) -> list[str]:
    """The hashes of ``(hash, blob)`` rows that are not finite unit float32 vectors."""
    by_length: dict[int, list[tuple[str, bytes]]] = {}
    bad: list[str] = []
    for text_hash, blob in batch:
        if not isinstance(blob, bytes) or not blob or len(blob) % 4:
            bad.append(text_hash)
        else:
            by_length.setdefault(len(blob), []).append((text_hash, blob))
    for length, rows in by_length.items():
        data = np.frombuffer(b"".join(blob for _, blob in rows), dtype=np.float32)
        sound = unit_rows(data.reshape(len(rows), length // 4))
        bad += [h for (h, _), ok in zip(rows, sound, strict=True) if not ok]
    return bad


def drop_embeddings(db: sqlite3.Connection, model: str, hashes: Sequence[str]) -> None:
    """Delete the cached vectors of ``hashes`` (they are embedded again when needed)."""
    sql = "DELETE FROM embeddings WHERE model = ? AND text_hash IN ({marks})"
    for _ in rows_in_chunks(db, sql, list(hashes), before=[model]):
        pass


def get_embeddings(
    db: sqlite3.Connection, model: str, hashes: Sequence[str], dim: int
) -> dict[str, np.ndarray]:
    """Cached vectors by hash; raises IndexDamagedError for one of another length."""
    sql = "SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash IN ({marks})"
    out: dict[str, np.ndarray] = {}
    for text_hash, blob in rows_in_chunks(db, sql, list(dict.fromkeys(hashes)), before=[model]):
        vec = np.frombuffer(blob, dtype=np.float32)
        if vec.shape != (dim,):
            raise IndexDamagedError(
                f"embedding cache entry {text_hash} has {vec.size} values, expected {dim}; "
                "rebuild with `qa index --rebuild`"
            )
        out[text_hash] = vec
    return out


# -- sentence vectors (highlighting) -----------------------------------------------------


def cached_sentence_keys(db: sqlite3.Connection, model: str, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` have stored sentence vectors of ``model``."""
    return _present(db, "sentence_vectors", "key", model, keys)


def put_sentence_vectors(
    db: sqlite3.Connection, model: str, items: Sequence[tuple[str, SentenceVectors]]
) -> None:
    """Store sentence vectors as int8 with a per-sentence scale (a quarter of float32)."""
    rows = []
    for key, item in items:
        scales, quantised = _quantise(item)
        spans = np.asarray(item.spans, dtype=np.int32).reshape(-1)
        rows.append((model, key, spans.tobytes(), scales.tobytes(), quantised.tobytes()))
    db.executemany(
        "INSERT OR REPLACE INTO sentence_vectors(model, key, spans, scales, vectors)"
        " VALUES (?, ?, ?, ?, ?)",
        rows,
    )


def drop_sentence_vectors_not_of_dim(db: sqlite3.Connection, model: str, dim: int) -> int:
    """Delete stored sentence vectors of ``model`` whose rows are not ``dim`` long."""
    cur = db.execute(
        "DELETE FROM sentence_vectors"
        " WHERE model = ? AND length(vectors) != length(scales) / 4 * ?",
        (model, dim),
    )
    return int(cur.rowcount)


def get_sentence_vectors(
    db: sqlite3.Connection, model: str, keys: Sequence[str], dim: int
) -> dict[str, SentenceVectors]:
    """Stored sentence vectors by key; entries of the wrong shape are left out (not trusted)."""
    sql = (
        "SELECT key, spans, scales, vectors FROM sentence_vectors"
        " WHERE model = ? AND key IN ({marks})"
    )
    out: dict[str, SentenceVectors] = {}
    for key, spans_blob, scales_blob, vectors_blob in rows_in_chunks(
        db, sql, list(dict.fromkeys(keys)), before=[model]
    ):
        item = _dequantise(spans_blob, scales_blob, vectors_blob, dim)
        if item is None:
            log.debug("sentence vectors %s have the wrong shape; ignored", key)
            continue
        out[key] = item
    return out


def _quantise(item: SentenceVectors) -> tuple[np.ndarray, np.ndarray]:
    """``(scales, int8 rows)``: each row divided by its peak / 127 and rounded."""
    vectors = np.asarray(item.vectors, dtype=np.float32).reshape(len(item.spans), -1)
    peak = np.abs(vectors).max(axis=1) if vectors.size else np.zeros(0, np.float32)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    quantised = np.rint(vectors / scales[:, None]).clip(-127, 127).astype(np.int8)
    return scales, quantised


def _dequantise(
    spans_blob: bytes, scales_blob: bytes, vectors_blob: bytes, dim: int
) -> SentenceVectors | None:
    """The stored blobs back as float32 sentence vectors, or None when the shapes disagree."""
    spans = np.frombuffer(spans_blob, dtype=np.int32)
    scales = np.frombuffer(scales_blob, dtype=np.float32)
    quantised = np.frombuffer(vectors_blob, dtype=np.int8)
    n = scales.size
    if n == 0 or spans.size != 2 * n or quantised.size != n * dim:
        return None
    vectors = quantised.reshape(n, dim).astype(np.float32) * scales[:, None]
    pairs = spans.reshape(n, 2).tolist()
    return SentenceVectors([(int(a), int(b)) for a, b in pairs], vectors)


def _present(
    db: sqlite3.Connection, table: str, column: str, model: str, keys: Iterable[str]
) -> set[str]:
    """Which ``keys`` a table of ``(model, column)`` rows holds for ``model``."""
    sql = f"SELECT {column} FROM {table} WHERE model = ? AND {column} IN ({{marks}})"
    return {row[0] for row in rows_in_chunks(db, sql, list(keys), before=[model])}
