"""Storage: every work, its candidates and provenance, in SQLite (default) or PostgreSQL by URL."""

from fabula.store.db import open_engine
from fabula.store.works import WorkStore

__all__ = ["WorkStore", "open_engine"]
