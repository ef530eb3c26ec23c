"""Digests of what a run writes to a remote tree, kept in the digest cache for later rename detection.

A remote tree cannot be hashed without reading it back over the network. While the executor uploads a
file, the bytes pass through a HashingReader; when the backend reports the file written at the size
that was hashed, its BLAKE3 digest is recorded under the tree's identity (`url:URL`), path, size and
mtime. Renames and removals the run makes carry the rows along or drop them. The rows are written to
the state database once, at the end of the run, from the thread that owns the connection.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import BinaryIO, cast

from dirkit.backends.local_files import local_files
from dirkit.backends.protocol import Backend
from dirkit.backends.trees import REMOTE_SCHEMES
from dirkit.backends.wrapping import BackendWrapper
from dirkit.core.checksums.digest import DigestAlgorithm
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath
from dirkit.errors import BackendError
from dirkit.ops.checksums.digests import Hasher, new_hasher, written_cache_key
from dirkit.state.digest_cache import DigestCache, identity_of

log = logging.getLogger("dirkit")

WRITTEN_ALGORITHM = DigestAlgorithm.BLAKE3
"""The algorithm rename detection uses (compare_digest_options)."""


class HashingReader:
    """A binary reader that hashes the bytes read through it; a rewind to 0 (a retried upload) restarts."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._hasher: Hasher = new_hasher(WRITTEN_ALGORITHM)
        self.count = 0
        self.valid = True
        """False once the reader was moved somewhere its hash cannot follow."""

    def read(self, size: int = -1) -> bytes:
        """Return the next bytes of the source, hashing them."""
        data = self._source.read(size)
        self._hasher.update(data)
        self.count += len(data)
        return data

    def seekable(self) -> bool:
        """Tell whether the source can be rewound."""
        return self._source.seekable()

    def tell(self) -> int:
        """Return the source's position."""
        return self._source.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        """Move the source; only a rewind to where hashing started keeps the hash true."""
        position = self._source.seek(offset, whence)
        if position == 0:
            self._hasher = new_hasher(WRITTEN_ALGORITHM)
            self.count = 0
        elif position != self.count:
            self.valid = False
        return position

    def hexdigest(self) -> str:
        """Return the digest of the bytes read so far."""
        return self._hasher.hexdigest()


class WriteRecorder(BackendWrapper):
    """Wraps a remote target during a run and records the digests of the files written through it."""

    def __init__(self, wrapped: Backend, key: str) -> None:
        super().__init__(wrapped)
        self.key = key
        self._events: list[tuple[str, RelPath, RelPath | Entry]] = []
        self._lock = threading.Lock()

    def passes_through(self, writing: bool) -> bool:
        """Return False for writing: every write must pass through the recorder."""
        return not writing

    def write_file(
        self,
        path: RelPath,
        source: BinaryIO,
        mtime_ns: int | None = None,
        mode: int | None = None,
    ) -> Entry:
        """Write a file through the wrapped backend, hashing its bytes on the way."""
        reader = HashingReader(source)
        entry = self.wrapped.write_file(path, cast(BinaryIO, reader), mtime_ns, mode)
        if (
            entry.kind is EntryKind.FILE
            and entry.mtime_ns is not None
            and reader.valid
            and reader.count == entry.size
        ):
            self._add(("wrote", path, entry._replace(path=path, digest=reader.hexdigest())))
        else:
            self._add(("removed", path, path))
        return entry

    def rename(self, old: RelPath, new: RelPath, replace: bool = False) -> None:
        """Rename through the wrapped backend; the digests follow."""
        self.wrapped.rename(old, new, replace)
        self._add(("renamed", old, new))

    def remove_file(self, path: RelPath) -> None:
        """Remove a file through the wrapped backend; its digest goes."""
        self.wrapped.remove_file(path)
        self._add(("removed", path, path))

    def _add(self, event: tuple[str, RelPath, RelPath | Entry]) -> None:
        with self._lock:
            self._events.append(event)

    def flush(self, connection: sqlite3.Connection) -> None:
        """Write what was recorded into the digest cache (best effort: the cache only saves work)."""
        with self._lock:
            events, self._events = self._events, []
        if not events:
            return
        cache = DigestCache(connection, self.key, WRITTEN_ALGORITHM)
        try:
            for kind, path, detail in events:
                if kind == "wrote" and isinstance(detail, Entry):
                    assert detail.digest is not None
                    cache.remember(path, identity_of(detail), detail.digest)
                elif kind == "renamed" and isinstance(detail, str):
                    cache.move(path, RelPath(detail))
                else:
                    cache.forget(path)
            cache.flush()
        except (BackendError, sqlite3.Error) as error:
            log.warning("cannot record the digests of files written to %s: %s", self.key, error)


def recorder_for(target: Backend) -> WriteRecorder | None:
    """Return a recorder for a remote target (None for a local one, whose cache has better evidence)."""
    if local_files(target) is not None or not target.description.startswith(REMOTE_SCHEMES):
        return None
    return WriteRecorder(target, written_cache_key(target))
