"""The journal's tables (migrations 0100-0199): runs, their plans, and how each step ended."""

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
            summary TEXT NOT NULL DEFAULT '{}',
            actions TEXT NOT NULL DEFAULT '[]',
            started_through INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX runs_by_target ON runs (target, run_id);
        CREATE TABLE step_marks (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            status TEXT NOT NULL,
            seqs TEXT NOT NULL
        );
        CREATE INDEX step_marks_by_run ON step_marks (run_id);
        CREATE TABLE step_notes (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            status TEXT NOT NULL,
            error TEXT,
            PRIMARY KEY (run_id, seq)
        ) WITHOUT ROWID;
        """,
    ),
    Migration(
        "0101_run_action_chunks",
        """
        CREATE TABLE run_action_chunks (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            chunk INTEGER NOT NULL,
            actions TEXT NOT NULL,
            PRIMARY KEY (run_id, chunk)
        ) WITHOUT ROWID;
        """,
    ),
    Migration(
        "0102_tree_identity_and_locks",
        """
        ALTER TABLE runs ADD COLUMN tree TEXT;
        ALTER TABLE runs ADD COLUMN tree_path TEXT;
        CREATE INDEX runs_by_tree ON runs (tree, run_id);
        CREATE INDEX runs_by_tree_path ON runs (tree_path, run_id);
        CREATE TABLE tree_locks (
            tree TEXT PRIMARY KEY,
            tree_path TEXT NOT NULL,
            run_id TEXT NOT NULL,
            operation TEXT NOT NULL,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            started_at TEXT NOT NULL
        );
        """,
    ),
    Migration(
        "0103_run_started_through",
        """
        CREATE TABLE run_starts (
            run_id TEXT PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
            started_through INTEGER NOT NULL
        ) WITHOUT ROWID;
        """,
    ),
    Migration(
        "0104_run_plan_chunks",
        """
        CREATE TABLE run_plan_chunks (
            run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
            chunk INTEGER NOT NULL,
            actions TEXT NOT NULL,
            PRIMARY KEY (run_id, chunk)
        ) WITHOUT ROWID;
        """,
    ),
)
"""Names 0100-0199: run journals (mirror, apply, undo and every feature that executes plans).

A run's actions are stored once, when it starts. Before a batch of steps starts, started_through
moves past it (so those steps count as possibly done); after steps end, their seqs are appended to
step_marks by status in one row per batch, and failures get a step_notes row with the error.
A run that learns its steps as it goes (unpack) appends them in run_action_chunks (a backup before
it happens, new paths in batches after); they count as started and follow the started actions of runs.
Runs are keyed by the identity of their tree (tree: 'local:DEV:INO' or a URL; tree_path: the real
path), not by how the user spelled it; rows from before 0102 get theirs when first looked up.
tree_locks holds the run that holds a tree's OS lock (a file in the state folder's locks/), so a
refused second run can name it.
Since 0103 a run's started_through lives in run_starts, a row of its own: moving it no longer rewrites
the runs row with its stored actions (megabytes for a large plan); runs.started_through keeps the
value of runs recorded before 0103, and the larger of the two counts.
Since 0104 a run's plan is stored in pieces (PLAN_CHUNK_ACTIONS actions each, state/journal.py) in
run_plan_chunks, written in the transaction that records the run, so a plan of 100k actions never
sits in memory as one JSON string; runs.actions stays '[]' for such runs and still holds the whole
plan of runs recorded before 0104: a run's plan is runs.actions followed by its run_plan_chunks.
"""
