"""Corpus folder → index generation, incrementally and crash-safely.

One run: take the write lock; find new, changed and deleted files by content hash;
parse only those; embed only view texts the cache has not seen for this model; then, in
one SQLite transaction, swap the documents' rows and point the manifest at a freshly
written vector file of the next generation. A crash anywhere before that commit leaves
the previous generation untouched; a crash after it leaves the new one complete.

Crash tests stop or kill a real ``qa index`` at named points of a run through
``PILCROW_TEST_KILL_AT`` (see ``checkpoint``); ``PILCROW_EMBED_BATCH`` makes the embedding
cache commit more often so there are several batches to kill between.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import signal
import stat
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa import store, vectors
from qa.check import vectors_differing
from qa.embed import Embedder, SpanEmbedder, backend_name, canonical_model_name
from qa.errors import IndexBusyError, IndexDamagedError, IngestError, QAError
from qa.ingest import CHUNKER_VERSION, SUFFIXES, discover, parse_file
from qa.locations import db_path, lock_path, vectors_path
from qa.models import Document
from qa.sentence_vectors import SentenceJob, embed_jobs, job_for
from qa.sentences import SENTENCES_VERSION
from qa.views import VIEWS_VERSION, clean, context_of, embed_views, text_hash

log = logging.getLogger(__name__)

EMBED_BATCH = 512  # embeddings committed to the cache per transaction
MAX_FILE_BYTES = 16 * 1024 * 1024  # larger corpus files are skipped, never read whole
MAX_PASSAGE_CHARS = 1_000_000  # ~20x the longest real cable paragraph: not a paragraph
REPAIR_SAMPLE = 64  # passages whose vectors every run compares with the cache


GENERATION_PASSAGES = 100_000  # a bigger update is committed in parts of about this size


def generation_passages() -> int:
    """Passages per commit of a big update: ``$PILCROW_GENERATION_PASSAGES`` or 100,000."""
    try:
        return max(1, int(os.environ.get("PILCROW_GENERATION_PASSAGES", GENERATION_PASSAGES)))
    except ValueError:
        return GENERATION_PASSAGES


def embed_batch_size() -> int:
    """Texts per cache commit: ``$PILCROW_EMBED_BATCH`` (tests make it small) or 512."""
    try:
        return max(1, int(os.environ.get("PILCROW_EMBED_BATCH", EMBED_BATCH)))
    except ValueError:
        return EMBED_BATCH


_checkpoints: dict[str, int] = {}


def checkpoint(name: str) -> None:
    """A named point of an indexing run, for crash tests; a no-op in normal use.

    ``PILCROW_TEST_KILL_AT=point:n[:stop],...`` sends this process SIGKILL (or SIGSTOP,
    with ``:stop``) the n-th time it passes ``point``. Points, in run order: ``listed``
    (lock held, sources listed), ``parsed`` (each changed document), ``embedded`` (each
    cache batch committed), ``rows`` (each document written, inside the transaction),
    ``vector_tmp`` (next vector file durable under its temp name), ``vectors`` (renamed
    into place, manifest not yet committed), ``committed`` and ``cleanup`` (each old
    vector file deleted).
    """
    spec = os.environ.get("PILCROW_TEST_KILL_AT")
    if not spec:
        return
    count = _checkpoints[name] = _checkpoints.get(name, 0) + 1
    for item in spec.split(","):
        point, _, rest = item.strip().partition(":")
        n, _, action = rest.partition(":")
        if point == name and n.strip() == str(count):
            sys.stdout.flush()
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGSTOP if action == "stop" else signal.SIGKILL)


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
    files_read: int = 0  # files read and hashed; the rest were known unchanged by their stat
    passages: int = 0
    passages_embedded: int = 0
    sentences_embedded: int = 0  # passages given sentence vectors (highlighting)
    seconds: float = 0.0
    documents: int = 0
    generation: int = 0
    rebuilt: str = ""
    repaired: str = ""
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
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise IndexBusyError(
                f"{index_dir} is being updated by another `qa index`{who}; "
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


def stat_key(source: Source) -> str:
    """A cheap fingerprint of a source taken without reading it ('' when it has none)."""
    get = getattr(source, "stat_key", None)
    return get() if get is not None else ""


class FileSource:
    """A corpus file; read once, hashed, parsed only when its hash changed."""

    def __init__(self, path: Path, root: Path) -> None:
        self.path, self.root = path, root
        self.key = str(path.relative_to(root))
        self._data: bytes | None = None
        self.stat = ""  # of the bytes last read by digest()

    def stat_key(self) -> str:
        """Size, mtime, ctime and inode: unchanged means unchanged content (git's rule).

        ctime is in it because ``chmod`` and ``touch -d`` change it, so a file made
        unreadable is still read (and reported), and a back-dated edit is still seen.
        """
        try:
            return file_stat(self.path.stat())
        except OSError:
            return ""

    def digest(self) -> str:
        if not _storable(self.key):
            # A name that is not UTF-8 (an old Latin-1 archive) cannot be stored or shown
            # as is; skip the file rather than fail the whole run.
            printable = os.fsencode(self.key).decode("utf-8", "backslashreplace")
            raise IngestError(f"{printable}: file name is not valid UTF-8; rename the file")
        try:
            info = self.path.stat()
            if not stat.S_ISREG(info.st_mode):
                raise IngestError(f"{self.key}: not a regular file")
            if info.st_size > MAX_FILE_BYTES:
                raise IngestError(
                    f"{self.key}: too large ({info.st_size / 2**20:.1f} MB; files over "
                    f"{MAX_FILE_BYTES // 2**20} MB are not indexed)"
                )
            self._data = self.path.read_bytes()
            # Taken before the read: if the file changes meanwhile, the next run rehashes.
            # A file modified in the last RACY_SECONDS may change again within the same
            # timestamp tick without its stat changing ("racily clean" in git): not kept.
            racy = time.time_ns() - info.st_mtime_ns < RACY_SECONDS * 1_000_000_000
            self.stat = "" if racy else file_stat(info)
        except OSError as exc:
            raise IngestError(f"{self.key}: cannot read ({self._reason(exc)})") from exc
        return hashlib.blake2b(self._data, digest_size=16).hexdigest()

    def _reason(self, exc: OSError) -> str:
        if exc.errno == errno.ELOOP:
            return "symlink loop"
        if exc.errno == errno.ENOENT:
            return "dangling symlink" if self.path.is_symlink() else "file vanished"
        return exc.strerror or str(exc)

    def load(self) -> Document:
        if self._data is None:
            self.digest()
        try:
            return parse_file(self.path, root=self.root, data=self._data)
        finally:
            self._data = None


RACY_SECONDS = 2


def _readable(source: Source) -> bool:
    """Still readable by us (a file indexed by another user may not be): else read it, to
    report it."""
    path = getattr(source, "path", None)
    return path is None or os.access(path, os.R_OK)


def file_stat(info: os.stat_result) -> str:
    return f"{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}:{info.st_ino}"


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def file_sources(corpus_dir: Path) -> list[FileSource]:
    """The corpus files, plus entries that look like ones but cannot be read as files.

    ``discover`` leaves out symlink loops, dangling symlinks and special files; they are
    listed here too so that each is reported (path and reason) and counted as skipped
    rather than silently ignored (or, if indexed before, silently dropped).
    """
    listed = discover(corpus_dir)
    known = set(listed)
    sources = [FileSource(path, corpus_dir) for path in listed]
    for dirpath, dirnames, filenames in os.walk(corpus_dir, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            path = Path(dirpath) / name
            if name.startswith(".") or path.suffix.lower() not in SUFFIXES or path in known:
                continue
            if path.is_symlink() or (path.exists() and not path.is_file()):
                sources.append(FileSource(path, corpus_dir))
    return sources


@dataclass
class _Parsed:
    doc: Document
    file_hash: str
    rows: list[store.StoredPassage]
    file_stat: str = ""


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
        db = _open_for_update(index_dir, rebuild, progress)
        try:
            _update(
                db, list_sources(), index_dir, model_name, load_embedder, rebuild, progress, summary
            )
        finally:
            db.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _open_for_update(index_dir: Path, rebuild: bool, progress: Progress):  # type: ignore[no-untyped-def]
    """The index database, created if need be.

    With ``rebuild``, a database that is damaged (or not ours) is verified first and, if
    bad, moved aside (never deleted) so the rebuild can start from an empty one.
    """
    path = db_path(index_dir)
    try:
        db = store.connect(path, create=True)
        if rebuild:
            try:
                store.verify(db)
            except QAError:
                db.close()
                raise
        return db
    except IndexDamagedError:
        if not rebuild:
            raise
        moved = store.set_aside(path)
        progress.warn(
            f"{path} is damaged or not a Pilcrow index: moved it to {moved.name}; "
            "building a new index"
        )
        return store.connect(path, create=True)


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

    if not rebuild:
        _check_manifest_dim(db, model, manifest)
    existing = {} if rebuild else store.file_hashes(db)
    sources = {src.key: src for src in document_sources}
    checkpoint("listed")
    # Which source owns each document id (a renamed file hands its id on).
    owners = {entry[1].lower(): key for key, entry in existing.items() if key in sources}
    current: Any = None  # the vector index of the generation this run last committed
    pending = 0  # passages parsed and not yet committed
    parted = False  # a part was committed: the run's last commit must follow
    parsed: list[_Parsed] = []
    replaced: list[int] = []  # document row ids to delete
    restat: dict[int, str] = {}  # row id -> new stat of files whose bytes did not change
    removed = [entry[0] for src, entry in existing.items() if src not in sources]
    summary.removed = len(removed)
    unremoved = list(removed)  # deleted files' rows, dropped by the run's first commit
    for key, src in sources.items():
        old = existing.get(key)
        if old and old[3] and not reparse and stat_key(src) == old[3] and _readable(src):
            summary.unchanged += 1  # not even read: same size, mtimes and inode
            continue
        try:
            summary.files_read += 1
            digest = src.digest()
            if old and old[2] == digest and not reparse:
                summary.unchanged += 1
                if getattr(src, "stat", ""):
                    restat[old[0]] = src.stat  # type: ignore[attr-defined]
                continue
            doc = src.load()
            _check_passage_sizes(key, doc)
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
        parsed.append(_Parsed(doc, digest, _stored_passages(doc), getattr(src, "stat", "")))
        pending += len(parsed[-1].rows)
        checkpoint("parsed")
        part = _Part(parsed, replaced, unremoved)
        if not rebuild and pending >= generation_passages() and _part_fits(db, part):
            # A big run commits as it goes: memory stays bounded, and a killed first
            # build keeps what it committed. Each generation is whole, as always.
            generation, current = _commit_part(
                db, index_dir, model, load_embedder, progress, summary, part, current, reparse
            )
            manifest = store.read_manifest(db)
            parsed, replaced, unremoved, pending = [], [], [], 0
            parted = True

    texts = _view_texts(parsed)
    backfill = not rebuild and _backfill_due(manifest, model)
    jobs = _sentence_jobs(db, parsed, replaced + unremoved, backfill)
    dim, pooled = _embed_missing(
        db, model, texts, jobs, manifest, load_embedder, progress, summary, rebuild
    )
    sentences = manifest.get("sentences", "")
    if backfill or rebuild or not generation or not pooled:
        sentences = sentences_flag(model, pooled=pooled)
    damage = ""
    # An index written before the manifest held the concentration gets it now, once.
    must_commit = bool(
        parsed
        or parted
        or unremoved
        or rebuild
        or not generation
        or "concentration" not in manifest
        or "lexicon_passages" not in manifest
        or manifest.get("sentences", "") != sentences
    )
    # A no-op run trusts a vector file whose stat is as committed (any write changes it);
    # otherwise the file is read and checked, to be repaired if need be.
    if (generation and not rebuild and current is None) and (
        must_commit or not _vectors_as_committed(index_dir, manifest)
    ):
        current, damage = _current_vectors(db, index_dir, manifest)
    if damage:
        summary.repaired = f"{damage}: rebuilt it from the embedding cache"
        progress.warn(f"{damage}; rebuilding it from the embedding cache")
    if must_commit or damage:
        generation, _ = _commit_generation(
            db,
            index_dir,
            model,
            dim,
            manifest,
            parsed,
            replaced + unremoved,
            rebuild,
            current,
            sentences,
        )
    if restat:
        with store.transaction(db):
            store.record_file_stats(db, restat)
    summary.generation = generation
    summary.documents, summary.passages = store.counts(db)
    _cleanup_old_vectors(index_dir, generation)


@dataclass
class _Part:
    """Documents to commit together: new rows, and the row ids they replace or drop."""

    parsed: list[_Parsed]
    replaced: list[int]
    removed: list[int]


def _commit_part(
    db,  # type: ignore[no-untyped-def]
    index_dir: Path,
    model: str,
    load_embedder: Callable[[str], Embedder],
    progress: Progress,
    summary: IndexSummary,
    part: _Part,
    current: Any,
    reparse: bool,
) -> tuple[int, Any]:
    """Embed and commit one part of a big run as its own generation.

    A part leaves the whole-index work to the run's last commit: the lexicon refresh and
    the approximate sidecar (readers search exactly meanwhile), and, while a re-parse is
    under way, the chunker and view versions, so a killed run re-parses what is left.
    """
    manifest = store.read_manifest(db)
    texts = _view_texts(part.parsed)
    jobs = _sentence_jobs(db, part.parsed, [], backfill=False)
    dim, pooled = _embed_missing(
        db, model, texts, jobs, manifest, load_embedder, progress, summary, False
    )
    sentences = manifest.get("sentences", "")
    if not manifest.get("generation") or not pooled:
        sentences = sentences_flag(model, pooled=pooled)
    if current is None and manifest.get("generation"):
        current, damage = _current_vectors(db, index_dir, manifest)
        if damage:
            summary.repaired = f"{damage}: rebuilt it from the embedding cache"
            progress.warn(f"{damage}; rebuilding it from the embedding cache")
    generation, index = _commit_generation(
        db,
        index_dir,
        model,
        dim,
        manifest,
        part.parsed,
        part.replaced + part.removed,
        False,
        current,
        sentences,
        final=False,
        versions=(manifest["chunker"], manifest["views"])
        if reparse and _formats(manifest)
        else None,
    )
    _cleanup_old_vectors(index_dir, generation)
    return generation, index


def _formats(manifest: dict[str, str]) -> bool:
    """Whether the index holds documents parsed under the manifest's recorded formats."""
    return bool(manifest.get("generation") and "chunker" in manifest and "views" in manifest)


def _part_fits(db, part: _Part) -> bool:  # type: ignore[no-untyped-def]
    """Whether the part's documents can be inserted now: none takes the document id of a
    row that only a later part drops (a renamed or re-identified file). Else it waits."""
    ids = [item.doc.doc_id for item in part.parsed]
    return not store.doc_ids_in_use(db, ids, except_rows=part.replaced + part.removed)


def _check_passage_sizes(key: str, doc: Document) -> None:
    """Refuse a document whose "paragraph" is a gigantic blob (a file with no line breaks).

    Such a passage cannot be cited usefully, and every search that shows it would
    highlight sentences over megabytes of text.
    """
    longest = max((len(p.text) for p in doc.passages), default=0)
    if longest > MAX_PASSAGE_CHARS:
        raise IngestError(
            f"{key}: one passage of {longest:,} characters (no paragraph breaks); not indexed"
        )


def _check_manifest_dim(db, model: str, manifest: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """The manifest's dimension must be that of the cached vectors of its model."""
    if manifest.get("model") != model or not manifest.get("dim"):
        return
    cached = store.cached_dim(db, model)
    if cached is not None and str(cached) != manifest["dim"]:
        raise IndexDamagedError(
            f"the index manifest says {manifest['dim']}-d vectors but the embedding cache of "
            f"{model} holds {cached}-d ones; rebuild with `qa index --rebuild`"
        )


def _vectors_as_committed(index_dir: Path, manifest: dict[str, str]) -> bool:
    recorded = manifest.get("vector_stat", "")
    try:
        info = vectors_path(index_dir, int(manifest["generation"])).stat()
    except OSError:
        return False
    return bool(recorded) and recorded == file_stat(info)


def _current_vectors(db, index_dir: Path, manifest: dict[str, str]) -> tuple[Any, str]:  # type: ignore[no-untyped-def]
    """The committed generation's vectors, or None and why they cannot be used.

    The checks a reader makes (size, dimension, unit-length vectors, count) plus a sample
    compared with the embedding cache, so whatever makes ``qa ask`` report the file
    damaged, or ``qa index --check`` find it wrong, a plain ``qa index`` repairs (the new
    generation is then built from the cache instead).
    """
    path = vectors_path(index_dir, int(manifest["generation"]))
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None, f"{path.name} is missing"
    expected = manifest.get("vector_bytes", "")
    if expected.isdigit() and int(expected) != size:
        return None, f"{path.name} is damaged ({size} bytes, the manifest says {expected})"
    try:
        index = vectors.read(path, int(manifest.get("dim", "0")))
    except (IndexDamagedError, OSError) as exc:
        log.info("%s", exc)
        return None, f"{path.name} is damaged"
    count = manifest.get("vector_count", "")
    if count.isdigit() and int(count) != index.ntotal:
        return None, f"{path.name} is damaged ({index.ntotal} vectors, the manifest says {count})"
    sample = store.sample_view_hashes(db, REPAIR_SAMPLE)
    differing, _ = vectors_differing(db, index, manifest.get("model", ""), sample)
    if differing:
        return None, f"{path.name} holds vectors that differ from the embedding cache"
    return index, ""


def _skip(summary: IndexSummary, progress: Progress, message: str) -> None:
    summary.skipped += 1
    summary.warnings.append(message)
    progress.warn(message)


def _embed_missing(
    db,  # type: ignore[no-untyped-def]
    model: str,
    texts: dict[str, str],
    jobs: list[SentenceJob],
    manifest: dict[str, str],
    load_embedder: Callable[[str], Embedder],
    progress: Progress,
    summary: IndexSummary,
    rebuild: bool,
) -> tuple[int, bool]:
    """Embed view texts not yet cached for ``model``: ``(vector dimension, pooled)``.

    Passages in ``jobs`` without stored sentence vectors get them from the same model
    pass that embeds their views (late chunking); a model that cannot pool over token
    ranges leaves them to query-time highlighting, and ``pooled`` is then False.
    An update trusts the manifest's dimension; a rebuild takes it from the cache (when
    all its vectors agree) or the model, so a damaged manifest cannot block a rebuild.
    """
    missing = sorted(set(texts) - store.cached_hashes(db, model, texts))
    wanted = jobs
    known = store.cached_sentence_keys(db, model, [j.key for j in wanted])
    jobs = [j for j in wanted if j.key not in known]
    if rebuild or manifest.get("model") != model:
        dims = store.cached_dims(db, model)
        dim = dims[0] if len(dims) == 1 else 0
    else:
        dim = int(manifest.get("dim", "0"))
    if not missing and not jobs and dim:
        return dim, True
    embedder = load_embedder(model)
    if rebuild or not manifest.get("generation") or manifest.get("model") != model:
        with store.transaction(db):  # vectors of another size under this model's name
            if store.drop_embeddings_not_of_dim(db, model, embedder.dim):
                missing = sorted(set(texts) - store.cached_hashes(db, model, texts))
            if store.drop_sentence_vectors_not_of_dim(db, model, embedder.dim):
                known = store.cached_sentence_keys(db, model, [j.key for j in wanted])
                jobs = [j for j in wanted if j.key not in known]
    elif embedder.dim != dim:
        raise IndexDamagedError(
            f"model {model} gives {embedder.dim}-d vectors but the index holds {dim}-d ones; "
            "rebuild with `qa index --rebuild`"
        )
    pooled = isinstance(embedder, SpanEmbedder) or not jobs
    if not isinstance(embedder, SpanEmbedder):
        jobs = []
    covered = {h for j in jobs for h in j.view_hashes}
    plain = [h for h in missing if h not in covered]
    if not plain and not jobs:
        return embedder.dim, pooled
    missing_set = set(missing)
    progress.start(len(plain) + sum(len(j.views) for j in jobs), "embedding")
    batch = embed_batch_size()  # commit the cache every batch: a killed run keeps its work
    for group in _job_batches(jobs, batch):
        views, sentences = embed_jobs(embedder, group, progress=progress.advance)  # type: ignore[arg-type]
        new_views = [h for h in views if h in missing_set]  # the rest are cached already
        with store.transaction(db):
            if new_views:
                store.put_embeddings(db, model, new_views, np.stack([views[h] for h in new_views]))
            store.put_sentence_vectors(db, model, sentences)
        checkpoint("embedded")
    for i in range(0, len(plain), batch):
        hashes = plain[i : i + batch]
        vecs = embedder.embed([texts[h] for h in hashes], progress=progress.advance)
        with store.transaction(db):
            store.put_embeddings(db, model, hashes, vecs)
        checkpoint("embedded")
    progress.finish()
    summary.passages_embedded += len(missing)
    summary.sentences_embedded += len(jobs)
    return embedder.dim, pooled


def _job_batches(jobs: list[SentenceJob], views_per_batch: int) -> Iterator[list[SentenceJob]]:
    """Consecutive groups of jobs holding about ``views_per_batch`` views each."""
    group: list[SentenceJob] = []
    size = 0
    for job in jobs:
        group.append(job)
        size += len(job.views)
        if size >= views_per_batch:
            yield group
            group, size = [], 0
    if group:
        yield group


def sentences_flag(model: str, *, pooled: bool = True) -> str:
    """Manifest value: every stored passage of ``model`` was given sentence vectors, or
    (``pooled=False``) the model could not pool them on this backend. The latter names
    the backend, so that switching backend (torch to onnx) computes them once more."""
    flag = f"{SENTENCES_VERSION}:{model}"
    return flag if pooled else f"{flag}:none:{backend_name()}"


def _backfill_due(manifest: dict[str, str], model: str) -> bool:
    """True when stored passages may lack sentence vectors that this run could compute:
    an index from before they existed, a new sentence format, or another backend."""
    done = {sentences_flag(model), sentences_flag(model, pooled=False)}
    return bool(manifest.get("generation")) and manifest.get("sentences", "") not in done


def _sentence_jobs(
    db,  # type: ignore[no-untyped-def]
    parsed: list[_Parsed],
    dropped_documents: list[int],
    backfill: bool,
) -> list[SentenceJob]:
    """Passages that need sentence vectors: the new and changed ones and, with
    ``backfill``, every stored passage that stays. One job per key."""
    jobs: dict[str, SentenceJob] = {}
    for item in parsed:
        for p, sp in zip(item.doc.passages, item.rows, strict=True):
            job = job_for(
                p.text, sp.search_text, item.doc.title, p.heading, sp.text_hash, sp.view_hashes
            )
            if job:
                jobs.setdefault(job.key, job)
    if backfill:
        dropped = set(dropped_documents)
        for row in store.sentence_sources(db):
            if row["document_id"] in dropped:
                continue
            job = job_for(
                row["text"],
                row["search_text"],
                row["title"],
                row["heading"],
                row["text_hash"],
                row["view_hashes"].split(),
            )
            if job:
                jobs.setdefault(job.key, job)
    return list(jobs.values())


def _commit_generation(
    db,  # type: ignore[no-untyped-def]
    index_dir: Path,
    model: str,
    dim: int,
    manifest: dict[str, str],
    parsed: list[_Parsed],
    drop_documents: list[int],
    rebuild: bool,
    current: Any = None,
    sentences: str = "",
    *,
    final: bool = True,
    versions: tuple[str, str] | None = None,
) -> tuple[int, Any]:
    """Write the next generation's rows and vector file; commit points the manifest at it.
    Returns the new generation and its vector index (the next commit of a run starts
    from it instead of reading the file back).

    ``current`` is the committed generation's vector index when it is sound; without it
    (first build, missing or damaged file) the vectors are rebuilt from the cache.
    """
    generation = int(manifest.get("generation", "0"))
    new_generation = generation + 1
    new_file = vectors_path(index_dir, new_generation)
    dropped_passages = 0
    with store.transaction(db):
        if rebuild:
            db.execute("DELETE FROM passages")
            db.execute("DELETE FROM documents")
            index = vectors.new_index(dim)
        else:
            index = current if current is not None else _vectors_from_cache(db, model, dim)
            dropped = np.array(store.passage_ids_of(db, drop_documents), dtype=np.int64)
            dropped_passages = len(dropped)
            vectors.remove(index, vectors.all_window_ids(dropped))
            store.delete_documents(db, drop_documents)
        for item in parsed:
            ids = store.insert_document(db, item.doc, item.file_hash, item.rows, item.file_stat)
            _add_passages(db, index, model, dim, zip(ids, item.rows, strict=True))
            checkpoint("rows")
        size = vectors.write_atomic(index, new_file, before_rename=lambda: checkpoint("vector_tmp"))
        side = None
        if final:
            side = vectors.write_ann(index, new_file, previous=vectors_path(index_dir, generation))
        else:
            vectors.ann_path(new_file).unlink(missing_ok=True)  # a killed run's leftover
        checkpoint("vectors")
        lexicon_passages = manifest.get("lexicon_passages", "")
        churn = int(manifest.get("lexicon_churn", "0") or 0) + dropped_passages
        churn += sum(len(item.rows) for item in parsed)
        if final and (rebuild or store.lexicon_stale(store.counts(db)[1], churn, manifest)):
            lexicon_passages, churn = str(store.refresh_lexicon(db)), 0
        store.write_manifest(
            db,
            {
                "model": model,
                "dim": str(dim),
                "normalized": "true",
                "metric": "inner_product",
                "chunker": versions[0] if versions else CHUNKER_VERSION,
                "views": versions[1] if versions else VIEWS_VERSION,
                "generation": str(new_generation),
                "vectors": new_file.name,
                "vector_count": str(index.ntotal),
                "vector_bytes": str(size),
                "vector_stat": file_stat(new_file.stat()),
                "ann_bytes": str(side.stat().st_size) if side else "",
                "concentration": f"{vectors.concentration(index):.6f}",
                "lexicon_passages": lexicon_passages,
                "lexicon_churn": str(churn),
                "sentences": sentences,
                "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
    checkpoint("committed")
    return new_generation, index


def _add_passages(db, index, model: str, dim: int, rows) -> None:  # type: ignore[no-untyped-def]
    rows = list(rows)
    hashes = [h for _, sp in rows for h in sp.view_hashes]
    cache = store.get_embeddings(db, model, hashes, dim)
    ids, vecs = [], []
    for passage_id, sp in rows:
        for window, h in enumerate(sp.view_hashes):
            if h not in cache:
                raise IndexDamagedError(
                    f"the embedding of passage {passage_id} is missing from the cache; "
                    "rebuild with `qa index --rebuild`"
                )
            ids.append(vectors.vector_id(passage_id, window))
            vecs.append(cache[h])
    if ids:
        vectors.add(index, np.array(ids, dtype=np.int64), np.vstack(vecs))


def _vectors_from_cache(db, model: str, dim: int):  # type: ignore[no-untyped-def]
    """A vector index of every stored passage, rebuilt from the SQLite embedding cache."""
    index = vectors.new_index(dim)
    rows = [
        (pid, store.StoredPassage(None, "", "", "", tuple(h)))  # type: ignore[arg-type]
        for pid, h in store.all_view_hashes(db)
    ]
    _add_passages(db, index, model, dim, rows)
    return index


def rebuild_vectors(db, index_dir: Path, manifest: dict[str, str]):  # type: ignore[no-untyped-def]
    """Vectors for the current generation rebuilt from SQLite (repairs a lost FAISS file)."""
    return _vectors_from_cache(db, manifest["model"], int(manifest["dim"]))


def _cleanup_old_vectors(index_dir: Path, generation: int) -> None:
    """Keep the current and previous generation (a reader may still be opening it).

    Also removes what a killed run left: temp files, and files of generations that were
    written but never committed (no reader can have been told about those).
    """
    for path in sorted(index_dir.glob("vectors-*.faiss*")):
        stem = path.name.split(".")[0].removeprefix("vectors-")
        stale = stem.isdigit() and not generation - 1 <= int(stem) <= generation
        if path.name.endswith(".tmp") or stale:
            path.unlink(missing_ok=True)
            checkpoint("cleanup")
