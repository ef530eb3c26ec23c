"""The digest cache: file digests remembered per tree, path and algorithm, with the stat that proves them.

A cached digest is served only while the file's device, inode, size, mtime_ns and ctime_ns are all
unchanged. Restoring an mtime by hand (os.utime, touch -d) still moves ctime, so it cannot fool the
cache. Paths and tree roots are stored as the bytes they have on disk.

Remote trees (key `url:URL`) hold only digests of files dirkit itself wrote there: they have no device,
inode or ctime (all 0), so the row is served while size and mtime are unchanged, the same evidence a
quick compare trusts for sameness; renames made by dirkit carry their rows along.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from dirkit.core.checksums.digest import DigestAlgorithm
from dirkit.core.checksums.manifest import encode_name
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath
from dirkit.errors import BackendError
from dirkit.state.migrations import Migration

DIGEST_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0200_digest_cache",
        """
        CREATE TABLE IF NOT EXISTS digest_cache (
            tree BLOB NOT NULL,
            path BLOB NOT NULL,
            algorithm TEXT NOT NULL,
            dev INTEGER NOT NULL,
            ino INTEGER NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            ctime_ns INTEGER NOT NULL,
            digest TEXT NOT NULL,
            PRIMARY KEY (tree, algorithm, path)
        ) WITHOUT ROWID;
        """,
    ),
)
"""Names 0200-0299: the digest cache."""


class FileIdentity(NamedTuple):
    """What must be unchanged for a cached digest to still be true."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int


CachedRow = tuple[int, int, int, int, int, str]
"""dev, ino, size, mtime_ns, ctime_ns, digest: plain tuples, since a cache holds a row per file."""


def identity_of(entry: Entry) -> FileIdentity:
    """Return the identity of a scanned entry."""
    return FileIdentity(entry.dev, entry.ino, entry.size, entry.mtime_ns or 0, entry.ctime_ns)


class DigestCache:
    """Digests of one tree for one algorithm, loaded at once and written back in one transaction."""

    def __init__(self, connection: sqlite3.Connection, tree: str, algorithm: DigestAlgorithm) -> None:
        self._connection = connection
        self._tree = encode_name(tree)
        self._algorithm = algorithm.value
        self._known: dict[RelPath, CachedRow] = {}
        self._pending: dict[RelPath, CachedRow] = {}
        self._gone: set[RelPath] = set()
        self._loaded = False

    def _load(self) -> None:
        """Read the tree's rows one by one into the lookup table (never all raw rows at once: memory)."""
        try:
            rows = self._connection.execute(
                "SELECT path, dev, ino, size, mtime_ns, ctime_ns, digest FROM digest_cache"
                " WHERE tree = ? AND algorithm = ?",
                (self._tree, self._algorithm),
            )
            known: dict[RelPath, CachedRow] = {
                path.decode("utf-8", "surrogateescape"): (dev, ino, size, mtime_ns, ctime_ns, digest)
                for path, dev, ino, size, mtime_ns, ctime_ns, digest in rows
            }
        except sqlite3.Error as error:
            raise BackendError(0, f"cannot read the digest cache: {error}", "state database") from error
        self._known = known
        self._loaded = True

    def rows_by_path(self) -> dict[RelPath, CachedRow]:
        """Return every cached row of the tree by path, loaded once (for lookups in bulk: no call per file).

        The table is the cache's own: callers read it and never change it.
        """
        if not self._loaded:
            self._load()
        return self._known

    def lookup(self, path: RelPath, identity: FileIdentity) -> str | None:
        """Return the cached digest of path if it was computed for exactly this identity."""
        if not self._loaded:
            self._load()
        row = self._known.get(path)
        if row is None or row[:5] != identity:
            return None
        return row[5]

    def lookup_entry(self, entry: Entry) -> str | None:
        """Return the cached digest of a scanned entry if its identity is unchanged."""
        if not self._loaded:
            self._load()
        row = self._known.get(entry.path)
        if row is None or row[:5] != (entry.dev, entry.ino, entry.size, entry.mtime_ns or 0, entry.ctime_ns):
            return None
        return row[5]

    def lookup_one(self, entry: Entry) -> str | None:
        """Return the cached digest of one entry by a single indexed query (cheap for a few paths)."""
        if self._loaded:
            return self.lookup_entry(entry)
        try:
            row = self._connection.execute(
                "SELECT dev, ino, size, mtime_ns, ctime_ns, digest FROM digest_cache"
                " WHERE tree = ? AND algorithm = ? AND path = ?",
                (self._tree, self._algorithm, encode_name(entry.path)),
            ).fetchone()
        except sqlite3.Error as error:
            raise BackendError(0, f"cannot read the digest cache: {error}", "state database") from error
        if row is None or tuple(row[:5]) != identity_of(entry):
            return None
        return str(row[5])

    def remember(self, path: RelPath, identity: FileIdentity, digest: str) -> None:
        """Record a freshly computed digest (written on flush)."""
        row: CachedRow = (*identity, digest)
        self._known[path] = row
        self._pending[path] = row
        self._gone.discard(path)

    def move(self, old: RelPath, new: RelPath) -> None:
        """Carry the digests of old, and of everything below it, over to new (a rename; written on flush)."""
        if not self._loaded:
            self._load()
        prefix = f"{old}/"
        for path in [path for path in self._known if path == old or path.startswith(prefix)]:
            row = self._known.pop(path)
            self._pending.pop(path, None)
            self._gone.add(path)
            moved = RelPath(new + path[len(old) :])
            self._known[moved] = self._pending[moved] = row
            self._gone.discard(moved)

    def forget(self, path: RelPath) -> None:
        """Drop the digest of path (a file removed; written on flush)."""
        if not self._loaded:
            self._load()
        if self._known.pop(path, None) is not None:
            self._pending.pop(path, None)
            self._gone.add(path)

    def flush(self) -> int:
        """Write the remembered digests (and drop forgotten ones) in one transaction; return rows written."""
        if not self._pending and not self._gone:
            return 0
        rows = [(self._tree, encode_name(path), self._algorithm, *row) for path, row in self._pending.items()]
        gone = [(self._tree, self._algorithm, encode_name(path)) for path in self._gone]
        try:
            with self._connection:
                self._connection.execute("BEGIN")
                self._connection.executemany(
                    "DELETE FROM digest_cache WHERE tree = ? AND algorithm = ? AND path = ?", gone
                )
                self._connection.executemany(
                    "INSERT OR REPLACE INTO digest_cache"
                    " (tree, path, algorithm, dev, ino, size, mtime_ns, ctime_ns, digest)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.Error as error:
            raise BackendError(0, f"cannot write the digest cache: {error}", "state database") from error
        self._pending.clear()
        self._gone.clear()
        return len(rows)

    def forget_all_but(self, present: set[RelPath]) -> int:
        """Drop the cached digests of every path not in present (files gone); return how many."""
        if not self._loaded:
            self._load()
        gone = [path for path in self._known if path not in present]
        if not gone:
            return 0
        rows = [(self._tree, self._algorithm, encode_name(path)) for path in gone]
        try:
            with self._connection:
                self._connection.execute("BEGIN")
                self._connection.executemany(
                    "DELETE FROM digest_cache WHERE tree = ? AND algorithm = ? AND path = ?", rows
                )
        except sqlite3.Error as error:
            raise BackendError(0, f"cannot write the digest cache: {error}", "state database") from error
        for path in gone:
            del self._known[path]
            self._pending.pop(path, None)
        return len(gone)
