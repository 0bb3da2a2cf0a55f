"""Questions → ranked, cited passages: dense, lexical and hybrid search over one index.

Modules, one concern each: ``query`` (the question normalised once, with the cable IDs
it names), ``lexical`` (BM25 over SQLite FTS5), ``rank`` (the pure ranking rules: fusion,
the dense prior, the summary and cable-ID rules), ``hydrate`` (ranked ids → hits, in one
query) and ``searcher`` (the ``Searcher``: an index's read side and the ask pipeline).

Nothing is imported here, so the TUI can use ``qa.search.query`` before its first paint
without loading numpy or the store: import from the modules
(``from qa.search.searcher import Searcher``).
"""
