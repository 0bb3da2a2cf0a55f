"""Corpus folder → index generation, incrementally and crash-safely.

One run: take the write lock; find new, changed and deleted files by content hash;
parse only those; embed only view texts the cache has not seen for this model; then, in
one SQLite transaction, swap the documents' rows and point the manifest at a freshly
written vector file of the next generation. A crash anywhere before that commit leaves
the previous generation untouched; a crash after it leaves the new one complete.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from qa import store, vectors
from qa.embed import Embedder, canonical_model_name
from qa.errors import IndexBusyError, IndexDamagedError, IngestError
from qa.ingest import CHUNKER_VERSION, discover, parse_file
from qa.locations import db_path, lock_path, vectors_path
from qa.models import Document
from qa.views import VIEWS_VERSION, clean, context_of, embed_views, text_hash

log = logging.getLogger(__name__)


class Progress(Protocol):
    """How indexing reports to a CLI progress bar, a TUI widget or nothing."""

    def start(self, total: int, description: str) -> None: ...
    def advance(self, n: int) -> None: ...
    def finish(self) -> None: ...
    def warn(self, message: str) -> None: ...


class SilentProgress:
    """Progress that logs warnings and shows nothing (tests, library use)."""

    def start(self, total: int, description: str) -> None:
        pass

    def advance(self, n: int) -> None:
        pass

    def finish(self) -> None:
        pass

    def warn(self, message: str) -> None:
        log.warning("%s", message)


@dataclass
class IndexSummary:
    """What one ``qa index`` run did; ``qa index --json`` prints exactly these keys."""

    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: int = 0
    passages: int = 0
    passages_embedded: int = 0
    seconds: float = 0.0
    documents: int = 0
    generation: int = 0
    rebuilt: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        return data


@contextmanager
def write_lock(index_dir: Path, *, wait: bool = False) -> Iterator[None]:
    """Exclusive lock on the index folder: a second writer waits or refuses, never interleaves."""
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(index_dir), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            raise IndexBusyError(
                f"{index_dir} is being updated by another `qa index`; "
                "wait for it to finish or pass --wait"
            ) from exc
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)  # closing releases the flock


class Source(Protocol):
    """One document to index: a stable key, a content digest, and how to parse it."""

    key: str

    def digest(self) -> str: ...
    def load(self) -> Document: ...


class FileSource:
    """A corpus file; read once, hashed, parsed only when its hash changed."""

    def __init__(self, path: Path, root: Path) -> None:
        self.path, self.root = path, root
        self.key = str(path.relative_to(root))
        self._data: bytes | None = None

    def digest(self) -> str:
        try:
            self._data = self.path.read_bytes()
        except OSError as exc:
            raise IngestError(f"{self.path}: cannot read ({exc.strerror or exc})") from exc
        return hashlib.blake2b(self._data, digest_size=16).hexdigest()

    def load(self) -> Document:
        if self._data is None:
            self.digest()
        try:
            return parse_file(self.path, root=self.root, data=self._data)
        finally:
            self._data = None


def file_sources(corpus_dir: Path) -> list[FileSource]:
    return [FileSource(path, corpus_dir) for path in discover(corpus_dir)]


@dataclass
class _Parsed:
    doc: Document
    file_hash: str
    rows: list[store.StoredPassage]


def _stored_passages(doc: Document) -> list[store.StoredPassage]:
    rows = []
    for p in doc.passages:
        search_text = clean(p.text)
        views = embed_views(doc, p, search_text)[: vectors.WINDOWS]
        rows.append(
            store.StoredPassage(
                passage=p,
                text_hash=text_hash(p.text),
                search_text=search_text,
                context=context_of(doc, p),
                view_hashes=tuple(text_hash(v) for v in views),
            )
        )
    return rows


def _view_texts(parsed: list[_Parsed]) -> dict[str, str]:
    """hash -> text of every embedded view of the given documents."""
    texts: dict[str, str] = {}
    for item in parsed:
        for p in item.doc.passages:
            for view in embed_views(item.doc, p, clean(p.text))[: vectors.WINDOWS]:
                texts.setdefault(text_hash(view), view)
    return texts


def update_index(
    corpus_dir: Path,
    index_dir: Path,
    model_name: str,
    load_embedder: Callable[[str], Embedder],
    *,
    rebuild: bool = False,
    wait: bool = False,
    progress: Progress | None = None,
) -> IndexSummary:
    """Bring the index at ``index_dir`` up to date with the files of ``corpus_dir``."""
    if not corpus_dir.is_dir():
        raise IngestError(f"{corpus_dir}: corpus folder does not exist")
    return index_sources(
        lambda: file_sources(corpus_dir),
        index_dir,
        model_name,
        load_embedder,
        rebuild=rebuild,
        wait=wait,
        progress=progress,
    )


def index_sources(
    list_sources: Callable[[], Iterable[Source]],
    index_dir: Path,
    model_name: str,
    load_embedder: Callable[[str], Embedder],
    *,
    rebuild: bool = False,
    wait: bool = False,
    progress: Progress | None = None,
) -> IndexSummary:
    """Bring the index at ``index_dir`` up to date with the given document sources.

    Sources are listed only once the write lock is held. The model is loaded (through
    ``load_embedder``) only when something needs embedding, so a no-op run never
    imports torch.
    """
    started = time.perf_counter()
    progress = progress or SilentProgress()
    summary = IndexSummary()
    with write_lock(index_dir, wait=wait):
        db = store.connect(db_path(index_dir), create=True)
        try:
            _update(
                db, list_sources(), index_dir, model_name, load_embedder, rebuild, progress, summary
            )
        finally:
            db.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _update(
    db,  # type: ignore[no-untyped-def]
    document_sources: Iterable[Source],
    index_dir: Path,
    model_name: str,
    load_embedder: Callable[[str], Embedder],
    rebuild: bool,
    progress: Progress,
    summary: IndexSummary,
) -> None:
    model = canonical_model_name(model_name)
    manifest = store.read_manifest(db)
    generation = int(manifest.get("generation", "0"))
    if manifest.get("model") and manifest["model"] != model:
        summary.rebuilt = f"model changed from {manifest['model']} to {model}"
        progress.warn(f"{summary.rebuilt}: rebuilding the whole index")
        rebuild = True
    reparse = rebuild or (
        manifest.get("chunker") != CHUNKER_VERSION or manifest.get("views") != VIEWS_VERSION
    )
    if reparse and not rebuild and manifest:
        summary.rebuilt = "chunker or view format changed: re-parsing all documents"

    existing = {} if rebuild else store.file_hashes(db)
    sources = {src.key: src for src in document_sources}
    # Which source owns each document id (a renamed file hands its id on).
    owners = {doc_id.lower(): key for key, (_, doc_id, _) in existing.items() if key in sources}
    parsed: list[_Parsed] = []
    replaced: list[int] = []  # document row ids to delete
    for key, src in sources.items():
        old = existing.get(key)
        try:
            digest = src.digest()
            if old and old[2] == digest and not reparse:
                summary.unchanged += 1
                continue
            doc = src.load()
        except IngestError as exc:
            _skip(summary, progress, str(exc))
            continue
        owner = owners.setdefault(doc.doc_id.lower(), key)
        if owner != key:
            _skip(summary, progress, f"{key}: document id {doc.doc_id} already comes from {owner}")
            continue
        if old:
            replaced.append(old[0])
            if old[2] == digest:
                summary.unchanged += 1
            else:
                summary.changed += 1
        else:
            summary.added += 1
        parsed.append(_Parsed(doc, digest, _stored_passages(doc)))
    seen = set(sources)
    removed = [row_id for src, (row_id, _, _) in existing.items() if src not in seen]
    summary.removed = len(removed)

    texts = _view_texts(parsed)
    dim = _embed_missing(db, model, texts, manifest, load_embedder, progress, summary)
    vector_file = vectors_path(index_dir, generation)
    needs_write = bool(parsed or removed or rebuild or not vector_file.exists())
    if needs_write:
        generation = _commit_generation(
            db, index_dir, model, dim, generation, parsed, replaced + removed, rebuild
        )
    summary.generation = generation
    summary.documents, summary.passages = store.counts(db)
    _cleanup_old_vectors(index_dir, generation)


def _skip(summary: IndexSummary, progress: Progress, message: str) -> None:
    summary.skipped += 1
    summary.warnings.append(message)
    progress.warn(message)


def _embed_missing(
    db,  # type: ignore[no-untyped-def]
    model: str,
    texts: dict[str, str],
    manifest: dict[str, str],
    load_embedder: Callable[[str], Embedder],
    progress: Progress,
    summary: IndexSummary,
) -> int:
    """Embed view texts not yet cached for ``model``; returns the vector dimension."""
    missing = sorted(set(texts) - store.cached_hashes(db, model, texts))
    dim = int(manifest.get("dim", "0")) if manifest.get("model") == model else 0
    if not missing and dim:
        return dim
    embedder = load_embedder(model)
    if not missing:
        return embedder.dim
    progress.start(len(missing), "embedding")
    batch = 512  # commit the cache every batch: a killed run keeps what it embedded
    for i in range(0, len(missing), batch):
        hashes = missing[i : i + batch]
        vecs = embedder.embed([texts[h] for h in hashes], progress=progress.advance)
        with store.transaction(db):
            store.put_embeddings(db, model, hashes, vecs)
    progress.finish()
    summary.passages_embedded = len(missing)
    return embedder.dim


def _commit_generation(
    db,  # type: ignore[no-untyped-def]
    index_dir: Path,
    model: str,
    dim: int,
    generation: int,
    parsed: list[_Parsed],
    drop_documents: list[int],
    rebuild: bool,
) -> int:
    """Write the next generation's rows and vector file; commit points the manifest at it."""
    new_generation = generation + 1
    with store.transaction(db):
        if rebuild:
            db.execute("DELETE FROM passages")
            db.execute("DELETE FROM documents")
            index = vectors.new_index(dim)
        else:
            index = _load_or_rebuild(db, index_dir, model, dim, generation)
            dropped = np.array(store.passage_ids_of(db, drop_documents), dtype=np.int64)
            vectors.remove(index, vectors.all_window_ids(dropped))
            store.delete_documents(db, drop_documents)
        for item in parsed:
            ids = store.insert_document(db, item.doc, item.file_hash, item.rows)
            _add_passages(db, index, model, dim, zip(ids, item.rows, strict=True))
        vectors.write_atomic(index, vectors_path(index_dir, new_generation))
        store.write_manifest(
            db,
            {
                "model": model,
                "dim": str(dim),
                "normalized": "true",
                "metric": "inner_product",
                "chunker": CHUNKER_VERSION,
                "views": VIEWS_VERSION,
                "generation": str(new_generation),
                "vectors": vectors_path(index_dir, new_generation).name,
                "vector_count": str(index.ntotal),
                "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
    return new_generation


def _add_passages(db, index, model: str, dim: int, rows) -> None:  # type: ignore[no-untyped-def]
    rows = list(rows)
    hashes = [h for _, sp in rows for h in sp.view_hashes]
    cache = store.get_embeddings(db, model, hashes, dim)
    ids, vecs = [], []
    for passage_id, sp in rows:
        for window, h in enumerate(sp.view_hashes):
            if h not in cache:
                raise IndexDamagedError(f"embedding for passage {passage_id} missing from cache")
            ids.append(vectors.vector_id(passage_id, window))
            vecs.append(cache[h])
    if ids:
        vectors.add(index, np.array(ids, dtype=np.int64), np.vstack(vecs))


def _load_or_rebuild(db, index_dir: Path, model: str, dim: int, generation: int):  # type: ignore[no-untyped-def]
    """The current vector file, or (missing/damaged) a fresh one from the SQLite cache."""
    path = vectors_path(index_dir, generation)
    if generation and path.exists():
        try:
            return vectors.read(path, dim)
        except IndexDamagedError as exc:
            log.warning("%s; rebuilding vectors from the embedding cache", exc)
    index = vectors.new_index(dim)
    rows = [
        (pid, store.StoredPassage(None, "", "", "", tuple(h)))  # type: ignore[arg-type]
        for pid, h in store.all_view_hashes(db)
    ]
    _add_passages(db, index, model, dim, rows)
    return index


def rebuild_vectors(db, index_dir: Path, manifest: dict[str, str]):  # type: ignore[no-untyped-def]
    """Vectors for the current generation rebuilt from SQLite (repairs a lost FAISS file)."""
    return _load_or_rebuild(db, index_dir, manifest["model"], int(manifest["dim"]), 0)


def _cleanup_old_vectors(index_dir: Path, generation: int) -> None:
    """Keep the current and previous generation (a reader may still be opening it)."""
    for path in index_dir.glob("vectors-*.faiss*"):
        stem = path.name.split(".")[0].removeprefix("vectors-")
        if path.name.endswith(".tmp") or (stem.isdigit() and int(stem) < generation - 1):
            path.unlink(missing_ok=True)
