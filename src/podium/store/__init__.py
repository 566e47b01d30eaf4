"""Where runs, attempts, events, logs and trigger state are kept: SQLite or PostgreSQL."""

from podium.store.database import Database, Tx, open_database

__all__ = ["Database", "Tx", "open_database"]
