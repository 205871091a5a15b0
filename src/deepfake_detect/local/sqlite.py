"""How every local SQLite file is opened: one connection shared by the service's threads (each
store serialises its own use with a lock), autocommit, and write-ahead logging so readers in other
processes (the CLI, a report) are not blocked by a write."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_sqlite(path: Path) -> sqlite3.Connection:
    """Opens (creating it and its folder if needed) the SQLite file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    return db
