"""The one-line hook ``qa.retrieve`` needs to search the approximate sidecar, applied from
outside for the benchmarks (retrieve.py is not ours to edit).

``Searcher._check_generation`` loads vectors with ``vectors.read(path, dim)``; the hook
makes that ``vectors.read_for_search(path, dim, count)``. Here ``vectors.read`` is wrapped
so that a sidecar, when present, is returned instead of the flat file: the same effect.

    python -m benchmarks.ann_hook ask "question" --index DIR   # `qa` with the hook
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def install() -> None:
    from qa import vectors

    if getattr(vectors.read, "ann_hook", False):
        return
    original = vectors.read

    def read(path: Path, dim: int) -> Any:
        import faiss

        side = vectors.ann_path(path)
        if side.exists():
            ann = faiss.read_index(str(side))
            if ann.d == dim:
                return ann
        return original(path, dim)

    read.ann_hook = True  # type: ignore[attr-defined]
    vectors.read = read  # type: ignore[assignment]


def main() -> None:
    install()
    from qa.cli import cli

    cli(prog_name="qa")


if __name__ == "__main__":
    main()
