"""``qa eval``: measure retrieval on a question set with gold citations.

Two inputs: our JSONL (``question``, ``doc``, ``gold`` paragraph numbers, ``kind``) over
an existing index, and BEIR folders (``corpus.jsonl``, ``queries.jsonl``,
``qrels/test.tsv``), whose corpus is indexed into a cached index of its own. Metrics come
from ranx, not hand-written formulas.
"""

from __future__ import annotations

import csv
import hashlib
import json
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import UsageError
from qa.models import DocKind, Document, Hit, Mode, Passage

METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
EVAL_ORDER = (Mode.DENSE, Mode.LEXICAL, Mode.HYBRID)  # how `qa eval --mode all` runs them


@dataclass(frozen=True, slots=True)
class Question:
    qid: str
    text: str
    kind: str


@dataclass
class EvalSet:
    """Questions and graded relevance; ``unit`` says what a hit is matched on."""

    name: str
    questions: list[Question]
    qrels: dict[str, dict[str, int]]
    unit: str  # "paragraph" (doc + ¶N) or "document"
    corpus: Path | None = None  # BEIR corpus.jsonl to index, if any


@dataclass
class ModeResult:
    overall: dict[str, float]
    by_kind: dict[str, dict[str, float]]
    run: dict[str, dict[str, float]] = field(repr=False)

    def to_json(self) -> dict[str, object]:
        return {**self.overall, "by_kind": self.by_kind}


def hit_key(hit: Hit, unit: str) -> str:
    """What a hit is judged as: ``DOC#N`` for paragraphs, the document id otherwise."""
    if unit == "document":
        return hit.doc_id
    return f"{hit.doc_id}#{hit.paragraph if hit.paragraph is not None else hit.label}"


def load_eval_set(path: Path) -> EvalSet:
    """Our JSONL question file or a BEIR folder; errors name the file and line."""
    if path.is_dir():
        return _load_beir(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such question file or BEIR folder")
    questions: list[Question] = []
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            qid = str(item.get("id", number))
            gold = [int(g) for g in item["gold"]]
            questions.append(Question(qid, str(item["question"]), str(item.get("kind", "all"))))
            qrels[qid] = {f"{item['doc']}#{g}": 1 for g in gold}
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(
                f"{path}:{number}: expected an object with question, doc, gold ({exc})"
            ) from exc
    if not questions:
        raise UsageError(f"{path}: no questions")
    return EvalSet(path.stem, questions, qrels, "paragraph")


def _load_beir(folder: Path) -> EvalSet:
    corpus, queries_file = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrels_file = folder / "qrels" / "test.tsv"
    for needed in (corpus, queries_file, qrels_file):
        if not needed.is_file():
            raise UsageError(f"{folder}: not a BEIR folder ({needed.name} missing)")
    qrels: dict[str, dict[str, int]] = {}
    with qrels_file.open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                continue  # header line or blank
            grade = int(row[2])
            if grade > 0:
                qrels.setdefault(row[0], {})[row[1]] = grade
    questions = []
    for line in queries_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            item = json.loads(line)
            if str(item["_id"]) in qrels:
                questions.append(Question(str(item["_id"]), item["text"], "all"))
    return EvalSet(folder.name, questions, qrels, "document", corpus=corpus)


class BeirSource:
    """One BEIR corpus entry as an indexable document with a single passage."""

    def __init__(self, item: dict[str, str]) -> None:
        self.item = item
        self.key = str(item["_id"])

    def stat_key(self) -> str:
        return ""  # no cheap fingerprint: every run hashes the entry

    def read_stat(self) -> str:
        return ""

    def digest(self) -> str:
        raw = f"{self.item.get('title', '')}\n{self.item.get('text', '')}"
        return hashlib.blake2b(raw.encode("utf-8"), digest_size=16).hexdigest()

    def load(self) -> Document:
        text = " ".join(str(self.item.get("text", "")).split())
        title = " ".join(str(self.item.get("title", "")).split())
        passage = Passage(label="¶1", paragraph=1, text=text, start=0, end=len(text))
        return Document(
            doc_id=self.key,
            kind=DocKind.ARTICLE,
            title=title,
            body=text,
            source=self.key,
            passages=[passage] if text else [],
        )


def beir_sources(corpus: Path) -> Iterator[BeirSource]:
    with corpus.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield BeirSource(json.loads(line))


def evaluate(
    search: Callable[[str, int, Mode], list[Hit]],
    evalset: EvalSet,
    modes: Sequence[Mode],
    k: int = 10,
    on_question: Callable[[], None] | None = None,
) -> dict[str, ModeResult]:
    """Run every question in every mode and score the runs with ranx; keyed by mode name."""
    results: dict[str, ModeResult] = {}
    for mode in modes:
        run: dict[str, dict[str, float]] = {}
        for question in evalset.questions:
            scored: dict[str, float] = {}
            for hit in search(question.text, k, mode):
                key = hit_key(hit, evalset.unit)
                # Rank, not raw score, decides: scores of different modes are not comparable.
                scored.setdefault(key, float(k - len(scored)))
            run[question.qid] = scored or {"__none__": 0.0}
            if on_question:
                on_question()
        results[mode.value] = ModeResult(_scores(evalset.qrels, run), _by_kind(evalset, run), run)
    return results


def _by_kind(evalset: EvalSet, run: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """The metrics over each kind of question alone."""
    by_kind: dict[str, dict[str, float]] = {}
    for kind in sorted({q.kind for q in evalset.questions}):
        ids = {q.qid for q in evalset.questions if q.kind == kind}
        sub_run = {qid: r for qid, r in run.items() if qid in ids}
        sub_qrels = {qid: r for qid, r in evalset.qrels.items() if qid in ids}
        by_kind[kind] = _scores(sub_qrels, sub_run)
    return by_kind


def _scores(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]]) -> dict[str, float]:
    """METRICS of ``run`` against ``qrels``, rounded to four places."""
    from ranx import Qrels, Run
    from ranx import evaluate as ranx_evaluate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba's uint64 cast notices inside ranx
        values = ranx_evaluate(Qrels(qrels), Run(run), list(METRICS), make_comparable=True)
    return {metric: round(float(values[metric]), 4) for metric in METRICS}


def write_trec_run(path: Path, results: dict[str, ModeResult]) -> None:
    """TREC run format: ``qid Q0 docno rank score tag``, one block per mode."""
    with path.open("w", encoding="utf-8") as fh:
        for mode, result in results.items():
            for qid, scored in result.run.items():
                ranked = sorted(scored.items(), key=lambda item: item[1], reverse=True)
                for rank, (key, score) in enumerate(ranked, 1):
                    fh.write(
                        f"{qid} Q0 {key.replace(' ', '_')} {rank} {score:.4f} pilcrow-{mode}\n"
                    )
