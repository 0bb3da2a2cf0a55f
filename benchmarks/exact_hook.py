"""Force exact vector search for the benchmarks' exact-vs-approximate comparison.

``qa`` searches the approximate sidecar (``vectors-NNNNNN.faiss.ivf``) by itself above
``qa.vectors.ivf.ANN_MIN_VECTORS``; this hook hides the sidecar so the same index can be timed
exactly, in the same run.

    python -m benchmarks.exact_hook ask "question" --index DIR   # `qa`, exact search
"""

from __future__ import annotations

from pathlib import Path


def install() -> None:
    from qa.vectors import ivf

    if getattr(ivf, "exact_hook", False):
        return
    ivf.ann_path = lambda path: Path(str(path) + ".no-sidecar")  # type: ignore[assignment]
    ivf.exact_hook = True  # type: ignore[attr-defined]


def main() -> None:
    install()
    from qa.cli import cli

    cli(prog_name="qa")


if __name__ == "__main__":
    main()
