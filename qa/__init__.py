"""Pilcrow core: ingest, chunk, embed, store, retrieve and evaluate. Never imports the UI."""

__version__ = "0.1.0"
