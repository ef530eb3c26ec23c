"""The two-way sync base in the state database, and the journal that keeps it.

A base row per (pair of trees, path) holds what both sides last agreed on. The pair is keyed by the
two trees' identities in a fixed order, so `sync A B` and `sync B A` share one base. SyncJournal
writes a path's new base row in the same transaction that marks the step that brought it done.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence

from dirkit.core.run.plan import Fingerprint
from dirkit.core.run.undo import StepStatus
from dirkit.core.sync.base import BaseEntry, BaseRecord, Side, base_entry_of, record_key
from dirkit.core.sync.plan import BaseChange
from dirkit.core.tree.paths import RelPath
from dirkit.errors import BackendError
from dirkit.state.journal import Journal, StepOutcome


def path_key(path: str) -> bytes:
    """Return the key that orders paths component by component, as SQLite's byte order sorts blobs."""
    return record_key(path)


def path_of_key(key: bytes) -> RelPath:
    """Return the path a key was made from."""
    return RelPath(key.decode("utf-8", "surrogatepass").replace("\0", "/"))


class SyncBase:
    """The base of one pair of trees, named by their identity keys (A's and B's, as the user gave them)."""

    def __init__(self, connection: sqlite3.Connection, a_key: str, b_key: str) -> None:
        self.connection = connection
        self.swapped = b_key < a_key
        """True when B's identity sorts first: B's columns are then the first ones."""
        first, second = (b_key, a_key) if self.swapped else (a_key, b_key)
        self.pair = f"{first}\n{second}"

    def is_empty(self) -> bool:
        """Tell whether the pair has no base yet (never synced)."""
        row = self.connection.execute("SELECT 1 FROM sync_base WHERE pair = ? LIMIT 1", (self.pair,))
        return row.fetchone() is None

    def count(self) -> int:
        """Return how many paths the base holds."""
        row = self.connection.execute("SELECT COUNT(*) FROM sync_base WHERE pair = ?", (self.pair,))
        return int(row.fetchone()[0])

    def records(self) -> Iterator[BaseRecord]:
        """Yield the base in component order as stored rows (base_record's form), read as a stream."""
        a_columns = "second_mtime, second_mode" if self.swapped else "first_mtime, first_mode"
        b_columns = "first_mtime, first_mode" if self.swapped else "second_mtime, second_mode"
        try:
            yield from self.connection.execute(
                f"SELECT key, kind, size, {a_columns}, {b_columns}, target, digest"
                " FROM sync_base WHERE pair = ? ORDER BY key",
                (self.pair,),
            )
        except sqlite3.Error as error:
            raise BackendError(0, f"cannot read the sync base: {error}", "state database") from error

    def entries(self) -> Iterator[BaseEntry]:
        """Yield the base in component order, read as a stream (one row at a time)."""
        for record in self.records():
            yield base_entry_of(record)

    def write_rows(self, changes: Iterable[BaseChange]) -> None:
        """Apply base changes inside the caller's transaction."""
        removed: list[tuple[str, bytes]] = []
        rows: list[Sequence[object]] = []
        for change in changes:
            key = path_key(change.path)
            entry = change.entry
            if entry is None:
                removed.append((self.pair, key))
                continue
            first = (entry.a_mtime_ns, entry.a_mode)
            second = (entry.b_mtime_ns, entry.b_mode)
            if self.swapped:
                first, second = second, first
            target = None if entry.target is None else entry.target.encode("utf-8", "surrogatepass")
            rows.append((self.pair, key, entry.kind.value, entry.size, *first, *second, target, entry.digest))
        self.connection.executemany("DELETE FROM sync_base WHERE pair = ? AND key = ?", removed)
        self.connection.executemany(
            "INSERT OR REPLACE INTO sync_base (pair, key, kind, size, first_mtime, first_mode,"
            " second_mtime, second_mode, target, digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def apply(self, changes: Iterable[BaseChange]) -> None:
        """Apply base changes in one transaction of their own."""
        try:
            with self.connection:
                self.connection.execute("BEGIN IMMEDIATE")
                self.write_rows(changes)
        except sqlite3.Error as error:
            raise BackendError(0, f"cannot write the sync base: {error}", "state database") from error

    def record_sync(self, sync_id: str, run_ids: Iterable[str], changed: Iterable[RelPath]) -> None:
        """Before a sync runs: record its runs, and save the base rows of the paths it changes (for undo)."""
        keys = [(path_key(path),) for path in changed]
        try:
            with self.connection:
                self.connection.execute("BEGIN IMMEDIATE")
                self.connection.executemany(
                    "INSERT OR REPLACE INTO sync_runs (run_id, sync_id, pair) VALUES (?, ?, ?)",
                    [(run_id, sync_id, self.pair) for run_id in run_ids],
                )
                self.connection.executemany(
                    "INSERT OR IGNORE INTO sync_saved_base (sync_id, pair, key, present, kind, size,"
                    " first_mtime, first_mode, second_mtime, second_mode, target, digest)"
                    " SELECT ?, pair, key, 1, kind, size, first_mtime, first_mode, second_mtime,"
                    " second_mode, target, digest FROM sync_base"
                    " WHERE pair = ? AND key = ?",
                    [(sync_id, self.pair, key) for (key,) in keys],
                )
                self.connection.executemany(
                    "INSERT OR IGNORE INTO sync_saved_base (sync_id, pair, key, present) VALUES (?, ?, ?, 0)",
                    [(sync_id, self.pair, key) for (key,) in keys],
                )
        except sqlite3.Error as error:
            raise BackendError(0, f"cannot write the sync base: {error}", "state database") from error

    def forget_all(self) -> None:
        """Remove the pair's base (the next sync is a first sync: it never deletes or overwrites)."""
        with self.connection:
            self.connection.execute("DELETE FROM sync_base WHERE pair = ?", (self.pair,))


def filled(change: BaseChange, result: Fingerprint | None) -> BaseChange:
    """Return change with the filled side's mtime and mode taken from what its step left."""
    entry = change.entry
    if entry is None or change.fill is None or result is None:
        return change
    mtime, mode = result.mtime_ns, result.mode or 0
    if change.fill is Side.A:
        entry = entry._replace(a_mtime_ns=mtime, a_mode=mode)
    else:
        entry = entry._replace(b_mtime_ns=mtime, b_mode=mode)
    return change._replace(entry=entry)


class SyncJournal(Journal):
    """The run journal of a sync: marking a step done also writes the base row that step brought."""

    def __init__(self, connection: sqlite3.Connection, base: SyncBase) -> None:
        super().__init__(connection)
        self.base = base
        self.pending: dict[str, dict[int, tuple[BaseChange, ...]]] = {}
        """Per run id: the base changes each step (by its position) brings once done."""

    def expect(self, run_id: str, changes: dict[int, tuple[BaseChange, ...]]) -> None:
        """Register the base changes of a run's steps, before the run starts."""
        self.pending[run_id] = changes

    def finish_steps(self, run_id: str, outcomes: Iterable[StepOutcome]) -> None:
        """Record how steps ended and, in the same transaction, the base rows of those done."""
        listed = list(outcomes)
        waiting = self.pending.get(run_id)
        if not waiting:
            super().finish_steps(run_id, listed)
            return
        changes: list[BaseChange] = []
        for outcome in listed:
            brought = waiting.pop(outcome.seq, ())
            if outcome.status is StepStatus.DONE:
                changes.extend(filled(change, outcome.result) for change in brought)
        try:
            self.connection.execute("BEGIN IMMEDIATE")
            self.base.write_rows(changes)
        except sqlite3.Error as error:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")
            raise BackendError(0, f"cannot write the sync base: {error}", "state database") from error
        try:
            # the journal's own write commits the open transaction: both land together, or neither
            super().finish_steps(run_id, listed)
        finally:
            if self.connection.in_transaction:
                self.connection.execute("ROLLBACK")


def runs_of_sync(connection: sqlite3.Connection, run_id: str) -> tuple[str, list[str]] | None:
    """Return the sync a run belongs to and all of that sync's runs (None: not a sync's run)."""
    row = connection.execute("SELECT sync_id FROM sync_runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        return None
    sync_id = str(row[0])
    runs = connection.execute("SELECT run_id FROM sync_runs WHERE sync_id = ? ORDER BY run_id", (sync_id,))
    return sync_id, [str(found) for (found,) in runs]


def restore_saved_base(connection: sqlite3.Connection, sync_id: str) -> int:
    """Put back the base rows a sync replaced (after it was undone); return how many paths were reset."""
    try:
        with connection:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "DELETE FROM sync_base WHERE EXISTS (SELECT 1 FROM sync_saved_base AS saved WHERE"
                " saved.sync_id = ? AND saved.pair = sync_base.pair AND saved.key = sync_base.key)",
                (sync_id,),
            )
            connection.execute(
                "INSERT INTO sync_base (pair, key, kind, size, first_mtime, first_mode, second_mtime,"
                " second_mode, target, digest) SELECT pair, key, kind, size, first_mtime, first_mode,"
                " second_mtime, second_mode, target, digest FROM sync_saved_base"
                " WHERE sync_id = ? AND present = 1",
                (sync_id,),
            )
            count = connection.execute(
                "SELECT COUNT(*) FROM sync_saved_base WHERE sync_id = ?", (sync_id,)
            ).fetchone()[0]
    except sqlite3.Error as error:
        raise BackendError(0, f"cannot write the sync base: {error}", "state database") from error
    return int(count)
