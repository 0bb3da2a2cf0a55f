"""One build of the release benchmark, in its own process, timed by stage.

    python -m benchmarks.release_build --corpus C --index I --base B [--cprofile OUT]

Runs ``qa.index.update_index`` (what ``qa index`` runs) on the corpus with the stand-in
embedder (``benchmarks/standin.py``: no model) and prints one JSON line: the run's
summary, the seconds spent in each stage, the stand-in's own cost and this process's
peak RSS. Its own process so the parent reads an honest peak RSS (``wait4``).

The stages are read by wrapping, in this process only, the functions the run calls
(``STAGES``): nothing in ``qa`` is changed, and a function that is not there (the
indexer is being reworked) is reported as missing rather than failing the run. Work
done in parse worker processes is invisible here (the run's process only waits for
it: ``parse: waiting for results``); ``PILCROW_PARSE_WORKERS=1`` puts it in this process,
where hashing, parsing and views are timed separately.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import json
import pstats
import resource
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# (module, attribute, stage). Nested stages overlap their parents (commit > rows insert).
STAGES = [
    ("qa.index.run", "file_sources", "listing (walk + stat)"),
    ("qa.index.sources.FileSource", "digest", "hashing (read + blake2b)"),
    ("qa.index.sources.FileSource", "load", "parsing (decode, HTML, numbering)"),
    ("qa.index.parsing", "parsed", "rows + views (search text, windows, hashes)"),
    ("qa.index.run", "parsed", "rows + views (search text, windows, hashes)"),
    ("qa.index.run", "sentence_jobs", "sentence jobs"),
    ("qa.index.run", "embed_missing", "embedding step (cache lookups + stand-in + puts)"),
    ("qa.index.run", "current_vectors", "open + verify the committed vector file"),
    ("qa.index.run", "commit_generation", "commit (all)"),
    ("qa.index.commit", "add_passages", "commit: vectors from cache into FAISS"),
    ("qa.store", "insert_document", "commit: SQLite rows + FTS5 triggers"),
    ("qa.index.commit", "write_base", "commit: base file write (streamed)"),
    ("qa.vectors.flat.FlatIndex", "save", "commit: delta file write"),
    ("qa.vectors", "write_ann", "commit: IVF sidecar"),
    ("qa.store", "refresh_lexicon", "commit: lexicon refresh"),
    ("qa.index.run", "remove_stale_vectors", "cleanup of old vector files"),
]
_ITERATORS = [("qa.index.run", "read_all", "parse: waiting for results")]


class Stages:
    """Seconds and calls per stage, gathered by wrapped functions."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.missing: list[str] = []

    def install(self) -> None:
        for module, attr, name in STAGES:
            self._wrap(module, attr, name, self._timed)
        for module, attr, name in _ITERATORS:
            self._wrap(module, attr, name, self._timed_iter)

    def _wrap(self, module: str, attr: str, name: str, how: Callable[..., Any]) -> None:
        owner = _resolve(module)
        original = getattr(owner, attr, None) if owner is not None else None
        if original is None:
            self.missing.append(f"{module}.{attr}")
            return
        setattr(owner, attr, how(original, name))

    def _timed(self, original: Callable[..., Any], name: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
                self.calls[name] += 1

        return timed

    def _timed_iter(self, original: Callable[..., Any], name: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            it = iter(original(*args, **kwargs))
            while True:
                started = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    return
                finally:
                    self.seconds[name] += time.perf_counter() - started
                self.calls[name] += 1
                yield item

        return timed


def _resolve(dotted: str) -> Any:
    """A module, or a class inside one (``qa.vectors.flat.FlatIndex``); None if absent."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name, None)
        return obj
    return None


class StageProgress:
    """The run's Progress: times each described stage, a line on stderr every 30 s."""

    def __init__(self, stages: Stages) -> None:
        self._stages, self._name, self._started, self._last = stages, "", 0.0, 0.0
        self._done = self._total = 0

    def start(self, total: int, description: str) -> None:
        self._name, self._total, self._done = description, total, 0
        self._started = self._last = time.perf_counter()

    def advance(self, n: int) -> None:
        self._done += n
        if time.perf_counter() - self._last > 30:
            self._last = time.perf_counter()
            print(f"    {self._name}: {self._done:,}/{self._total:,}", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self._name:
            self._stages.seconds[f"progress: {self._name}"] += time.perf_counter() - self._started
            self._name = ""

    def warn(self, message: str) -> None:
        print(f"    warning: {message}", file=sys.stderr, flush=True)


def build(corpus: Path, index: Path, base: Path, profile_to: Path | None) -> dict[str, Any]:
    """Index ``corpus`` into ``index`` with the stand-in; the figures as a dict."""
    from benchmarks.standin import StandInEmbedder
    from qa.index import RunOptions, update_index

    started = time.perf_counter()
    stand_in = StandInEmbedder.load(corpus, base)
    loaded = time.perf_counter() - started
    stages = Stages()
    stages.install()
    options = RunOptions(progress=StageProgress(stages))
    profiler = cProfile.Profile() if profile_to else None
    if profiler:
        profiler.enable()
    summary = update_index(corpus, index, stand_in.name, lambda _: stand_in, options)
    if profiler and profile_to:
        profiler.disable()
        _dump(profiler, profile_to)
    return {
        "summary": summary.to_json(),
        "stages": {
            k: round(v, 3) for k, v in sorted(stages.seconds.items(), key=lambda kv: -kv[1])
        },
        "calls": dict(stages.calls),
        "missing_stages": stages.missing,
        "standin": {**stand_in.stats(), "load_seconds": round(loaded, 3)},
        "seconds": round(time.perf_counter() - started, 3),
        "peak_rss_mib_self": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_mib_children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def _dump(profiler: cProfile.Profile, path: Path) -> None:
    """The profile (pstats' marshal format) and its top functions as text beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(path))
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(45)
    path.with_suffix(".txt").write_text(text.getvalue())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--cprofile", type=Path, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(build(args.corpus, args.index, args.base, args.cprofile)), flush=True)


if __name__ == "__main__":
    main()
