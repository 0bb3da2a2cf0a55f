"""Every path and every ``PILCROW_*`` environment variable the tool reads, in one place.

Defaults are relative to the current directory (``./corpus``, ``./index``) because the
tool is run from a checkout; ``PILCROW_CORPUS``, ``PILCROW_INDEX`` and ``PILCROW_MODEL``
override them, and ``qa paths`` prints what is in effect. ``VARIABLES`` lists each
variable with what it sets and what applies without it, so that the docs and
``qa paths`` can show them all from one list.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DB_FILENAME = "pilcrow.sqlite"
LOCK_FILENAME = "index.lock"


@dataclass(frozen=True, slots=True)
class Variable:
    """One ``PILCROW_*`` environment variable: its name, what it sets, its default."""

    name: str
    description: str
    default: str


CORPUS = Variable("PILCROW_CORPUS", "corpus folder", "corpus")
INDEX = Variable("PILCROW_INDEX", "index folder", "index")
MODEL = Variable("PILCROW_MODEL", "embedding model (name or folder)", DEFAULT_MODEL)
EVAL_CACHE = Variable(
    "PILCROW_EVAL_CACHE", "indexes `qa eval` builds of BEIR corpora", ".cache/eval"
)
EMBED_BACKEND = Variable(
    "PILCROW_EMBED_BACKEND", "embedding backend: onnx, onnx-int8 or torch", "onnx"
)
THREADS = Variable("PILCROW_THREADS", "threads for one model call", "every core")
ONNX_CACHE = Variable(
    "PILCROW_ONNX_CACHE",
    "exported ONNX models",
    "$XDG_CACHE_HOME/pilcrow/onnx or ~/.cache/pilcrow/onnx",
)
# A part's parsed documents are held until it commits: ~7.6 KB a passage (1,018 MiB peak
# with parts of 30k at 20k cables, 1,552 with 100k), so 50k keeps a release build's
# peak under 2 GB with room for the base's ids and the sidecar's routing (~130 MB at 3.9M).
DEFAULT_GENERATION_PASSAGES = 50_000
GENERATION_PASSAGES = Variable(
    "PILCROW_GENERATION_PASSAGES",
    "passages per commit of a big `qa index` run",
    str(DEFAULT_GENERATION_PASSAGES),
)
DEFAULT_EMBED_BATCH = 512
EMBED_BATCH = Variable(
    "PILCROW_EMBED_BATCH",
    "embeddings committed to the cache per transaction",
    str(DEFAULT_EMBED_BATCH),
)
PARSE_WORKERS = Variable(
    "PILCROW_PARSE_WORKERS",
    "processes that read and parse corpus files in a big `qa index` run (1: none)",
    "one per core",
)
EMBED_WORKERS = Variable(
    "PILCROW_EMBED_WORKERS",
    "model processes (one thread each) a `qa index` run with much to embed uses (1: none)",
    "one per core",
)
BM25 = Variable(
    "PILCROW_BM25",
    "BM25 engine a run keeps beside FTS5: auto (tantivy from 300,000 passages), tantivy, fts5",
    "auto",
)
BM25_SETTINGS = ("auto", "tantivy", "fts5")
DEVICE = Variable("PILCROW_DEVICE", "where the model runs: cpu or cuda (a GPU)", "cpu")
DEVICES = ("cpu", "cuda")
RAY_ADDRESS = Variable(
    "PILCROW_RAY_ADDRESS",
    "embed on Ray (`qa index --ray`): a cluster address, or `local` to start one here",
    "off",
)
TEST_KILL_AT = Variable(
    "PILCROW_TEST_KILL_AT", "crash tests: stop `qa index` at point:n[:stop],...", "off"
)

PROGRESS_SECONDS = Variable(
    "PILCROW_PROGRESS_SECONDS",
    "seconds between progress lines when stderr is not a terminal",
    "30",
)

VARIABLES: tuple[Variable, ...] = (
    CORPUS,
    INDEX,
    MODEL,
    EVAL_CACHE,
    EMBED_BACKEND,
    THREADS,
    ONNX_CACHE,
    GENERATION_PASSAGES,
    EMBED_BATCH,
    PROGRESS_SECONDS,
    PARSE_WORKERS,
    EMBED_WORKERS,
    BM25,
    DEVICE,
    RAY_ADDRESS,
    TEST_KILL_AT,
)


def value_of(variable: Variable) -> str | None:
    """What the environment sets ``variable`` to, or None when it is unset (``qa paths``)."""
    return os.environ.get(variable.name)


def corpus_dir() -> Path:
    """The corpus folder: ``$PILCROW_CORPUS`` or ``./corpus``."""
    return Path(os.environ.get(CORPUS.name, CORPUS.default))


def index_dir() -> Path:
    """The index folder: ``$PILCROW_INDEX`` or ``./index``."""
    return Path(os.environ.get(INDEX.name, INDEX.default))


def model_name() -> str:
    """The embedding model: ``$PILCROW_MODEL`` or the packaged all-MiniLM-L6-v2."""
    return os.environ.get(MODEL.name, MODEL.default)


def db_path(index: Path) -> Path:
    """The index's SQLite database, the source of truth for every citation."""
    return index / DB_FILENAME


def vectors_path(index: Path, generation: int) -> Path:
    """Vector files carry their generation so readers never see a half-written one."""
    return index / f"vectors-{generation:06d}.faiss"


def bm25_path(index: Path) -> Path:
    """The index's BM25 index (tantivy's files, ``qa.bm25``), kept beside FTS5 at scale."""
    return index / "lexical"


def delta_path(index: Path, generation: int) -> Path:
    """The delta vector file a commit writes instead of a whole new vector file
    (``qa.vectors.segments``), named, like every vector file, by its generation."""
    return index / f"vectors-{generation:06d}.delta.faiss"


def lock_path(index: Path) -> Path:
    """The file a writer holds locked, so that two ``qa index`` runs never interleave."""
    return index / LOCK_FILENAME


def eval_cache_dir() -> Path:
    """Where ``qa eval`` keeps indexes of BEIR corpora: ``$PILCROW_EVAL_CACHE``, else
    ``./.cache/eval``."""
    return Path(os.environ.get(EVAL_CACHE.name, EVAL_CACHE.default))


def embed_backend() -> str:
    """``$PILCROW_EMBED_BACKEND`` as given (trimmed, lower case), default ``onnx``.

    ``qa.embed.backend_name`` checks it against the backends there are.
    """
    return os.environ.get(EMBED_BACKEND.name, EMBED_BACKEND.default).strip().lower()


def embed_device() -> str:
    """``$PILCROW_DEVICE`` as given (trimmed, lower case), default ``cpu``;
    ``qa.embed.factory.check_device`` checks it."""
    return os.environ.get(DEVICE.name, DEVICE.default).strip().lower() or DEVICE.default


def ray_address() -> str | None:
    """``$PILCROW_RAY_ADDRESS`` (``local`` or a cluster address), None when unset."""
    value = os.environ.get(RAY_ADDRESS.name, "").strip()
    return value or None


def embed_threads() -> int:
    """Threads for one model call: ``$PILCROW_THREADS`` or every core."""
    try:
        return max(1, int(os.environ.get(THREADS.name) or os.cpu_count() or 1))
    except ValueError:
        return os.cpu_count() or 1


def onnx_cache_dir() -> Path:
    """Where exported ONNX models are kept: ``$PILCROW_ONNX_CACHE`` or the user cache."""
    if os.environ.get(ONNX_CACHE.name):
        return Path(os.environ[ONNX_CACHE.name])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pilcrow" / "onnx"


def generation_passages() -> int:
    """Passages per commit of a big update: ``$PILCROW_GENERATION_PASSAGES`` or 50,000."""
    return _positive(GENERATION_PASSAGES, DEFAULT_GENERATION_PASSAGES)


def embed_batch_size() -> int:
    """Texts per cache commit: ``$PILCROW_EMBED_BATCH`` (tests make it small) or 512."""
    return _positive(EMBED_BATCH, DEFAULT_EMBED_BATCH)


def parse_workers() -> int:
    """Processes that read and parse files: ``$PILCROW_PARSE_WORKERS`` or one per core
    this process may run on."""
    return _positive(PARSE_WORKERS, len(os.sched_getaffinity(0)) or 1)


def embed_workers() -> int:
    """Model processes for a big embedding: ``$PILCROW_EMBED_WORKERS`` or one per core
    this process may run on."""
    return _positive(EMBED_WORKERS, len(os.sched_getaffinity(0)) or 1)


def bm25_setting() -> str:
    """``$PILCROW_BM25`` (``auto``, ``tantivy`` or ``fts5``); ``auto`` when unset or not one
    of them."""
    given = os.environ.get(BM25.name, BM25.default)
    value = given.strip().lower()
    if value in BM25_SETTINGS:
        return value
    _warn_once(f"{BM25.name}={given!r} is not one of {', '.join(BM25_SETTINGS)}: using auto")
    return BM25.default


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    """Log a warning about a setting once per process (a setting is read many times)."""
    if message not in _WARNED:
        _WARNED.add(message)
        log.warning(message)


def kill_points() -> str:
    """``$PILCROW_TEST_KILL_AT`` as given ('' when unset): see ``qa.index.hooks``."""
    return os.environ.get(TEST_KILL_AT.name, "")


def _positive(variable: Variable, default: int) -> int:
    """The variable as a whole number of at least 1; ``default`` when unset or not a number."""
    try:
        return max(1, int(os.environ.get(variable.name, default)))
    except ValueError:
        return default


def progress_seconds() -> float:
    """Seconds between progress lines in a log: ``$PILCROW_PROGRESS_SECONDS`` or 30."""
    try:
        return max(0.0, float(os.environ.get(PROGRESS_SECONDS.name) or PROGRESS_SECONDS.default))
    except ValueError:
        return float(PROGRESS_SECONDS.default)
