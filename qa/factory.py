"""The one place that builds the object graph (embedder, indexer run, searcher).

The CLI, the TUI and the tests all go through here, so they load the same model the same
way and share one loaded copy per process.
"""

from __future__ import annotations

import threading
from pathlib import Path

from qa import locations
from qa.embed import Embedder, canonical_model_name, load_embedder
from qa.index import IndexSummary, Progress, RunOptions, index_sources, update_index
from qa.search.searcher import Searcher

_models: dict[tuple[str, str], Embedder] = {}
_models_lock = threading.Lock()


def shared_embedder(name: str, device: str | None = None) -> Embedder:
    """Load a model once per process and device (default ``$PILCROW_DEVICE``): tests and
    the TUI reuse it across indexes."""
    key = (canonical_model_name(name), device or locations.embed_device())
    with _models_lock:
        if key not in _models:
            _models[key] = load_embedder(name, key[1])
        return _models[key]


def open_searcher(index_dir: Path | None = None) -> Searcher:
    """A searcher over ``index_dir`` (default: ``locations.index_dir()``)."""
    return Searcher(index_dir or locations.index_dir(), shared_embedder)


def build_index(
    corpus_dir: Path | None = None,
    index_dir: Path | None = None,
    model: str | None = None,
    options: RunOptions | None = None,
) -> IndexSummary:
    """Index ``corpus_dir`` into ``index_dir`` incrementally (see ``qa.index``).

    ``options`` says everything else about the run (``rebuild``, ``wait``, ``progress``,
    ``allow_removal``, ``ray_address``, ``device``; None: a plain update), the one way for
    the CLI, the TUI and tests. On Ray the model runs on the cluster's devices; this
    process loads it on its CPU only to learn its dimension.
    """
    options = options or RunOptions()
    here = "cpu" if options.ray_address else options.device
    return update_index(
        corpus_dir or locations.corpus_dir(),
        index_dir or locations.index_dir(),
        model or locations.model_name(),
        lambda name: shared_embedder(name, here),
        options,
    )


def index_beir(corpus_jsonl: Path, *, progress: Progress | None = None) -> Path:
    """Index a BEIR ``corpus.jsonl`` into its own cached index; returns that index folder."""
    import hashlib

    from qa.evaluate import beir_sources

    resolved = corpus_jsonl.resolve()
    tag = hashlib.blake2b(str(resolved).encode(), digest_size=4).hexdigest()
    index = locations.eval_cache_dir() / f"{resolved.parent.name}-{tag}"
    index_sources(
        lambda: beir_sources(resolved),
        index,
        locations.model_name(),
        shared_embedder,
        RunOptions(progress=progress, allow_removal=True),  # a cache: nothing to lose
    )
    return index
