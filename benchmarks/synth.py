"""A synthetic index of N passages, built by the real indexer with a stand-in model.

    python -m benchmarks.synth --passages 1000000 [--base bench-data/cables] [--out DIR]

Embedding a million texts would take this machine days, and what the scale figures need is
the cost of everything around the model. So the documents are copies of the real cables
of a base index (``--base``: any index built by ``qa index``), each copy titled
``<subject> [copy N]``, and ``qa.index.index_sources`` indexes them exactly as
``qa index`` would (diff, views, embedding cache, FTS5, one vector file), except that
``embed`` is a stand-in: the vector of a copy's view is the real model's vector of the
original view (from the base index's embedding cache), plus 0.45 times the vector of a
random other passage and a little Gaussian noise, normalised (cosine ≈ 0.87 to the
original). Nearest-neighbour structure therefore looks like real embeddings (topics,
paraphrase-like copies, no two alike), not like uniform random vectors, which would
punish approximate search unrealistically, nor like exact clones, whose ties would make
recall@10 meaningless. BM25 sees
the real vocabulary, each posting list N/13.5k times longer. Queries in the scale
benchmarks are real dev-set questions embedded by the real model.

Writes into bench-data/ (git-ignored); nothing here is committed. Prints one JSON line
with what it built; ``benchmarks.bench_query`` measures the result.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmarks.common import DATA
from qa.store import fulltext
from qa.views import clean

if TYPE_CHECKING:
    from qa.models import Document

NOISE = 0.3  # norm of the Gaussian noise added to the original's vector
MIX = 0.45  # weight of a random other passage's vector mixed in: cosine to original ≈ 0.87
_COPY = re.compile(r" ?\[copy \d+\]")


class StandInEmbedder:
    """The real vector of the original view, plus seeded noise; no model is run."""

    def __init__(self, name: str, base: dict[str, np.ndarray], dim: int) -> None:
        self.name, self.dim, self._base = name, dim, base
        self._all = np.vstack(list(base.values())) if base else np.zeros((1, dim), np.float32)
        self.max_tokens = 256

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        from qa.views import text_hash

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            original = _COPY.sub("", text, count=1)
            vec = self._base.get(text_hash(original))
            if vec is None:
                vec = self._base.get(text_hash(original.removeprefix(": ")))
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rng = np.random.default_rng(seed)
            noise = rng.standard_normal(self.dim).astype(np.float32)
            noise *= NOISE / np.linalg.norm(noise)
            other = self._all[rng.integers(len(self._all))] * MIX  # no two copies alike
            v = (vec if vec is not None else rng.standard_normal(self.dim)) + other + noise
            out[row] = v / np.linalg.norm(v)
        if progress is not None:
            progress(len(texts))
        return out

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class CopySource:
    """Copy ``n`` of a base document, made when the indexer asks for it."""

    def __init__(self, doc: Document, n: int) -> None:
        self._doc, self._n = doc, n
        self.key = f"copy{n:05d}/{doc.source}"

    def stat_key(self) -> str:
        return ""  # no stat: every run hashes the copy

    def read_stat(self) -> str:
        return ""

    def digest(self) -> str:
        return hashlib.blake2b(self.key.encode(), digest_size=16).hexdigest()

    def load(self) -> Document:
        doc = self._doc
        title = f"{doc.title} [copy {self._n}]" if doc.title else f"[copy {self._n}]"
        return replace(doc, doc_id=f"{doc.doc_id}-C{self._n}", title=title, source=self.key)


def base_documents(base: Path) -> tuple[list[Document], dict[str, np.ndarray], int]:
    from qa import store
    from qa.locations import db_path

    db = store.connect(db_path(base), readonly=True)
    manifest = store.read_manifest(db)
    dim = manifest.dim
    doc_ids = [row[0] for row in db.execute("SELECT doc_id FROM documents ORDER BY doc_id")]
    docs = [store.get_document(db, d) for d in doc_ids]
    vectors = dict(store.iter_embeddings(db, manifest.model))  # int8 codes, decoded
    db.close()
    return [d for d in docs if d is not None and d.passages], vectors, dim


def sources_for(docs: list[Document], passages: int) -> list[CopySource]:
    out: list[CopySource] = []
    total, n = 0, 0
    while total < passages:
        for doc in docs:
            out.append(CopySource(doc, n))
            total += len(doc.passages)
            if total >= passages:
                break
        n += 1
    return out


def build(passages: int, base: Path, out: Path) -> dict[str, object]:
    from qa.index import index_sources
    from qa.locations import DEFAULT_MODEL

    started = time.perf_counter()
    docs, vectors, dim = base_documents(base)
    stand_in = StandInEmbedder(DEFAULT_MODEL, vectors, dim)
    sources = sources_for(docs, passages)
    summary = index_sources(lambda: sources, out, DEFAULT_MODEL, lambda name: stand_in)
    return {
        "passages": summary.passages,
        "documents": summary.documents,
        "embedded": summary.passages_embedded,
        "seconds": time.perf_counter() - started,
        "index_seconds": summary.seconds,
        "index": str(out),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, required=True)
    parser.add_argument("--base", type=Path, default=DATA / "cables")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--direct", action="store_true", help="bulk-write through qa.store/qa.vectors (fast)"
    )
    args = parser.parse_args(argv)
    out = args.out or DATA / "bench" / f"synth-{args.passages}"
    how = build_direct if args.direct else build
    print(json.dumps(how(args.passages, args.base, out)), flush=True)


def copy_sentence_vectors(db: sqlite3.Connection, base: Path) -> int:
    """Give the copies their originals' sentence vectors (highlighting reads them).

    A copy keeps its original's text and view hashes, hence its sentence-vector key, so
    the base's rows serve every copy; returns how many rows were copied.
    """
    from qa import store
    from qa.locations import db_path

    db.execute("ATTACH DATABASE ? AS base", (str(db_path(base)),))
    try:
        with store.transaction(db):
            cur = db.execute(
                "INSERT OR IGNORE INTO sentence_vectors SELECT * FROM base.sentence_vectors"
            )
    finally:
        db.execute("DETACH DATABASE base")
    return int(cur.rowcount)


def build_direct(passages: int, base: Path, out: Path) -> dict[str, object]:
    """The same synthetic index written straight through ``qa.store`` and ``qa.vectors``.

    For the largest sizes, where even the indexer's own Python work (views, hashes, the
    embedding cache) would take this shared machine an hour: documents and passages are
    bulk-inserted (FTS5 fed row by row, as ``qa.store.fulltext`` does), the passage rows
    reuse the base's views (the search text cleaned from its text), the vectors are the
    stand-in's (computed for all windows at once) and the vector file and its sidecar are
    written as the indexer writes them. No embedding cache is stored (searching never
    reads it); the base's sentence vectors are copied (the copies share their keys) and
    the lexicon is taken.
    """
    from qa import store, vectors
    from qa.ingest import CHUNKER_VERSION
    from qa.locations import db_path, vectors_path
    from qa.views import VIEWS_VERSION

    started = time.perf_counter()
    src = store.connect(db_path(base), readonly=True)
    manifest = store.read_manifest(src)
    dim = manifest.dim
    vecs = dict(store.iter_embeddings(src, manifest.model))  # int8 codes, decoded
    all_vecs = np.vstack(list(vecs.values()))
    doc_rows = src.execute(
        "SELECT id, doc_id, kind, title, date, origin, classification, tags, source, file_hash,"
        " body FROM documents ORDER BY id"
    ).fetchall()
    by_doc: dict[int, list[tuple[Any, ...]]] = {}
    for row in src.execute(
        'SELECT p.document_id, p.seq, p.label, p.paragraph, p.heading, p.start, p."end",'
        f" p.text_hash, {store.PASSAGE_TEXT}, p.context, p.view_hashes FROM passages p"
        " JOIN documents d ON d.id = p.document_id ORDER BY p.document_id, p.seq"
    ):
        by_doc.setdefault(row[0], []).append((*row[:8], clean(row[8]), *row[9:]))
    src.close()
    doc_rows = [d for d in doc_rows if d[0] in by_doc]

    if out.exists():
        import shutil

        shutil.rmtree(out)
    out.mkdir(parents=True)
    db = store.connect(db_path(out), create=True)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -262144")  # 256 MiB while bulk loading
    rng = np.random.default_rng(11)
    total, copy, doc_count = 0, 0, 0
    flat = vectors.FlatIndex.empty(dim)
    pending_ids: list[int] = []
    pending_base: list[np.ndarray] = []

    def flush() -> None:
        if not pending_ids:
            return
        base_v = np.vstack(pending_base)
        other = all_vecs[rng.integers(len(all_vecs), size=len(base_v))] * MIX
        noise = rng.standard_normal(base_v.shape).astype(np.float32)
        noise *= NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
        v = base_v + other + noise
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        flat.add(np.array(pending_ids, dtype=np.int64), v)
        pending_ids.clear()
        pending_base.clear()

    while total < passages:
        with store.transaction(db):
            for d in doc_rows:
                rows = by_doc[d[0]]
                title = f"{d[3]} [copy {copy}]" if d[3] else f"[copy {copy}]"
                cur = db.execute(
                    "INSERT INTO documents(doc_id, kind, title, date, origin, classification,"
                    " tags, source, file_hash, body) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        f"{d[1]}-C{copy}",
                        d[2],
                        title,
                        d[4],
                        d[5],
                        d[6],
                        d[7],
                        f"copy{copy:05d}/{d[8]}",
                        d[9],
                        d[10],
                    ),
                )
                document_id = cur.lastrowid
                for r in rows:
                    context = f"{r[9]} [copy {copy}]"
                    cur = db.execute(
                        "INSERT INTO passages(document_id, seq, label, paragraph, heading,"
                        ' start, "end", text_hash, context, view_hashes)'
                        " VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (document_id, *r[1:8], context, r[10]),
                    )
                    pid = cur.lastrowid
                    assert pid is not None
                    fulltext.add(db, [(pid, r[8], context)])
                    for window, h in enumerate(r[10].split()[: vectors.WINDOWS]):
                        base_vec = vecs.get(h)
                        if base_vec is None:
                            continue
                        pending_ids.append(vectors.vector_id(pid, window))
                        pending_base.append(base_vec)
                total += len(rows)
                doc_count += 1
                if len(pending_ids) > 50_000:
                    flush()
                if total >= passages:
                    break
        copy += 1
    flush()
    with store.transaction(db):
        lexicon_passages = store.refresh_lexicon(db)
    copy_sentence_vectors(db, base)
    file = vectors_path(out, 1)
    size = flat.save(file)
    ann = vectors.write_ann(flat, file)
    with store.transaction(db):
        store.write_manifest(
            db,
            store.Manifest(
                model=manifest.model,
                dim=dim,
                normalized="true",
                metric="inner_product",
                chunker=CHUNKER_VERSION,
                views=VIEWS_VERSION,
                generation=1,
                vectors=file.name,
                vector_count=flat.count,
                vector_bytes=size,
                concentration=flat.concentration(),
                lexicon_passages=lexicon_passages,
                lexicon_churn=0,
                updated_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            ),
        )
    db.close()
    return {
        "passages": total,
        "documents": doc_count,
        "vectors": flat.count,
        "sidecar": str(ann) if ann else "",
        "seconds": time.perf_counter() - started,
        "index": str(out),
        "direct": True,
    }


if __name__ == "__main__":
    main()
