"""Records of the files dirkit wrote on trees that cannot set file times (see backends/recorded_times.py)."""

from __future__ import annotations

import sqlite3
import threading

from dirkit.core.tree.paths import RelPath
from dirkit.core.tree.written import WrittenFile
from dirkit.state.migrations import Migration

WRITTEN_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0300_written_files",
        """
        CREATE TABLE IF NOT EXISTS written_files (
            tree TEXT NOT NULL,
            path BLOB NOT NULL,
            size INTEGER NOT NULL,
            server_mtime_ns INTEGER NOT NULL,
            source_mtime_ns INTEGER NOT NULL,
            PRIMARY KEY (tree, path)
        ) WITHOUT ROWID;
        """,
    ),
)
"""Names 0300-0399: what dirkit wrote where file times cannot be set."""


def _key(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def _path(key: bytes) -> RelPath:
    return RelPath(key.decode("utf-8", "surrogateescape"))


class StateWrittenFiles:
    """The records in the state database; one connection per thread, opened on first use."""

    def __init__(self, folder: str | None = None) -> None:
        self._folder = folder
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            from dirkit.state.database import connect_state

            connection = connect_state(self._folder)
            self._local.connection = connection
        return connection

    def load(self, tree: str) -> dict[RelPath, WrittenFile]:
        """Return every record of tree."""
        rows = self._connection().execute(
            "SELECT path, size, server_mtime_ns, source_mtime_ns FROM written_files WHERE tree = ?", (tree,)
        )
        return {_path(path): WrittenFile(size, server, source) for path, size, server, source in rows}

    def save(self, tree: str, path: RelPath, written: WrittenFile | None) -> None:
        """Record what was written at path (None: forget path)."""
        connection = self._connection()
        if written is None:
            connection.execute("DELETE FROM written_files WHERE tree = ? AND path = ?", (tree, _key(path)))
            return
        connection.execute(
            "INSERT OR REPLACE INTO written_files VALUES (?, ?, ?, ?, ?)",
            (tree, _key(path), written.size, written.server_mtime_ns, written.source_mtime_ns),
        )

    def move(self, tree: str, old: RelPath, new: RelPath) -> None:
        """Move the records of old and below it to new (records already at new and below are dropped)."""
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute(f"DELETE FROM written_files WHERE {_AT_OR_BELOW}", (tree, *_range(new)))
            columns = "path, size, server_mtime_ns, source_mtime_ns"
            moved = connection.execute(
                f"SELECT {columns} FROM written_files WHERE {_AT_OR_BELOW}", (tree, *_range(old))
            ).fetchall()
            connection.execute(f"DELETE FROM written_files WHERE {_AT_OR_BELOW}", (tree, *_range(old)))
            for path, size, server, source in moved:
                renamed = _key(new + _path(path)[len(old) :])
                connection.execute(
                    "INSERT OR REPLACE INTO written_files VALUES (?, ?, ?, ?, ?)",
                    (tree, renamed, size, server, source),
                )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


_AT_OR_BELOW = "tree = ? AND (path = ? OR (path >= ? AND path < ?))"
"""A path and everything below it: BLOB keys sort bytewise, and '0' follows '/'."""


def _range(folder: str) -> tuple[bytes, bytes, bytes]:
    key = _key(folder)
    return key, key + b"/", key + b"0"
