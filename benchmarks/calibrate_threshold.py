"""Calibrate the "nothing relevant" threshold: best dense similarity of real vs off-topic questions.

    python -m benchmarks.calibrate_threshold --index bench-data/cables QUESTIONS.jsonl ...

Prints, for each question file and for benchmarks/data/offtopic-questions.txt, the
distribution (min, 5th percentile, median) of the best cosine similarity between a question
and any passage. The threshold in qa/search/rank.py should sit between the off-topic maximum
and the on-topic minimum.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from qa.evaluate import load_eval_set
from qa.factory import open_searcher

OFFTOPIC = Path(__file__).parent / "data" / "offtopic-questions.txt"


def best_similarities(searcher, questions: list[str]) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.array([searcher.ask(q, k=1, highlight=False).best_similarity for q in questions])


def describe(name: str, values: np.ndarray) -> None:
    print(
        f"{name:28} n={len(values):3d} min={values.min():.3f} p5={np.percentile(values, 5):.3f} "
        f"median={np.median(values):.3f} max={values.max():.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("questions", type=Path, nargs="+")
    parser.add_argument("--index", type=Path, required=True)
    args = parser.parse_args()
    searcher = open_searcher(args.index)
    for path in args.questions:
        evalset = load_eval_set(path)
        describe(path.name, best_similarities(searcher, [q.text for q in evalset.questions]))
    offtopic = [line for line in OFFTOPIC.read_text().splitlines() if line.strip()]
    describe("off-topic", best_similarities(searcher, offtopic))


if __name__ == "__main__":
    main()
