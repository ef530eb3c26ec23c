"""The one-run-per-tree lock: an OS lock on a file in the state folder, and the row naming its holder."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass

from dirkit.errors import BackendError
from dirkit.state.journal import Journal, TreeIdentity

LOCKS_FOLDER = "locks"


@dataclass(frozen=True, slots=True)
class LockHolder:
    """The run that holds (or asks for) a tree's lock."""

    run_id: str
    operation: str
    pid: int
    host: str
    started_at: str


def lock_file_path(folder: str, identity: TreeIdentity) -> str:
    """Return the lock file of a tree in the state folder."""
    name = hashlib.sha256(identity.key.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return os.path.join(folder, LOCKS_FOLDER, f"{name}.lock")


class TreeLock:
    """A held tree lock: the open, flock-ed file and the row that names the holder."""

    def __init__(self, journal: Journal, identity: TreeIdentity, holder: LockHolder, fd: int) -> None:
        self.journal = journal
        self.identity = identity
        self.holder = holder
        self._fd: int | None = fd

    def release(self) -> None:
        """Delete the holder row and drop the OS lock (idempotent)."""
        if self._fd is None:
            return
        try:
            with self.journal.connection:
                self.journal.connection.execute(
                    "DELETE FROM tree_locks WHERE tree = ? AND run_id = ?",
                    (self.identity.key, self.holder.run_id),
                )
        except sqlite3.Error:
            pass
        finally:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def lock_holder(journal: Journal, identity: TreeIdentity) -> LockHolder | None:
    """Return the run recorded as holding a tree's lock, if any (it may have died since)."""
    row = journal.connection.execute(
        "SELECT run_id, operation, pid, host, started_at FROM tree_locks WHERE tree = ?", (identity.key,)
    ).fetchone()
    if row is None:
        return None
    return LockHolder(str(row[0]), str(row[1]), int(row[2]), str(row[3]), str(row[4]))


def try_lock_tree(journal: Journal, identity: TreeIdentity, holder: LockHolder) -> TreeLock | None:
    """Take a tree's lock for holder, or return None if another process holds it.

    The OS lock comes first; then, in one transaction, the holder row is written and the runs on the
    tree still marked running (dead, since nobody held the lock) are marked interrupted by the caller.
    """
    path = lock_file_path(journal.folder, identity)
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise BackendError(error.errno or 0, f"cannot open the tree lock: {error.strerror}", path) from error
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(fd)
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return None
        raise BackendError(error.errno or 0, f"cannot lock the tree: {error.strerror}", path) from error
    try:
        with journal.connection:
            journal.connection.execute("BEGIN IMMEDIATE")
            journal.connection.execute(
                "INSERT OR REPLACE INTO tree_locks"
                " (tree, tree_path, run_id, operation, pid, host, started_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    identity.key,
                    json.dumps(identity.path),
                    holder.run_id,
                    holder.operation,
                    holder.pid,
                    holder.host,
                    holder.started_at,
                ),
            )
    except sqlite3.Error as error:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        raise BackendError(0, f"cannot write the tree lock: {error}", "state database") from error
    return TreeLock(journal, identity, holder, fd)
