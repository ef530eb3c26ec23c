"""The sync tables (migrations 0400-0499): the base, one row per pair of trees and path; runs of syncs."""

from __future__ import annotations

from dirkit.state.migrations import Migration

SYNC_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0400_sync_base",
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
    Migration(
        "0401_sync_runs",
        """
        CREATE TABLE sync_runs (
            run_id TEXT PRIMARY KEY,
            sync_id TEXT NOT NULL,
            pair TEXT NOT NULL
        );
        CREATE INDEX sync_runs_by_sync ON sync_runs (sync_id);
        CREATE TABLE sync_saved_base (
            sync_id TEXT NOT NULL,
            pair TEXT NOT NULL,
            key BLOB NOT NULL,
            present INTEGER NOT NULL,
            kind TEXT,
            size INTEGER,
            first_mtime INTEGER,
            first_mode INTEGER,
            second_mtime INTEGER,
            second_mode INTEGER,
            target BLOB,
            digest TEXT,
            PRIMARY KEY (sync_id, key)
        ) WITHOUT ROWID;
        """,
    ),
)
"""Names 0400-0499: two-way sync bases (columns first_*/second_* follow the pair's key order), the runs
of each sync (one per side that had steps), and the base rows a sync replaced, for undo."""
