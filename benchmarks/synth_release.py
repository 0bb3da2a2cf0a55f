"""A synthetic Cablegate release: N cable pages recombined from the sample's, streamed.

    python -m benchmarks.synth_release --cables N --out DIR [--seed S]
        [--sample ../shared/corpus/cablegate] [--workers 2] [--force]

The whole release (251,287 cables, ~2.9M paragraphs) is what Pilcrow must index on one
machine, and only 1,295 of its pages are here. So this writes N pages in the sample's
own layout (cable-viewer HTML under ``DIR/YYYY/MM/<ID>.html``) whose paragraphs and
sentences are the sample's, recombined (``release_cable``), with new reference ids
(``09MOSCOW1234``: year, origin code, a serial unique per year and post, in date order),
dates, origins, TAGS, SUBJECT lines, markings, page breaks, SECTION and REF lines (citing
other generated cables), and the sample's messiness at the rates measured from the sample
when it starts (``release_profile``). Every page is parsed with Pilcrow's own parser
before it is kept: a page whose parse disagrees with what was written (its id, date,
paragraph labels, REF targets or subject) is drawn again, the last time without stray
anchors and skipped markers; the count is reported.

Beside the corpus, never inside it (``qa index`` would find it), ``DIR.sources.bin``
holds one record per embedded view of every generated passage: the view's 64-bit hash
key, the row of the sample view it was drawn from and of the donor paragraph's view (-1:
none), and ``DIR.sources.json`` the sample's view table (doc id, label, window, view
hash = the base index's cache key), the measured rates and what was generated. That is
the stand-in embedder's map (``benchmarks/standin.py``).

Deterministic for a seed (and sample): cable ``i`` depends only on the seed, ``i`` and the
plan of ids, so the output is the same for any ``--workers``. Memory is constant in N but
for the plan (~30 bytes a cable): pages are written as they are made.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import CORPUS
from benchmarks.release_cable import Cable, Meta, compose, render
from benchmarks.release_profile import Profile, measure, summary
from benchmarks.standin import SOURCES_DTYPE, sources_paths, view_key
from qa.models import Document

ATTEMPTS = 3  # draws per cable before its page is kept as it parses
TASK_CABLES = 200  # cables per worker task
FORMAT = 1


@dataclass(frozen=True)
class Plan:
    """The release's fixed columns, one row per cable: what REF lines need of any cable."""

    month: np.ndarray  # index into profile.months.values
    origin: np.ndarray  # index into profile.origins.values
    classification: np.ndarray
    day: np.ndarray
    minute: np.ndarray
    serial: np.ndarray
    released: np.ndarray

    def meta(self, profile: Profile, i: int) -> Meta:
        """Cable ``i``'s fixed fields (id, date, origin, classification)."""
        year, month = profile.months.values[int(self.month[i])]
        origin = profile.origins.values[int(self.origin[i])]
        return Meta(
            index=i,
            doc_id=f"{year % 100:02d}{origin.code}{int(self.serial[i])}",
            year=year,
            month=month,
            day=int(self.day[i]),
            minute=int(self.minute[i]),
            origin=origin,
            serial=int(self.serial[i]),
            classification=profile.classifications.values[int(self.classification[i])],
            released=profile.released.values[int(self.released[i])],
        )


def make_plan(profile: Profile, n: int, seed: int) -> Plan:
    """Dates, origins and classifications drawn like the sample's; serials counted up per
    (year, post) in date order from a random start, so every id is unique."""
    rng = np.random.default_rng([seed, 1])

    def draw(weights: list[float]) -> np.ndarray:
        return rng.choice(len(weights), size=n, p=np.asarray(weights) / sum(weights))

    month, origin = draw(profile.months.weights), draw(profile.origins.weights)
    classification, released = draw(profile.classifications.weights), draw(profile.released.weights)
    day, minute = rng.integers(1, 29, size=n), rng.integers(0, 1440, size=n)
    gaps, starts = rng.integers(1, 40, size=n), rng.integers(1, 2000, size=n)
    ym = np.array([y * 12 + m - 1 for y, m in profile.months.values], dtype=np.int64)[month]
    year = ym // 12
    order = np.lexsort((np.arange(n), minute, day, ym, origin, year))
    serial = np.empty(n, dtype=np.int64)
    previous: tuple[int, int] | None = None
    running = 0
    for pos in order.tolist():
        group = (int(year[pos]), int(origin[pos]))
        running = int(starts[pos]) if group != previous else running + int(gaps[pos])
        previous, serial[pos] = group, running
    return Plan(month, origin, classification, day, minute, serial, released)


_STATE: dict[str, Any] = {}  # set before the workers fork: they inherit it, nothing is sent


def _ref_of(i: int) -> tuple[str, int, str, int]:
    meta = _STATE["plan"].meta(_STATE["profile"], i)
    return meta.doc_id, meta.year, meta.origin.code, meta.serial


def problems(doc: Document, cable: Cable) -> list[str]:
    """Where the parse of a page disagrees with what was written (empty: it agrees)."""
    meta, found = cable.meta, []
    if doc.doc_id != meta.doc_id:
        found.append("id")
    if doc.date != meta.created:
        found.append("date")
    if tuple(p.label for p in doc.passages if p.paragraph is not None) != cable.labels:
        found.append("labels")
    if tuple(r.target for r in doc.references if r.target) != cable.targets:
        found.append("refs")
    if doc.title != cable.subject[:300]:
        found.append("subject")
    return found


def make_cable(i: int) -> tuple[Cable, bytes, Document, list[list[str]]]:
    """Cable ``i``: drawn, rendered and parsed until its parse agrees (``ATTEMPTS``);
    also what each attempt's parse disagreed on (the last one's empty if it agreed)."""
    from qa.ingest import parse_file

    profile, plan, out, seed = (_STATE[k] for k in ("profile", "plan", "out", "seed"))
    meta = plan.meta(profile, i)
    n = len(plan.serial)
    tried: list[list[str]] = []
    for attempt in range(ATTEMPTS):
        rng = random.Random((seed << 34) ^ (i << 2) ^ attempt)
        cable = compose(profile, meta, n, _ref_of, rng, clean=attempt == ATTEMPTS - 1)
        routing = profile.routing[rng.randrange(len(profile.routing))] if profile.routing else ""
        data = render(profile, cable, routing).encode("utf-8")
        doc = parse_file(out / meta.path, root=out, data=data)
        tried.append(problems(doc, cable))
        if not tried[-1]:
            break
    return cable, data, doc, tried


def view_records(profile: Profile, cable: Cable, doc: Document) -> list[tuple[int, int, int]]:
    """One ``(key, source view, donor view)`` per embedded view of the parsed cable: each
    passage is matched to the chunk it shares most words with."""
    from qa.index.rows import parsed
    from qa.views import clean

    words = [set(clean(c.text).lower().split()) for c in cable.chunks]
    header = profile.docs[cable.theme].header_view
    records: list[tuple[int, int, int]] = []
    for row in parsed(doc, "", jobs=False).rows:
        mine = set(row.search_text.lower().split())
        best = max(range(len(words)), key=lambda k: (len(mine & words[k]), -k))
        chunk = cable.chunks[best]
        if chunk.source < 0:
            src: tuple[int, ...] = (header if header >= 0 else 0,)
        else:
            src = profile.paras[chunk.source].views or (0,)
        donor = profile.paras[chunk.donor].views if chunk.donor >= 0 else ()
        for w, h in enumerate(row.view_hashes):
            d = donor[min(w, len(donor) - 1)] if donor else -1
            records.append((view_key(h), src[min(w, len(src) - 1)], d))
    return records


def work(task: tuple[int, int]) -> dict[str, int]:
    """Write cables ``start..stop`` and their records (a part file); return counts."""
    start, stop = task
    out: Path = _STATE["out"]
    counts: Counter[str] = Counter()
    records: list[tuple[int, int, int]] = []
    for i in range(start, stop):
        cable, data, doc, tried = make_cable(i)
        path = out / cable.meta.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        records += view_records(_STATE["profile"], cable, doc)
        counts.update(
            cables=1,
            bytes=len(data),
            passages=len(doc.passages),
            redrawn=len(tried) > 1,
            kept_disagreeing=bool(tried[-1]),
            no_anchor=cable.mode != "anchors",
            unnumbered=not any(p.paragraph is not None for p in doc.passages),
            with_refs=bool(cable.targets),
            ref_targets=len(cable.targets),
            recombined=sum(c.donor >= 0 for c in cable.chunks),
        )
        counts.update(
            f"{'kept' if k == len(tried) - 1 else 'redrawn'}:{x}"
            for k, t in enumerate(tried)
            for x in t
        )
    counts["views"] = len(records)
    np.array(records, dtype=SOURCES_DTYPE).tofile(_part(out, start))
    return dict(counts)


def _part(out: Path, start: int) -> Path:
    return out.parent / f".{out.name}.sources.part-{start:010d}"


def prepare(
    sample: Path, n: int, seed: int, out: Path, profile: Profile | None = None
) -> tuple[Profile, Plan]:
    """Measure the sample (unless its ``profile`` is given) and plan the release: what
    ``make_cable`` (and the workers, which inherit it) draw from."""
    profile = profile or measure(sample)
    plan = make_plan(profile, n, seed)
    _STATE.update(profile=profile, plan=plan, out=out, seed=seed)
    return profile, plan


def generate(
    n: int, out: Path, seed: int, sample: Path, workers: int, profile: Profile | None = None
) -> dict[str, Any]:
    """Write the corpus and its mapping; returns what was generated, with timings."""
    started = time.perf_counter()
    profile, _ = prepare(sample, n, seed, out, profile)
    profiled = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    records_path, meta_path = sources_paths(out)
    tasks = [(a, min(a + TASK_CABLES, n)) for a in range(0, n, TASK_CABLES)]
    totals: Counter[str] = Counter()
    last = time.perf_counter()
    with open(records_path, "wb") as sink:
        for (start, _), counts in zip(tasks, _run(tasks, workers), strict=True):
            totals.update(counts)
            part = _part(out, start)
            with open(part, "rb") as piece:
                shutil.copyfileobj(piece, sink)
            part.unlink()
            if time.perf_counter() - last > 10:
                last = time.perf_counter()
                rate = totals["cables"] / (last - started - profiled)
                print(f"  {totals['cables']:,}/{n:,} cables, {rate:,.0f}/s", file=sys.stderr)
    seconds = time.perf_counter() - started
    report = _report(profile, totals, n, seed, sample, seconds, profiled)
    timings = ("seconds", "profile_seconds", "cables_per_second")
    kept = {k: v for k, v in report.items() if k not in timings}  # the file is deterministic
    meta_path.write_text(json.dumps({**kept, "views": profile.views}))
    return report


def _run(tasks: list[tuple[int, int]], workers: int) -> Any:
    if workers <= 1:
        return map(work, tasks)
    pool = multiprocessing.get_context("fork").Pool(workers)  # inherits _STATE
    return _closing(pool, pool.imap(work, tasks))


def _closing(pool: Any, results: Any) -> Any:
    try:
        yield from results
    finally:
        pool.close()
        pool.join()


def _report(
    profile: Profile,
    totals: Counter[str],
    n: int,
    seed: int,
    sample: Path,
    seconds: float,
    profiled: float,
) -> dict[str, Any]:
    """What was generated, next to the sample's rates, so a reader can compare them."""
    cables = max(1, totals["cables"])
    return {
        "format": FORMAT,
        "cables": totals["cables"],
        "seed": seed,
        "sample": str(sample),
        "records": totals["views"],
        "record_dtype": SOURCES_DTYPE.descr,
        "seconds": round(seconds, 2),
        "profile_seconds": round(profiled, 2),
        "cables_per_second": round(totals["cables"] / max(1e-9, seconds - profiled), 1),
        "bytes": totals["bytes"],
        "generated": {
            **{k: v for k, v in sorted(totals.items())},
            "rates": {
                "no_anchor": round(totals["no_anchor"] / cables, 4),
                "unnumbered": round(totals["unnumbered"] / cables, 4),
                "refs": round(totals["with_refs"] / cables, 4),
                "passages_per_cable": round(totals["passages"] / cables, 2),
                "views_per_cable": round(totals["views"] / cables, 2),
            },
        },
        "profile": summary(profile),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cables", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample", type=Path, default=CORPUS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        if not args.force:
            parser.error(f"{args.out} is not empty (--force replaces it)")
        shutil.rmtree(args.out)
    need = args.cables * 52_000
    free = shutil.disk_usage(args.out.parent if args.out.parent.exists() else Path(".")).free
    if need > free:
        parser.error(f"~{need / 2**30:.1f} GiB needed, {free / 2**30:.1f} GiB free")
    report = generate(args.cables, args.out, args.seed, args.sample, args.workers)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
