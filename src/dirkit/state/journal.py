"""The run journal: every run on a target and every step of it, recorded before and after it happens."""

from __future__ import annotations

import enum
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from dirkit.core.run.compact import actions_from_compact, actions_to_compact
from dirkit.core.run.plan import Action, ActionKind, Fingerprint, JsonValue
from dirkit.core.run.undo import JournalStep, StepStatus
from dirkit.core.tree.paths import RelPath, join_path
from dirkit.errors import BackendError
from dirkit.state.database import connect_memory, connect_state

RUN_COLUMNS = (
    "run_id, operation, target, source, backup_dir, status, pid, host, started_at, finished_at, undoes,"
    " totals, summary"
)
PLAN_CHUNK_ACTIONS = 2048
"""Actions per stored piece of a run's plan (about 300 KB of JSON; migration 0104)."""


class RunStatus(enum.Enum):
    """Where a run stands."""

    RUNNING = "running"
    DONE = "done"
    """Finished; some items may have failed (see the summary)."""
    INTERRUPTED = "interrupted"
    """Stopped by a signal, or found dead after a crash."""
    FAILED = "failed"
    """Stopped by an error before finishing."""


@dataclass(frozen=True, slots=True)
class TreeIdentity:
    """What a tree is, whatever its spelling: a key ('local:DEV:INO', or a URL) and its real path."""

    key: str
    path: str


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as the journal holds it."""

    run_id: str
    operation: str
    target: str
    source: str | None
    backup_dir: RelPath
    status: RunStatus
    pid: int
    host: str
    started_at: str
    finished_at: str | None
    undoes: str | None
    totals: dict[str, JsonValue]
    summary: dict[str, JsonValue]


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """How one step ended, to record after it happened."""

    seq: int
    status: StepStatus
    result: Fingerprint | None = None
    error: str | None = None


def _text(value: str) -> str:
    """Return a string as JSON text, so paths with undecodable bytes survive SQLite's UTF-8."""
    return json.dumps(value)


def _untext(value: str | None) -> str | None:
    return None if value is None else str(json.loads(value))


class Journal:
    """Reads and writes runs and steps in the state database."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    @classmethod
    def open(cls, folder: str | None = None) -> Journal:
        """Return the journal of the state database in folder (the user's state folder by default)."""
        return cls(connect_state(folder))

    @classmethod
    def open_in_memory(cls) -> Journal:
        """Return a journal kept in memory only, for a run nobody undoes later (an unpack's roll-back)."""
        return cls(connect_memory())

    def close(self) -> None:
        """Close the database connection."""
        self.connection.close()

    @property
    def folder(self) -> str:
        """Return the state folder that holds the database."""
        for _, name, file in self.connection.execute("PRAGMA database_list"):
            if name == "main" and file:
                return os.path.dirname(str(file))
        raise BackendError(0, "the state database has no folder (in memory)", "state database")

    def _write(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        try:
            with self.connection:
                self.connection.executemany(sql, rows)
        except sqlite3.Error as error:
            raise BackendError(0, f"cannot write the run journal: {error}", "state database") from error

    def start_run(
        self,
        run_id: str,
        operation: str,
        target: str,
        source: str | None,
        backup_dir: RelPath,
        pid: int,
        host: str,
        started_at: str,
        totals: dict[str, JsonValue],
        undoes: str | None = None,
        actions: Sequence[Action] = (),
    ) -> None:
        """Record that a run starts, with every action it is about to take (none started yet).

        The actions are written in pieces of PLAN_CHUNK_ACTIONS in the same transaction, so memory
        holds one piece's JSON at a time. A run that holds its tree's lock (tree_lock) is keyed by
        the tree identity of the lock.
        """
        try:
            with self.connection:
                self.connection.execute(
                    "INSERT INTO runs (run_id, operation, target, source, backup_dir, status, pid, host,"
                    " started_at, undoes, totals, tree, tree_path)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                    " (SELECT tree FROM tree_locks WHERE run_id = ?1),"
                    " (SELECT tree_path FROM tree_locks WHERE run_id = ?1))",
                    (
                        run_id,
                        operation,
                        _text(target),
                        None if source is None else _text(source),
                        _text(backup_dir),
                        RunStatus.RUNNING.value,
                        pid,
                        host,
                        started_at,
                        undoes,
                        json.dumps(totals),
                    ),
                )
                self.connection.executemany(
                    "INSERT INTO run_plan_chunks (run_id, chunk, actions) VALUES (?, ?, ?)",
                    _plan_chunks(run_id, actions),
                )
        except sqlite3.Error as error:
            raise BackendError(0, f"cannot write the run journal: {error}", "state database") from error

    def mark_started(self, run_id: str, through: int) -> None:
        """Record that the steps before seq through may start (call before starting them)."""
        self.record_steps(run_id, (), through)

    def record_steps(self, run_id: str, outcomes: Iterable[StepOutcome], started_through: int | None) -> None:
        """Record how steps ended and (when given) that the steps before started_through may start.

        Both are written in one transaction: a batch of outcomes and the next window of starts cost
        one commit.
        """
        by_status: dict[str, list[str]] = {}
        notes: list[tuple[str, int, str, str | None]] = []
        for outcome in outcomes:
            if outcome.error is not None:
                notes.append((run_id, outcome.seq, outcome.status.value, outcome.error))
            else:
                by_status.setdefault(outcome.status.value, []).append(str(outcome.seq))
        try:
            with self.connection:
                self.connection.executemany(
                    "INSERT INTO step_marks (run_id, status, seqs) VALUES (?, ?, ?)",
                    [(run_id, status, ",".join(seqs)) for status, seqs in by_status.items()],
                )
                self.connection.executemany(
                    "INSERT OR REPLACE INTO step_notes (run_id, seq, status, error) VALUES (?, ?, ?, ?)",
                    notes,
                )
                if started_through is not None:
                    self.connection.execute(
                        "INSERT OR REPLACE INTO run_starts (run_id, started_through) VALUES (?, ?)",
                        (run_id, started_through),
                    )
        except sqlite3.Error as error:
            raise BackendError(0, f"cannot write the run journal: {error}", "state database") from error

    def append_actions(self, run_id: str, actions: Sequence[Action]) -> None:
        """Add actions to the end of a run's list, as started (a run that learns its steps as it goes)."""
        if not actions:
            return
        self._write(
            "INSERT INTO run_action_chunks (run_id, chunk, actions) VALUES (?,"
            " (SELECT COALESCE(MAX(chunk) + 1, 0) FROM run_action_chunks WHERE run_id = ?), ?)",
            [(run_id, run_id, actions_to_compact(actions))],
        )

    def finish_steps(self, run_id: str, outcomes: Iterable[StepOutcome]) -> None:
        """Record how steps ended, after they happened: one row per status, a note per failure."""
        self.record_steps(run_id, outcomes, None)

    def finish_run(
        self, run_id: str, status: RunStatus, finished_at: str, summary: dict[str, JsonValue]
    ) -> None:
        """Record that a run ended, and how."""
        self._write(
            "UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE run_id = ?",
            [(status.value, finished_at, json.dumps(summary), run_id)],
        )

    def set_run_status(self, run_id: str, status: RunStatus) -> None:
        """Change the status of a run (a crashed run becomes interrupted)."""
        self._write("UPDATE runs SET status = ? WHERE run_id = ?", [(status.value, run_id)])

    def runs_for_target(self, target: str) -> list[RunRecord]:
        """Return the runs on a target, oldest first."""
        rows = self.connection.execute(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE target = ? ORDER BY run_id", (_text(target),)
        ).fetchall()
        return [_run_from_row(row) for row in rows]

    def runs_for_tree(self, identity: TreeIdentity) -> list[RunRecord]:
        """Return the runs on a tree, by its identity or its real path, oldest first."""
        rows = self.connection.execute(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE tree = ? OR tree_path = ? ORDER BY run_id",
            (identity.key, _text(identity.path)),
        ).fetchall()
        return [_run_from_row(row) for row in rows]

    def unkeyed_targets(self) -> list[str]:
        """Return the targets of runs recorded without a tree identity (before migration 0102)."""
        rows = self.connection.execute("SELECT DISTINCT target FROM runs WHERE tree IS NULL").fetchall()
        return [str(_untext(str(row[0]))) for row in rows]

    def key_runs_of_target(self, target: str, identity: TreeIdentity) -> None:
        """Give the runs recorded without a tree identity on target that identity."""
        self._write(
            "UPDATE runs SET tree = ?, tree_path = ? WHERE tree IS NULL AND target = ?",
            [(identity.key, _text(identity.path), _text(target))],
        )

    def run(self, run_id: str) -> RunRecord | None:
        """Return one run, or None if the journal has no such run."""
        row = self.connection.execute(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)
        ).fetchone()
        return None if row is None else _run_from_row(row)

    def planned_actions(self, run_id: str) -> list[Action]:
        """Return every action of a run, started or not, in order."""
        actions = self._plan(run_id, None)
        for (chunk,) in self.connection.execute(
            "SELECT actions FROM run_action_chunks WHERE run_id = ? ORDER BY chunk", (run_id,)
        ):
            actions.extend(actions_from_compact(chunk))
        return actions

    def _plan(self, run_id: str, limit: int | None) -> list[Action]:
        """Return the first limit actions of a run's plan (all when None): runs.actions, then its pieces."""
        row = self.connection.execute("SELECT actions FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            return []
        actions = actions_from_compact(row[0])
        if limit is not None and len(actions) >= limit:
            return actions[:limit]
        for (chunk,) in self.connection.execute(
            "SELECT actions FROM run_plan_chunks WHERE run_id = ? ORDER BY chunk", (run_id,)
        ):
            actions.extend(actions_from_compact(chunk))
            if limit is not None and len(actions) >= limit:
                return actions[:limit]
        return actions

    def steps(self, run_id: str) -> list[JournalStep]:
        """Return the steps of a run that started, in order; those never reported back are pending."""
        row = self.connection.execute(
            "SELECT MAX(runs.started_through, COALESCE(run_starts.started_through, 0)), backup_dir"
            " FROM runs LEFT JOIN run_starts USING (run_id) WHERE run_id = ?",
            (run_id,),
        ).fetchone()
        if row is None:
            return []
        actions = self._plan(run_id, int(row[0]))
        for (chunk,) in self.connection.execute(
            "SELECT actions FROM run_action_chunks WHERE run_id = ? ORDER BY chunk", (run_id,)
        ):
            actions.extend(actions_from_compact(chunk))
        started_through = len(actions)
        backup_dir = RelPath(str(_untext(row[1])))
        statuses: dict[int, StepStatus] = {}
        for status, seqs in self.connection.execute(
            "SELECT status, seqs FROM step_marks WHERE run_id = ?", (run_id,)
        ):
            kind = StepStatus(status)
            for seq in seqs.split(","):
                if seq:
                    statuses[int(seq)] = kind
        for seq, status in self.connection.execute(
            "SELECT seq, status FROM step_notes WHERE run_id = ?", (run_id,)
        ):
            statuses[int(seq)] = StepStatus(status)
        steps: list[JournalStep] = []
        for seq, action in enumerate(actions[:started_through]):
            backup = join_path(backup_dir, action.path) if action.kind is ActionKind.BACKUP else None
            steps.append(JournalStep(seq, action, statuses.get(seq, StepStatus.PENDING), backup))
        return steps


def _plan_chunks(run_id: str, actions: Sequence[Action]) -> Iterator[tuple[str, int, str]]:
    """Yield the rows of run_plan_chunks for a plan, one piece of PLAN_CHUNK_ACTIONS at a time."""
    for chunk, start in enumerate(range(0, len(actions), PLAN_CHUNK_ACTIONS)):
        yield run_id, chunk, actions_to_compact(actions[start : start + PLAN_CHUNK_ACTIONS])


def _run_from_row(row: Sequence[object]) -> RunRecord:
    (
        run_id,
        operation,
        target,
        source,
        backup_dir,
        status,
        pid,
        host,
        started_at,
        finished_at,
        undoes,
        totals,
        summary,
    ) = row
    return RunRecord(
        run_id=str(run_id),
        operation=str(operation),
        target=str(_untext(str(target))),
        source=_untext(str(source)) if source is not None else None,
        backup_dir=RelPath(str(_untext(str(backup_dir)))),
        status=RunStatus(status),
        pid=int(str(pid)),
        host=str(host),
        started_at=str(started_at),
        finished_at=str(finished_at) if finished_at is not None else None,
        undoes=str(undoes) if undoes is not None else None,
        totals=json.loads(str(totals)),
        summary=json.loads(str(summary)),
    )
