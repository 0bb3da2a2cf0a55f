"""SQLite, the source of truth: documents, passages, the FTS index, embeddings, manifest.

Everything a reader needs to trust a citation lives here; the FAISS file is derived from
the ``embeddings`` table and can always be rebuilt from it. The database runs in WAL mode
so readers (``qa ask``, the TUI) see the last committed generation while ``qa index``
writes the next one.

Modules, one concern each: ``schema`` (numbered migrations), ``connection`` (open,
identity, SQLite errors as ``QAError``), ``sql`` (transactions, ``IN`` lists), ``manifest``
(the typed ``Manifest``), ``documents`` (rows and filter SQL), ``fulltext`` (the FTS5
index, fed by the writer), ``lexicon`` (BM25 document frequencies), ``removals``
(passages whose vectors older vector files still hold), ``codec`` (int8 and 4-bit
vectors with a scale: what the cache stores) and ``cache`` (embeddings and sentence
vectors). Callers use the names below:
``from qa import store; store.connect(...)``.
"""

from __future__ import annotations

from qa.store.cache import (
    EMBEDDING_ERROR,
    NORM_TOLERANCE,
    cached_dim,
    cached_dims,
    cached_hashes,
    cached_sentence_keys,
    drop_embeddings,
    drop_embeddings_not_of_dim,
    drop_sentence_vectors_not_of_dim,
    get_embeddings,
    get_sentence_vectors,
    iter_embeddings,
    put_embeddings,
    put_sentence_vectors,
    unit_rows,
    unsound_embeddings,
)
from qa.store.connection import connect, set_aside, verify
from qa.store.documents import (
    PASSAGE_TEXT,
    StoredFile,
    all_view_hashes,
    citing,
    counts,
    delete_all_documents,
    delete_documents,
    doc_ids_in_use,
    file_hashes,
    filter_sql,
    filtered_passage_ids,
    get_document,
    hit_rows,
    indexed_doc_ids,
    insert_document,
    passage_ids_of,
    passage_leads,
    record_file_stats,
    sample_view_hashes,
    sentence_sources,
)
from qa.store.fulltext import rebuild as rebuild_full_text
from qa.store.lexicon import LEXICON_DRIFT, lexicon_frequencies, lexicon_stale, refresh_lexicon
from qa.store.manifest import UNRECORDED, Manifest, Unrecorded, read_manifest, write_manifest
from qa.store.removals import clear_removed, count_removed, record_removed, removed_passages
from qa.store.sql import snapshot, transaction

__all__ = [
    "EMBEDDING_ERROR",
    "LEXICON_DRIFT",
    "NORM_TOLERANCE",
    "PASSAGE_TEXT",
    "UNRECORDED",
    "Manifest",
    "StoredFile",
    "Unrecorded",
    "all_view_hashes",
    "cached_dim",
    "cached_dims",
    "cached_hashes",
    "cached_sentence_keys",
    "citing",
    "clear_removed",
    "connect",
    "count_removed",
    "counts",
    "delete_all_documents",
    "delete_documents",
    "doc_ids_in_use",
    "drop_embeddings",
    "drop_embeddings_not_of_dim",
    "drop_sentence_vectors_not_of_dim",
    "file_hashes",
    "filter_sql",
    "filtered_passage_ids",
    "get_document",
    "get_embeddings",
    "get_sentence_vectors",
    "hit_rows",
    "indexed_doc_ids",
    "insert_document",
    "iter_embeddings",
    "lexicon_frequencies",
    "lexicon_stale",
    "passage_ids_of",
    "passage_leads",
    "put_embeddings",
    "put_sentence_vectors",
    "read_manifest",
    "rebuild_full_text",
    "record_file_stats",
    "record_removed",
    "refresh_lexicon",
    "removed_passages",
    "sample_view_hashes",
    "sentence_sources",
    "set_aside",
    "snapshot",
    "transaction",
    "unit_rows",
    "unsound_embeddings",
    "verify",
    "write_manifest",
]
