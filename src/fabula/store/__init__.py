"""Storage: every work, its candidates and provenance, in SQLite (default) or PostgreSQL by URL.

Import `fabula.store.works.WorkStore`; this package imports nothing itself so the CLI stays fast.
"""
