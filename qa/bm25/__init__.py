"""BM25 at the release's scale: a tantivy index kept in step with the SQLite store.

``engine`` is the index (schema, state, build, incremental commits, crash recovery);
``qa.index.bm25`` decides when a run keeps it, ``qa.search.tantivy_lexical`` searches it.
FTS5 stays the engine of every index and the answer whenever tantivy is not in step.
"""

from __future__ import annotations

import importlib.util


def available() -> bool:
    """Whether tantivy can be imported here (checked without importing it)."""
    return importlib.util.find_spec("tantivy") is not None
