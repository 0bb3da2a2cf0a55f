"""The one rule for trusting the committed vector file, used by every reader of it.

``qa ask`` and the TUI (``open_for_search``), ``qa index`` before it reuses the file
(``open_verified``) and ``qa index --check`` (``open_committed`` and
``check_against_cache``) all ask the same questions in the same order, and say the same
thing when the answer is no: the file is there, FAISS can read it, it is ours, of the
manifest's dimension and size, its vectors are unit length and as many as the manifest
says; deeper checks compare a sample with the embedding cache. Both layouts of the file
(float16 codes, and the previous version's float32) pass the same checks, with
tolerances set by float16's precision (``qa.vectors.flat``). Any fault raises
``VectorFileDamaged``, which names the file, what is wrong and the fix.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import stat
from pathlib import Path

import numpy as np

from qa import store
from qa.errors import IndexDamagedError, IndexUnreadableError, QAError
from qa.fsutil import file_stat
from qa.locations import vectors_path
from qa.store import Manifest
from qa.vectors import ivf
from qa.vectors.base import WINDOWS, VectorIndex, passage_of, vector_id
from qa.vectors.basefile import BaseFile
from qa.vectors.flat import COMPONENT_ERROR, FlatIndex
from qa.vectors.segments import SegmentedIndex, Segments

log = logging.getLogger(__name__)

REPAIR = "run `qa index` to rebuild it from the embedding cache, or `qa index --rebuild`"
REBUILD = "rebuild with `qa index --rebuild`"
# A stored vector and its cached embedding agree to this, per component: the file holds
# the cache's vectors as read back, rounded to float16 (``flat.COMPONENT_ERROR``, ~4.9e-4:
# 11 significant bits; a file of the previous layout holds them exactly), and the cache
# may have been re-encoded since the file was written (the previous version's float32
# cache read back through the store's int8 codec: ``store.EMBEDDING_ERROR``). Another
# model's or another index's vectors differ by ~0.05 per component, garbage by far more.
VECTOR_TOLERANCE = COMPONENT_ERROR + store.EMBEDDING_ERROR
MISSING = " is missing"
ANN_CHECK_SAMPLE = 8  # cached embeddings that must find themselves in an approximate index
_VECTOR_NAME = re.compile(r"vectors-\d{6}(\.delta)?\.faiss")  # what a manifest may name


class VectorFileDamaged(IndexDamagedError):
    """A vector file that cannot be trusted: ``str()`` is ``<path><what>; <fix>``."""

    def __init__(
        self,
        path: Path,
        what: str,
        fix: str = REPAIR,
        *,
        found: int | None = None,
        doubts_cache: bool = False,
    ) -> None:
        super().__init__(f"{path}{what}; {fix}")
        self.path = path
        self.what = what
        self.found = found  # vectors the file holds, when the fault is their number
        # The file and the embedding cache disagree: either may be the damaged one, so
        # the cache must be checked before the file is rebuilt from it.
        self.doubts_cache = doubts_cache

    @property
    def fault(self) -> str:
        """The fault alone, by file name (``vectors-000001.faiss is missing``)."""
        return f"{self.path.name}{self.what}"


def committed_path(index_dir: Path, manifest: Manifest) -> Path:
    """The base vector file: the one the manifest names (written by the generation that
    last rewrote it), or, for a manifest that names none of ours, its generation's."""
    if _VECTOR_NAME.fullmatch(manifest.vectors) and ".delta" not in manifest.vectors:
        return index_dir / manifest.vectors
    return vectors_path(index_dir, manifest.generation)


def referenced(index_dir: Path, manifest: Manifest) -> set[Path]:
    """Every file the committed generation's vectors are read from (cleanup keeps them)."""
    base = committed_path(index_dir, manifest)
    deltas = {index_dir / d.name for d in manifest.delta_files}
    return {base, ivf.ann_path(base), *deltas}


def as_committed(index_dir: Path, manifest: Manifest) -> bool:
    """Every vector file's stat is the one recorded at commit (any write changes it): a
    no-op ``qa index``, and a commit that only adds a delta, trust them without reading."""
    recorded = [(committed_path(index_dir, manifest), manifest.vector_stat)]
    recorded += [(index_dir / d.name, d.stat) for d in manifest.delta_files]
    for path, stat_text in recorded:
        try:
            info = path.stat()
        except OSError:
            return False
        if not stat_text or stat_text != file_stat(info):
            return False
    return True


def open_committed(index_dir: Path, manifest: Manifest) -> FlatIndex:
    """The committed generation's base vector file, checked as this module describes."""
    return open_checked(
        committed_path(index_dir, manifest),
        manifest.dim,
        count=manifest.vector_count,
        size=manifest.vector_bytes,
    )


def open_deltas(index_dir: Path, manifest: Manifest) -> list[FlatIndex]:
    """The committed delta files, oldest first, each checked as the base is."""
    out = []
    for delta in manifest.delta_files:
        path = index_dir / delta.name
        if not _VECTOR_NAME.fullmatch(delta.name):
            raise VectorFileDamaged(path, ": not a vector file name the indexer writes")
        out.append(open_checked(path, manifest.dim, count=delta.count, size=delta.size))
    return out


def removed_of(db: sqlite3.Connection, index_dir: Path, manifest: Manifest) -> np.ndarray:
    """The passages removed since the base, as recorded with ``manifest``'s generation.

    Read in one snapshot with the manifest's generation: a writer that committed since
    the caller read ``manifest`` makes this raise as a vanished file does (a reader then
    moves to the newer generation); a list of another length than the manifest's is damage.
    """
    with store.snapshot(db):
        now = store.read_manifest(db)
        removed = store.removed_passages(db)
    path = committed_path(index_dir, manifest)
    if now.generation and now.generation != manifest.generation:
        raise VectorFileDamaged(path, MISSING)  # a newer generation: read that one
    if len(removed) != manifest.removed_passages:
        what = f": {len(removed)} passages are listed as removed, the manifest says "
        raise VectorFileDamaged(path, what + str(manifest.removed_passages), REBUILD)
    return removed


def open_segments(db: sqlite3.Connection, index_dir: Path, manifest: Manifest) -> Segments:
    """The base file (read in place), the deltas and the removed passages of the
    committed generation, each checked (no comparison with the cache:
    ``check_against_cache``)."""
    base = open_base_checked(
        committed_path(index_dir, manifest),
        manifest.dim,
        count=manifest.vector_count,
        size=manifest.vector_bytes,
    )
    return Segments(base, open_deltas(index_dir, manifest), removed_of(db, index_dir, manifest))


def open_checked(
    path: Path, dim: int, *, count: int | None = None, size: int | None = None
) -> FlatIndex:
    """A vector file loaded into FAISS (to be searched), checked in order: present,
    readable, ours, ``dim``-dimensional, ``size`` bytes and ``count`` vectors (when
    given), every vector unit length, no id repeated.

    A file FAISS cannot read whose size differs from the recorded one is reported as
    truncated by its size, the clearer of the two messages.
    """
    actual = _present(path)
    index = _load(path, actual, size)
    _check_loaded(path, index, dim, count=count, size=size, actual=actual)
    return index


def open_base_checked(
    path: Path, dim: int, *, count: int | None = None, size: int | None = None
) -> BaseFile | FlatIndex:
    """``open_checked`` for a reader that does not search: a file of the current layout
    is read in place (``BaseFile``, a block at a time, so a 3 GB base is never in memory);
    one of the previous layout, or one it cannot parse, goes through FAISS as there."""
    actual = _present(path)
    base = BaseFile.open(path)
    index = base if base is not None else _load(path, actual, size)
    _check_loaded(path, index, dim, count=count, size=size, actual=actual)
    return index


def _present(path: Path) -> int:
    """The size of the file at ``path``, which this user can open (else VectorFileDamaged)."""
    _require_file(path)
    try:
        return path.stat().st_size
    except FileNotFoundError as exc:  # cleaned up by a writer since _require_file
        raise VectorFileDamaged(path, MISSING) from exc


def _size_fault(actual: int, size: int | None) -> str:
    return (
        f": vector file is damaged ({actual} bytes, the manifest says {size}:"
        " truncated or overwritten)"
    )


def _load(path: Path, actual: int, size: int | None) -> FlatIndex:
    """The file read by FAISS, or VectorFileDamaged saying why it cannot be."""
    try:
        return FlatIndex.open(path)
    except Exception as exc:
        log.debug("reading %s: %s", path, exc)
        if not path.exists():  # removed while FAISS read it, not damaged
            raise VectorFileDamaged(path, MISSING) from exc
        if size is not None and actual != size:  # the recorded size says what happened
            raise VectorFileDamaged(path, _size_fault(actual, size)) from exc
        raise VectorFileDamaged(
            path, ": vector file is damaged (truncated or not a FAISS file)"
        ) from exc


def _check_loaded(
    path: Path,
    index: BaseFile | FlatIndex,
    dim: int,
    *,
    count: int | None,
    size: int | None,
    actual: int,
) -> None:
    """The checks after reading, in order (``open_checked``)."""
    if isinstance(index, FlatIndex) and not index.is_pilcrow():
        kind = type(index.native).__name__
        raise VectorFileDamaged(path, f": not a Pilcrow vector file ({kind})")
    if index.dim != dim:
        what = f": vectors have dimension {index.dim}, the manifest says {dim}"
        raise VectorFileDamaged(path, what, REBUILD)
    if size is not None and actual != size:
        raise VectorFileDamaged(path, _size_fault(actual, size))
    bad = index.not_unit_length()
    if bad:
        what = f": vector file is damaged ({bad} of {index.count} vectors are not unit length)"
        raise VectorFileDamaged(path, what)
    bad_ids = _bad_ids(index)
    if bad_ids:
        what = f": vector file is damaged ({bad_ids} of {index.count} vector ids are repeated"
        raise VectorFileDamaged(path, what + " or invalid)")
    if count is not None and index.count != count:
        what = f" holds {index.count} vectors, the manifest says {count}"
        raise VectorFileDamaged(path, what, found=index.count)


def _bad_ids(index: BaseFile | FlatIndex) -> int:
    """How many vector ids no commit writes: repeated, or of no passage (ids start at
    one passage's worth of windows). The ids are the file's tail, so zeroed or
    overwritten last bytes show here while every vector is still unit length."""
    ids = index.ids()
    if not len(ids):
        return 0
    unique = np.unique(ids)
    return int(len(ids) - len(unique) + np.count_nonzero(unique < WINDOWS))


def _require_file(path: Path) -> None:
    """VectorFileDamaged unless ``path`` is a file this user can open; a file that goes
    between the checks (a writer committing parts cleans up behind it) is missing, the
    fault the reader's retry on the newer manifest is for, never a raw OSError."""
    if not path.exists():
        raise VectorFileDamaged(path, MISSING)
    if not path.is_file():
        raise VectorFileDamaged(path, " is not a file")
    try:
        path.open("rb").close()
    except FileNotFoundError as exc:
        raise VectorFileDamaged(path, MISSING) from exc
    except PermissionError as exc:  # another user's file, say: not damage, and no repair
        try:
            info = path.stat()
        except FileNotFoundError:
            raise VectorFileDamaged(path, MISSING) from exc
        raise IndexUnreadableError(
            f"{path}: permission denied (mode {stat.filemode(info.st_mode)}, owner uid "
            f"{info.st_uid}); make it readable to this user (`chmod a+r`) or run as its owner"
        ) from exc


def check_against_cache(
    db: sqlite3.Connection,
    index: FlatIndex | Segments,
    path: Path,
    model: str,
    sample: list[tuple[int, list[str]]],
) -> None:
    """Raise VectorFileDamaged unless the stored vectors of ``sample`` passages (id, view
    hashes) equal their cached embeddings.

    Catches a vector file that is whole and unit-length but holds other vectors (copied
    from another index, written by another model): what no cheaper check can see; and
    one that lacks some passages' windows. A sampled cache entry that is not a unit
    vector is the cache's damage, not the file's: it is not compared, and raises with
    ``doubts_cache`` (as differing vectors do), so ``qa index`` repairs the cache before
    it trusts it. Windows missing from the cache are not compared. The fix for differing
    vectors is ``--rebuild``, which re-embeds a sample to tell which side is wrong (a
    no-op ``qa index`` trusts a file as committed without reading it). Raises
    IndexDamagedError (not repairable) for cached vectors of another dimension.
    """
    cache = store.get_embeddings(db, model, [h for _, hs in sample for h in hs], index.dim)
    differing = compared = missing = unsound = 0
    for pid, hashes in sample:
        for window, h in enumerate(hashes):
            if h not in cache:
                continue
            if not store.unit_rows(cache[h][None, :])[0]:
                unsound += 1
                continue
            stored = index.vector(vector_id(pid, window))
            if stored is None:
                missing += 1
                continue
            compared += 1
            if not np.allclose(stored, cache[h], atol=VECTOR_TOLERANCE):
                differing += 1
    if unsound:
        what = f": {unsound} sampled embedding cache entries are damaged (not unit length)"
        raise VectorFileDamaged(path, what, REBUILD, doubts_cache=True)
    if missing:
        what = f": {missing} of {missing + compared} sampled passage windows have no vector"
        raise VectorFileDamaged(path, what)
    if differing:
        what = (
            f": {differing} of {compared} sampled vectors differ from the embedding cache"
            " (another model's vectors?)"
        )
        raise VectorFileDamaged(path, what, REBUILD, doubts_cache=True)


def open_verified(
    db: sqlite3.Connection, index_dir: Path, manifest: Manifest, sample: list[tuple[int, list[str]]]
) -> Segments:
    """``open_segments`` plus ``check_against_cache`` for ``sample``: what ``qa index``
    asks before it rewrites the base from them (else it rebuilds it from the cache)."""
    index = open_segments(db, index_dir, manifest)
    check_against_cache(db, index, committed_path(index_dir, manifest), manifest.model, sample)
    return index


def open_for_search(db: sqlite3.Connection, index_dir: Path, manifest: Manifest) -> VectorIndex:
    """What a searcher loads: the approximate sidecar of the base when it can be trusted
    (see ``ivf.trusted_sidecar``), else the base file, checked; with the deltas and the
    removed passages when there are any."""
    path = committed_path(index_dir, manifest)
    _require_file(path)
    deltas = open_deltas(index_dir, manifest)
    removed = removed_of(db, index_dir, manifest)
    base = _search_base(db, index_dir, manifest, deltas, removed)
    if not deltas and not len(removed):
        return base
    return SegmentedIndex(base, deltas, removed)


def _search_base(
    db: sqlite3.Connection,
    index_dir: Path,
    manifest: Manifest,
    deltas: list[FlatIndex],
    removed: np.ndarray,
) -> VectorIndex:
    """The sidecar of the base file when it can be trusted, else the base file."""
    side = ivf.ann_path(committed_path(index_dir, manifest))
    if manifest.ann_bytes is None or not side.exists():  # None: a crash's leftover
        return open_committed(index_dir, manifest)
    elsewhere = np.concatenate([removed, *(np.unique(passage_of(d.ids())) for d in deltas)])
    samples = _sidecar_samples(db, manifest, side, elsewhere)
    if samples is None:
        return open_committed(index_dir, manifest)
    ann_bytes = manifest.ann_bytes if isinstance(manifest.ann_bytes, int) else None
    ann = ivf.trusted_sidecar(side, manifest.dim, manifest.vector_count, ann_bytes, samples)
    return ann if ann is not None else open_committed(index_dir, manifest)


def _sidecar_samples(
    db: sqlite3.Connection, manifest: Manifest, side: Path, elsewhere: np.ndarray
) -> list[tuple[int, np.ndarray]] | None:
    """``(vector id, cached embedding)`` of a few first windows of passages the base holds
    (not those added in a delta or removed since: ``elsewhere``), or None when the cache
    cannot be read (any doubt about the sidecar means exact search)."""
    try:
        sample = store.sample_view_hashes(db, ANN_CHECK_SAMPLE)
        sample = [(pid, hs) for pid, hs in sample if hs and not np.isin(pid, elsewhere)]
        firsts = [hs[0] for _, hs in sample]
        cache = store.get_embeddings(db, manifest.model, firsts, manifest.dim)
    except (QAError, ValueError) as exc:
        log.warning("cannot check %s (%s); searching exactly", side, exc)
        return None
    return [(vector_id(pid, 0), cache[hs[0]]) for pid, hs in sample if hs[0] in cache]
