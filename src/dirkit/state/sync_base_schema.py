"""The sync base's table (migrations 0300-0399): one row per pair of trees and path."""

from __future__ import annotations

from dirkit.state.migrations import Migration

SYNC_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0300_sync_base",
        """
        CREATE TABLE sync_base (
            pair TEXT NOT NULL,
            key BLOB NOT NULL,
            kind TEXT NOT NULL,
            size INTEGER NOT NULL,
            first_mtime INTEGER,
            first_mode INTEGER NOT NULL,
            second_mtime INTEGER,
            second_mode INTEGER NOT NULL,
            target BLOB,
            digest TEXT,
            PRIMARY KEY (pair, key)
        ) WITHOUT ROWID;
        """,
    ),
)
"""Names 0300-0399: two-way sync bases. Columns first_*/second_* follow the pair's key order."""
