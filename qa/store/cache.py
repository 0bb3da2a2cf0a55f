"""The embedding cache and the stored sentence vectors, keyed by model and content hash.

Every vector the index holds is rebuilt from here (the FAISS files are derived data);
keys are content hashes, so a re-index embeds only texts this model has not seen.
Embeddings are stored as int8 with one float32 scale per vector (``qa.store.codec``: a
quarter of float32's bytes), as ``scale`` (REAL) and ``vector`` (one byte a component,
so its dimension is ``length(vector)``); a passage's sentences as ``scales`` and
``vectors`` blobs of 4-bit codes (two components a byte, schema 8: they only pick the
highlighted sentence). Embeddings are read back as float32 unit vectors (renormalised);
sentence vectors as decoded, not renormalised (``get_sentence_vectors`` says why). Both
tables are rowid tables with a unique index on the key (schema 6): a row of either fits
in its b-tree page (up to ~4,061 bytes on 4 KiB pages, where a WITHOUT ROWID row spills
past ~1,002).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from qa.errors import IndexDamagedError
from qa.models import SentenceVectors
from qa.store.codec import (
    PEAK,
    dequantise4,
    packed_width,
    quantise,
    quantise4,
    unit_rows_of,
)
from qa.store.sql import rows_in_chunks

log = logging.getLogger(__name__)

NORM_TOLERANCE = 1e-3  # a cached vector is unit length to this, else it is damaged
# Per component, how far a cached embedding as read back may be from the model's vector:
# rounding moves it by at most s/2 and renormalising by far less (s = peak/127, at most
# 1/127; measured: 1.1e-3 at s <= 2.1e-3 on the sample). What a check comparing a vector
# file with the cache must allow on top of the file's own rounding.
EMBEDDING_ERROR = 1.0 / PEAK
_SCAN_BATCH = 4096  # cached vectors judged per numpy pass
# The dimension of a stored embedding: its codes are one byte a component.
_DIM = "length(vector)"


# -- embeddings -------------------------------------------------------------------------


def cached_hashes(db: sqlite3.Connection, model: str, hashes: Iterable[str]) -> set[str]:
    """Which of ``hashes`` have an embedding of ``model`` in the cache."""
    return _present(db, "embeddings", "text_hash", model, hashes)


def put_embeddings(
    db: sqlite3.Connection, model: str, hashes: Sequence[str], vectors: np.ndarray
) -> None:
    """Cache one vector per text hash, int8 with its scale (replacing what was there)."""
    if not len(hashes):
        return
    rows = np.asarray(vectors, dtype=np.float32).reshape(len(hashes), -1)
    scales, codes = quantise(rows)
    db.executemany(
        "INSERT OR REPLACE INTO embeddings(model, text_hash, scale, vector) VALUES (?, ?, ?, ?)",
        [
            (model, h, float(scale), code.tobytes())
            for h, scale, code in zip(hashes, scales, codes, strict=True)
        ],
    )


def cached_dims(db: sqlite3.Connection, model: str) -> list[int]:
    """The distinct vector lengths cached for ``model`` (normally one, or none)."""
    rows = db.execute(
        f"SELECT DISTINCT {_DIM} FROM embeddings WHERE model = ?", (model,)
    ).fetchall()
    return sorted(int(row[0]) for row in rows)


def cached_dim(db: sqlite3.Connection, model: str) -> int | None:
    """The length of one cached vector of ``model`` (cheap), or None when none is cached."""
    row = db.execute(f"SELECT {_DIM} FROM embeddings WHERE model = ? LIMIT 1", (model,)).fetchone()
    return None if row is None else int(row[0])


def drop_embeddings_not_of_dim(db: sqlite3.Connection, model: str, dim: int) -> int:
    """Delete cached vectors of ``model`` whose length is not ``dim``; returns how many."""
    cur = db.execute(f"DELETE FROM embeddings WHERE model = ? AND {_DIM} != ?", (model, dim))
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

    Reads the rows once, in batches; a vector of another length than its neighbours is
    judged on its own (the dimension checks say what is wrong with it).
    """
    bad: list[str] = []
    for batch in _batches(_embedding_rows(db, model, hashes)):
        decoded = _decode(batch)
        bad += [h for h, _, _ in batch if h not in decoded]
        bad += [h for h, vec in decoded.items() if not unit_rows(vec[None, :])[0]]
    return bad


def iter_embeddings(db: sqlite3.Connection, model: str) -> Iterator[tuple[str, np.ndarray]]:
    """``(text hash, float32 vector)`` of every cached embedding of ``model``, as
    ``get_embeddings`` reads them (for tools that copy or inspect the whole cache)."""
    for batch in _batches(_embedding_rows(db, model, None)):
        yield from _decode(batch).items()


def drop_embeddings(db: sqlite3.Connection, model: str, hashes: Sequence[str]) -> None:
    """Delete the cached vectors of ``hashes`` (they are embedded again when needed)."""
    sql = "DELETE FROM embeddings WHERE model = ? AND text_hash IN ({marks})"
    for _ in rows_in_chunks(db, sql, list(hashes), before=[model]):
        pass


def get_embeddings(
    db: sqlite3.Connection, model: str, hashes: Sequence[str], dim: int
) -> dict[str, np.ndarray]:
    """Cached vectors by hash, float32 and renormalised to unit length (a damaged entry
    reads back as zeros, see ``qa.store.codec``); raises IndexDamagedError for one of
    another length."""
    out: dict[str, np.ndarray] = {}
    for batch in _batches(_embedding_rows(db, model, hashes)):
        for text_hash, vec in _decode(batch).items():
            if vec.shape != (dim,):
                raise IndexDamagedError(
                    f"embedding cache entry {text_hash} has {vec.size} values, expected "
                    f"{dim}; rebuild with `qa index --rebuild`"
                )
            out[text_hash] = vec
    return out


_Row = tuple[str, object, object]  # (text hash, scale, vector codes) as SQLite gives them


def _embedding_rows(
    db: sqlite3.Connection, model: str, hashes: Sequence[str] | None
) -> Iterable[_Row]:
    """The stored rows of ``hashes`` (every one of ``model``'s when None)."""
    columns = "SELECT text_hash, scale, vector FROM embeddings WHERE model = ?"
    if hashes is None:
        return (tuple(row) for row in db.execute(columns, (model,)))
    sql = columns + " AND text_hash IN ({marks})"
    return (
        tuple(row) for row in rows_in_chunks(db, sql, list(dict.fromkeys(hashes)), before=[model])
    )


def _batches(rows: Iterable[_Row]) -> Iterator[list[_Row]]:
    """``rows`` in lists of _SCAN_BATCH: one numpy pass each, bounded memory."""
    batch: list[_Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _SCAN_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _decode(batch: list[_Row]) -> dict[str, np.ndarray]:
    """Unit float32 vectors of stored rows, grouped by length; a row SQLite holds in the
    wrong types (not a blob, a scale that is not a number) is left out: it is damage."""
    by_length: dict[int, list[tuple[str, float, bytes]]] = {}
    for text_hash, scale, blob in batch:
        if isinstance(blob, bytes) and blob and isinstance(scale, (int, float)):
            by_length.setdefault(len(blob), []).append((text_hash, float(scale), blob))
    out: dict[str, np.ndarray] = {}
    for length, rows in by_length.items():
        codes = np.frombuffer(b"".join(blob for _, _, blob in rows), np.int8)
        scales = np.array([scale for _, scale, _ in rows], np.float32)
        vectors = unit_rows_of(scales, codes.reshape(len(rows), length), NORM_TOLERANCE)
        out.update((h, vec) for (h, _, _), vec in zip(rows, vectors, strict=True))
    return out


# -- sentence vectors (highlighting) -----------------------------------------------------


def cached_sentence_keys(db: sqlite3.Connection, model: str, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` have stored sentence vectors of ``model``."""
    return _present(db, "sentence_vectors", "key", model, keys)


def put_sentence_vectors(
    db: sqlite3.Connection, model: str, items: Sequence[tuple[str, SentenceVectors]]
) -> None:
    """Store sentence vectors as 4-bit codes with a per-sentence scale (an eighth of
    float32; ``qa.store.codec.quantise4``), every item's rows quantised in one pass (a
    pass per passage cost 0.1 ms each: minutes at the release's 2.9M passages)."""
    if not items:
        return
    counts = [len(item.spans) for _, item in items]
    stacked = [
        np.asarray(item.vectors, dtype=np.float32).reshape(n, -1)
        for (_, item), n in zip(items, counts, strict=True)
    ]
    widths = {block.shape[1] for block in stacked if len(block)}
    if len(widths) > 1:  # one model's vectors have one dimension; keep each apart if not
        for pair in items:
            put_sentence_vectors(db, model, [pair])
        return
    scales, packed = quantise4(np.concatenate(stacked))
    ends = np.cumsum(counts).tolist()
    rows = [
        (
            model,
            key,
            np.asarray(item.spans, np.int32).tobytes(),
            scales[end - n : end].tobytes(),
            packed[end - n : end].tobytes(),
        )
        for (key, item), n, end in zip(items, counts, ends, strict=True)
    ]
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
        (model, packed_width(dim)),
    )
    return int(cur.rowcount)


def get_sentence_vectors(
    db: sqlite3.Connection, model: str, keys: Sequence[str], dim: int
) -> dict[str, SentenceVectors]:
    """Stored sentence vectors by key; entries of the wrong shape are left out (not trusted).

    The rows are the model's unit vectors plus the codec's zero-mean rounding noise: a
    dot product with a unit query estimates their cosine without bias; renormalising a
    row would shrink it (by ~1.3%, the noise's share of its norm at 4 bits).
    """
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


def _dequantise(
    spans_blob: bytes, scales_blob: bytes, vectors_blob: bytes, dim: int
) -> SentenceVectors | None:
    """The stored blobs back as float32 sentence vectors, or None when the shapes disagree."""
    spans = np.frombuffer(spans_blob, dtype=np.int32)
    scales = np.frombuffer(scales_blob, dtype=np.float32)
    packed = np.frombuffer(vectors_blob, dtype=np.uint8)
    n, width = scales.size, packed_width(dim)
    if n == 0 or spans.size != 2 * n or packed.size != n * width:
        return None
    vectors = dequantise4(scales, packed.reshape(n, width), dim)
    pairs = spans.reshape(n, 2).tolist()
    return SentenceVectors([(int(a), int(b)) for a, b in pairs], vectors)


def _present(
    db: sqlite3.Connection, table: str, column: str, model: str, keys: Iterable[str]
) -> set[str]:
    """Which ``keys`` a table of ``(model, column)`` rows holds for ``model``."""
    sql = f"SELECT {column} FROM {table} WHERE model = ? AND {column} IN ({{marks}})"
    return {row[0] for row in rows_in_chunks(db, sql, list(keys), before=[model])}
