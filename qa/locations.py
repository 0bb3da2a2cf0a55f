"""Every path the tool uses, in one place, each with an environment override.

Defaults are relative to the current directory (``./corpus``, ``./index``) because the
tool is run from a checkout; ``PILCROW_CORPUS``, ``PILCROW_INDEX`` and ``PILCROW_MODEL``
override them, and ``qa paths`` prints what is in effect.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DB_FILENAME = "pilcrow.sqlite"
LOCK_FILENAME = "index.lock"


def corpus_dir() -> Path:
    """The corpus folder: ``$PILCROW_CORPUS`` or ``./corpus``."""
    return Path(os.environ.get("PILCROW_CORPUS", "corpus"))


def index_dir() -> Path:
    """The index folder: ``$PILCROW_INDEX`` or ``./index``."""
    return Path(os.environ.get("PILCROW_INDEX", "index"))


def model_name() -> str:
    """The embedding model: ``$PILCROW_MODEL`` or the packaged all-MiniLM-L6-v2."""
    return os.environ.get("PILCROW_MODEL", DEFAULT_MODEL)


def db_path(index: Path) -> Path:
    return index / DB_FILENAME


def vectors_path(index: Path, generation: int) -> Path:
    """Vector files carry their generation so readers never see a half-written one."""
    return index / f"vectors-{generation:06d}.faiss"


def lock_path(index: Path) -> Path:
    return index / LOCK_FILENAME


def eval_cache_dir() -> Path:
    """Where ``qa eval`` keeps indexes of BEIR corpora: ``$PILCROW_EVAL_CACHE`` or ``./.cache``."""
    return Path(os.environ.get("PILCROW_EVAL_CACHE", ".cache/eval"))
