"""The journal's tables (migrations 0100-0199): runs, and the steps of each run."""

from __future__ import annotations

from dirkit.state.migrations import Migration

JOURNAL_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0100_runs_and_steps",
        """
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            operation TEXT NOT NULL,
            target TEXT NOT NULL,
            source TEXT,
            backup_dir TEXT NOT NULL,
            status TEXT NOT NULL,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            undoes TEXT,
            totals TEXT NOT NULL DEFAULT '{}',
            summary TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX runs_by_target ON runs (target, run_id);
        CREATE TABLE steps (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            action TEXT NOT NULL,
            status TEXT NOT NULL,
            backup_path TEXT,
            result TEXT,
            error TEXT,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID;
        """,
    ),
)
"""Names 0100-0199: run journals (mirror, apply, undo and every feature that executes plans)."""
