"""Document and passage rows: what change detection, search and citations read.

A passage row keeps its label and character offsets into the document body; its text is
not stored a second time (schema 6) but read as ``body[start:end]``: ``PASSAGE_TEXT`` in
SQL, where ``substr`` counts characters as Python's ``str`` indexing counts code points
(bodies never hold NUL, where SQLite's text functions would stop). The citation is
exact by construction; ``text_hash`` (the hash of the text when it was indexed) still
tells a passage whose body or offsets changed since (``qa index --check``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np

from qa.models import DocKind, Document, Filters, Passage, Reference, StoredPassage
from qa.store import fulltext
from qa.store.fulltext import PASSAGE_TEXT as PASSAGE_TEXT  # a passage's text, in SQL
from qa.store.sql import rows_in_chunks, run_in_chunks
from qa.views import clean

LEAD_CHARS = 80  # of a passage's search text, what ``passage_leads`` gives


class StoredFile(NamedTuple):
    """What change detection knows of an indexed source file."""

    row_id: int
    doc_id: str
    file_hash: str
    file_stat: str  # size:mtime:ctime:inode when last hashed; '' = unknown: hash it


def file_hashes(db: sqlite3.Connection) -> dict[str, StoredFile]:
    """``source -> StoredFile`` for change detection.

    Read as plain tuples in one call: every run reads every row (250k at the release),
    and ``sqlite3.Row`` objects with by-name access cost 2.5 s of a 12 s no-op there.
    """
    cursor = db.cursor()
    cursor.row_factory = None
    rows = cursor.execute(
        "SELECT source, id, doc_id, file_hash, file_stat FROM documents"
    ).fetchall()
    return {
        source: StoredFile(row_id, doc_id, digest, stat)
        for source, row_id, doc_id, digest, stat in rows
    }


def record_file_stats(db: sqlite3.Connection, stats: dict[int, str]) -> None:
    """Remember the stat of files whose content was hashed unchanged (``touch``-ed)."""
    db.executemany(
        "UPDATE documents SET file_stat = ? WHERE id = ?",
        [(stat, row_id) for row_id, stat in stats.items()],
    )


def doc_ids_in_use(
    db: sqlite3.Connection, doc_ids: Sequence[str], *, except_rows: Sequence[int] = ()
) -> set[str]:
    """Which of ``doc_ids`` stored documents hold, other than the rows ``except_rows``."""
    skip = set(except_rows)
    return {
        doc_id
        for row_id, doc_id in rows_in_chunks(
            db, "SELECT id, doc_id FROM documents WHERE doc_id IN ({marks})", doc_ids
        )
        if row_id not in skip
    }


def passage_ids_of(db: sqlite3.Connection, document_ids: Sequence[int]) -> list[int]:
    """The passage ids of the given document rows."""
    sql = "SELECT id FROM passages WHERE document_id IN ({marks})"
    return [row[0] for row in rows_in_chunks(db, sql, document_ids)]


def delete_documents(db: sqlite3.Connection, document_ids: Sequence[int]) -> None:
    """Delete document rows, their passages (and their full-text entries) and REF items."""
    damaged = fulltext.forget_documents(db, document_ids)
    run_in_chunks(db, "DELETE FROM passages WHERE document_id IN ({marks})", document_ids)
    run_in_chunks(db, "DELETE FROM refs WHERE document_id IN ({marks})", document_ids)
    run_in_chunks(db, "DELETE FROM documents WHERE id IN ({marks})", document_ids)
    if damaged:  # a passage's indexed tokens were unknown: re-feed what stays
        fulltext.rebuild(db)


def delete_all_documents(db: sqlite3.Connection) -> None:
    """Delete every document, passage and REF item (a rebuild starts from none)."""
    fulltext.clear(db)
    db.execute("DELETE FROM passages")
    db.execute("DELETE FROM refs")
    db.execute("DELETE FROM documents")


def insert_document(
    db: sqlite3.Connection,
    doc: Document,
    file_hash: str,
    passages: Sequence[StoredPassage],
    file_stat: str = "",
) -> list[int]:
    """Insert one document and its passages; returns the new passage ids in order.

    Raises ValueError for a passage that is not its slice of the body (or a body with a
    NUL): its text is read back from the body, so that must hold (ingest ensures it).
    """
    _check_slices(doc, passages)
    cur = db.execute(
        "INSERT INTO documents(doc_id, kind, title, date, origin, classification, tags, source,"
        " file_hash, body, file_stat, classified_by, reasons, declassify_on)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            doc.doc_id,
            doc.kind.value,
            doc.title,
            doc.date,
            doc.origin,
            doc.classification,
            " ".join(doc.tags),
            doc.source,
            file_hash,
            doc.body,
            file_stat,
            doc.classified_by,
            doc.reasons,
            doc.declassify_on,
        ),
    )
    document_id = cur.lastrowid
    db.executemany(
        "INSERT INTO refs(document_id, seq, letter, target_doc_id, raw) VALUES (?,?,?,?,?)",
        [(document_id, seq, r.letter, r.target, r.raw) for seq, r in enumerate(doc.references)],
    )
    assert document_id is not None
    return _insert_passages(db, document_id, passages)


def _insert_passages(
    db: sqlite3.Connection, document_id: int, passages: Sequence[StoredPassage]
) -> list[int]:
    """Insert a document's passage rows (text not stored: it is the body's slice);
    returns their new ids in order, each indexed for full-text search."""
    ids: list[int] = []
    for seq, sp in enumerate(passages):
        p = sp.passage
        cur = db.execute(
            'INSERT INTO passages(document_id, seq, label, paragraph, heading, start, "end",'
            " text_hash, context, view_hashes, paragraph_class)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                document_id,
                seq,
                p.label,
                p.paragraph,
                p.heading,
                p.start,
                p.end,
                sp.text_hash,
                sp.context,
                " ".join(sp.view_hashes),
                p.paragraph_class,
            ),
        )
        assert cur.lastrowid is not None
        ids.append(cur.lastrowid)
    fulltext.add(
        db, [(pid, sp.search_text, sp.context) for pid, sp in zip(ids, passages, strict=True)]
    )
    return ids


def _check_slices(doc: Document, passages: Sequence[StoredPassage]) -> None:
    if "\x00" in doc.body:
        raise ValueError(f"{doc.doc_id}: the body holds a NUL character")
    for sp in passages:
        p = sp.passage
        if not 0 <= p.start <= p.end or doc.body[p.start : p.end] != p.text:
            raise ValueError(f"{doc.doc_id} {p.label}: the text is not body[{p.start}:{p.end}]")


def counts(db: sqlite3.Connection) -> tuple[int, int]:
    """``(documents, passages)``."""
    docs = db.execute("SELECT count(*) FROM documents").fetchone()[0]
    passages = db.execute("SELECT count(*) FROM passages").fetchone()[0]
    return docs, passages


def all_view_hashes(db: sqlite3.Connection) -> Iterator[tuple[int, list[str]]]:
    """``(passage id, hashes of its embedded views)`` for every passage, by id."""
    for row in db.execute("SELECT id, view_hashes FROM passages ORDER BY id"):
        yield row[0], row[1].split()


def sentence_sources(db: sqlite3.Connection) -> Iterator[sqlite3.Row]:
    """What sentence vectors are computed from, for every stored passage."""
    yield from db.execute(
        f"SELECT p.document_id, {PASSAGE_TEXT} AS text, p.heading, d.title,"
        " p.text_hash, p.view_hashes FROM passages p JOIN documents d ON d.id = p.document_id"
        " ORDER BY p.id"
    )


def sample_view_hashes(db: sqlite3.Connection, n: int) -> list[tuple[int, list[str]]]:
    """About ``n`` passages spread evenly over the id range (deterministic).

    One rowid seek per sample, not a scan: at a million passages a scan reads the table.
    """
    top = db.execute("SELECT max(id) FROM passages").fetchone()[0] or 0
    step = max(1, top // max(1, n))
    found: dict[int, list[str]] = {}
    for target in range(step, top + 1, step):
        row = db.execute(
            "SELECT id, view_hashes FROM passages WHERE id >= ? ORDER BY id LIMIT 1", (target,)
        ).fetchone()
        if row is not None:
            found[row[0]] = row[1].split()
        if len(found) >= n:
            break
    return list(found.items())


_DOC_COLUMNS = (
    "doc_id, kind, title, date, origin, classification, tags, source, body,"
    " classified_by, reasons, declassify_on"
)


def _document_from_row(row: sqlite3.Row) -> Document:
    return Document(
        doc_id=row["doc_id"],
        kind=DocKind(row["kind"]),
        title=row["title"],
        body=row["body"],
        source=row["source"],
        date=row["date"],
        origin=row["origin"],
        classification=row["classification"],
        tags=tuple(row["tags"].split()),
        classified_by=row["classified_by"] or "",
        reasons=row["reasons"] or "",
        declassify_on=row["declassify_on"] or "",
    )


def get_document(db: sqlite3.Connection, doc_id: str) -> Document | None:
    """The stored document with its passages and REF items, matching the ID
    case-insensitively."""
    row = db.execute(
        f"SELECT id, {_DOC_COLUMNS} FROM documents WHERE doc_id = ? COLLATE NOCASE", (doc_id,)
    ).fetchone()
    if row is None:
        return None
    doc = _document_from_row(row)
    doc.passages = [
        Passage(
            label=p["label"],
            paragraph=p["paragraph"],
            text=doc.body[p["start"] : p["end"]],
            start=p["start"],
            end=p["end"],
            heading=p["heading"],
            paragraph_class=p["paragraph_class"],
        )
        for p in db.execute(
            'SELECT label, paragraph, start, "end", heading, paragraph_class FROM passages '
            "WHERE document_id = ? ORDER BY seq",
            (row["id"],),
        )
    ]
    doc.references = [
        Reference(r["letter"], r["target_doc_id"], r["raw"])
        for r in db.execute(
            "SELECT letter, target_doc_id, raw FROM refs WHERE document_id = ? ORDER BY seq",
            (row["id"],),
        )
    ]
    return doc


def citing(db: sqlite3.Connection, doc_id: str) -> list[tuple[str, str | None]]:
    """``(doc id, letter)`` of every indexed REF item that names ``doc_id``, by doc id."""
    return [
        (r[0], r[1])
        for r in db.execute(
            "SELECT d.doc_id, r.letter FROM refs r JOIN documents d ON d.id = r.document_id"
            " WHERE r.target_doc_id = ? ORDER BY d.doc_id, r.seq",
            (doc_id,),
        )
    ]


def indexed_doc_ids(db: sqlite3.Connection, doc_ids: Sequence[str]) -> set[str]:
    """Which of ``doc_ids`` (exact) are documents of the index."""
    sql = "SELECT doc_id FROM documents WHERE doc_id IN ({marks})"
    return {row[0] for row in rows_in_chunks(db, sql, list(dict.fromkeys(doc_ids)))}


def hit_rows(db: sqlite3.Connection, passage_ids: Sequence[int]) -> dict[int, sqlite3.Row]:
    """What a hit shows, cites and highlights, by passage id, in one read (one query per
    500 ids): display fields, the text (its slice of the body), and the text and view
    hashes its sentence vectors are keyed by, so a highlight is never computed for
    another version of the text."""
    sql = (
        f"SELECT p.id, p.label, p.paragraph, {PASSAGE_TEXT} AS text, p.heading, p.text_hash,"
        " p.view_hashes, p.paragraph_class, d.doc_id, d.kind, d.title, d.date, d.origin,"
        " d.classification,"
        " d.source, (SELECT count(*) FROM refs r WHERE r.document_id = d.id) AS cites,"
        " (SELECT count(*) FROM refs r WHERE r.target_doc_id = d.doc_id) AS cited_by"
        " FROM passages p JOIN documents d ON d.id = p.document_id WHERE p.id IN ({marks})"
    )
    return {row["id"]: row for row in rows_in_chunks(db, sql, passage_ids)}


def passage_leads(db: sqlite3.Connection, passage_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
    """``id -> (heading, first characters of the search text)``, what ranking rules read."""
    sql = (
        f"SELECT p.id, p.heading, {PASSAGE_TEXT} FROM passages p"
        " JOIN documents d ON d.id = p.document_id WHERE p.id IN ({marks})"
    )
    return {
        row[0]: (row[1], clean(row[2])[:LEAD_CHARS]) for row in rows_in_chunks(db, sql, passage_ids)
    }


def filter_sql(filters: Filters) -> tuple[str, list[object]]:
    """A WHERE fragment over ``documents d`` and ``passages p`` for the given filters
    (``1`` when none)."""
    clauses: list[str] = []
    params: list[object] = []
    if filters.origin:
        clauses.append("d.origin LIKE ?")
        params.append(f"%{filters.origin}%")
    if filters.since:
        clauses.append("d.date >= ?")
        params.append(filters.since)
    if filters.until:
        clauses.append("substr(d.date, 1, 10) <= ?")
        params.append(filters.until)
    if filters.classification:
        clauses.append("d.classification LIKE ?")
        params.append(f"{filters.classification}%")
    if filters.paragraph_class:
        # Any run of the marking's //-parts: SECRET matches SECRET//NOFORN (not TOP
        # SECRET), NOFORN matches every NOFORN paragraph. The value is in the normal form
        # already (``FilterField.value`` read ``S/NF`` as SECRET//NOFORN where it was given).
        clauses.append("('//' || p.paragraph_class || '//') LIKE ? ESCAPE '\\'")
        value = filters.paragraph_class
        escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(f"%//{escaped}//%")
    if filters.tag:
        clauses.append("(' ' || d.tags || ' ') LIKE ?")
        params.append(f"% {filters.tag.upper()} %")
    if filters.doc_id:
        clauses.append("d.doc_id = ? COLLATE NOCASE")
        params.append(filters.doc_id)
    return (" AND ".join(clauses) or "1"), params


def filtered_passage_ids(db: sqlite3.Connection, filters: Filters) -> np.ndarray:
    """Ids of the passages of documents that pass ``filters`` (for filtered search)."""
    where, params = filter_sql(filters)
    rows = db.execute(
        f"SELECT p.id FROM passages p JOIN documents d ON d.id = p.document_id WHERE {where}",
        params,
    ).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
