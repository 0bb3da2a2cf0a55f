"""``qa verify`` speed on a real draft, and the calibration of its paraphrase threshold.

    python -m benchmarks.bench_verify [--index bench-data/cables-index] [--runs 5]
    python -m benchmarks.bench_verify --calibrate [--index bench-data/cables-index]
                                      [--questions benchmarks/data/tuning-questions.jsonl]

Speed: a ~2,000-word draft with 20 quotes taken from real paragraphs of the index (12
exact, 3 with one word changed, 2 with an ellipsis across sentences, 1 with a bracketed
insertion, 2 of text in no cable), filler prose between them. "warm" is one process
checking the draft again with the model loaded (as the TUI or a batch would); "cold" is
the whole ``qa verify`` command, start to exit.

Calibration: the answers of our tuning set (``benchmarks/data/tuning-questions.jsonl``; never
the dev set, which only confirms) are paraphrases of their gold paragraphs. The
cosine of each answer with its gold paragraph is a paraphrase ("the meaning is there");
its cosine with the nearest passage of any *other* cable is on-topic text that does not
say it. The threshold in ``qa/verify/check.py`` sits between the two distributions.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import DATA, QA, ROOT, header, median, percentile, record

TUNING_SET = ROOT / "benchmarks" / "data" / "tuning-questions.jsonl"

FILLER = (
    "The documents, released in 2010, describe the talks in detail and name the officials "
    "who took part. Diplomats who read them at the time said the picture was incomplete, "
    "and several of the people involved have since left their posts. "
)
NOT_IN_ANY_CABLE = [
    "the delegation agreed to open a permanent consulate in the northern port by spring",
    "our contacts expect the harvest festival to draw record crowds to the capital this year",
]


def _draft(index: Path, seed: int = 7) -> tuple[str, int]:
    """A draft of ~2,000 words quoting real paragraphs; returns (text, quotes)."""
    from qa import store
    from qa.locations import db_path

    db = store.connect(db_path(index), readonly=True)
    rows = db.execute(  # a passage's text is its slice of the body (schema 6)
        f"SELECT {store.PASSAGE_TEXT} FROM passages p JOIN documents d ON d.id = p.document_id"
        f" WHERE p.paragraph IS NOT NULL AND length({store.PASSAGE_TEXT}) > 400 ORDER BY p.id"
    ).fetchall()
    rng = random.Random(seed)
    # A quote's own quotation marks become single ones, as a writer nests them.
    nest = str.maketrans({'"': "'", "“": "‘", "”": "’"})
    texts = [" ".join(row[0].translate(nest).split()) for row in rng.sample(rows, 18)]
    quotes = []
    for i, text in enumerate(texts):
        words = text.split()[3:]  # past the ¶N. (C) marker
        start = rng.randrange(0, max(1, len(words) - 40))
        piece = words[start : start + rng.randrange(12, 26)]
        if 12 <= i < 15:
            piece[len(piece) // 2] = "reportedly"  # one word changed
        elif 15 <= i < 17:
            piece = [*piece[:6], "…", *words[start + 20 : start + 30]]  # ellipsis
        elif i == 17:
            piece = ["[the", "official]", *piece[1:]]
        quotes.append(" ".join(piece))
    quotes += NOT_IN_ANY_CABLE
    rng.shuffle(quotes)
    filler_words = len(FILLER.split())
    per_gap = max(1, (2000 - sum(len(q.split()) for q in quotes)) // (len(quotes) * filler_words))
    parts = [
        f'{FILLER * per_gap}One official said "{quote}," the cable records.\n\n' for quote in quotes
    ]
    return "".join(parts), len(quotes)


def bench_speed(index: Path, runs: int) -> None:
    from qa import store
    from qa.factory import open_searcher
    from qa.locations import db_path
    from qa.verify import Verifier
    from qa.verify.dense import SearcherDense

    draft, quotes = _draft(index)
    words = len(draft.split())
    header(f"qa verify: {words}-word draft, {quotes} quotes, {index}")
    db = store.connect(db_path(index), readonly=True)
    verifier = Verifier(db, SearcherDense(lambda: open_searcher(index)))
    report = verifier.verify(draft)  # loads the model if a quote needs it
    counts: dict[str, int] = {}
    for check in report.checks:
        counts[check.status.value] = counts.get(check.status.value, 0) + 1
    print("  verdicts:", json.dumps(counts))
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        verifier.verify(draft)
        times.append(time.perf_counter() - started)
    size = f"{store.counts(db)[1]}p"
    record("verify warm, median", size, median(times), "s", f"{words} words, {quotes} quotes")
    record("verify warm, worst", size, percentile(times, 100), "s", f"{runs} runs")
    with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False) as handle:
        handle.write(draft)
    started = time.perf_counter()
    subprocess.run([QA, "verify", handle.name, "--index", str(index)], capture_output=True)
    record("verify cold (whole command)", size, time.perf_counter() - started, "s")
    Path(handle.name).unlink()


def calibrate(index: Path, questions: Path) -> None:
    from qa import store
    from qa.factory import open_searcher
    from qa.locations import db_path
    from qa.models import Filters, Mode
    from qa.verify.dense import SearcherDense, sentence_scores

    searcher = open_searcher(index)
    dense = SearcherDense(lambda: searcher)
    db = store.connect(db_path(index), readonly=True)
    items = [json.loads(line) for line in questions.read_text().splitlines() if line.strip()]
    sentence: tuple[list[float], list[float]] = ([], [])
    passage: tuple[list[float], list[float]] = ([], [])
    for item in items:
        vector = dense.embed(item["answer"])
        own = searcher.ask(
            item["answer"],
            k=50,
            mode=Mode.DENSE,
            filters=Filters(doc_id=item["doc"]),
            highlight=False,
        ).hits
        gold = [(h.passage_id, h.score) for h in own if h.paragraph in item["gold"]]
        near = sentence_scores(db, dense, vector, dense.nearest(vector, 12))
        other = [(hit, score) for hit, score in near if hit.doc_id != item["doc"]][:5]
        if gold and other:
            scored = sentence_scores(db, dense, vector, gold)
            sentence[0].append(max(score for _, score in scored))
            sentence[1].append(max(score for _, score in other))
            passage[0].append(max(score for _, score in gold))
            passage[1].append(max(hit.score for hit, _ in other))
    pos, neg = np.array(sentence[0]), np.array(sentence[1])
    header(f"paraphrase threshold (best sentence cosine): {len(pos)} of {questions.name}, {index}")
    for name, values in (("paraphrase → gold ¶", pos), ("nearest 5 of other cables", neg)):
        print(
            f"  {name:26} min {values.min():.3f}  p10 {np.percentile(values, 10):.3f}  "
            f"median {np.median(values):.3f}  p90 {np.percentile(values, 90):.3f}  "
            f"max {values.max():.3f}"
        )
    for t in np.arange(0.50, 0.71, 0.02):
        print(
            f"  threshold {t:.2f}: paraphrases found {np.mean(pos >= t):5.1%}, "
            f"other cables taken for one {np.mean(neg >= t):5.1%}"
        )
    for name, (p, n) in (("best sentence", sentence), ("whole passage", passage)):
        accuracy, t = _best_threshold(np.array(p), np.array(n))
        print(f"  scored by {name}: best balanced accuracy {accuracy:.3f} at {t:.2f}")


def _best_threshold(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """(balanced accuracy, threshold) at the threshold that maximises it."""
    return max(
        (float(np.mean(pos >= t) + np.mean(neg < t)) / 2, float(t))
        for t in np.arange(0.3, 0.9, 0.01)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, default=DATA / "cables-index")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--questions", type=Path, default=TUNING_SET)
    args = parser.parse_args()
    if args.calibrate:
        calibrate(args.index, args.questions)
    else:
        bench_speed(args.index, args.runs)


if __name__ == "__main__":
    main()
