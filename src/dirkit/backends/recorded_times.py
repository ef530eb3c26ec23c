"""File times kept in dirkit's state for trees that cannot set them (an FTP server without MFMT).

After an upload the wrapper records what it wrote: the path, the size and the time the server gave
the file, and the time the source file had. A later listing that finds the file with that size and
that server time shows the source's time instead, so a rerun sees the file unchanged instead of
uploading it again. A file changed on the server by anyone else gets a new size or time and shows as
it is. Renames (backups, undo) carry the record along; removals drop it.
"""

from __future__ import annotations

import threading
from typing import BinaryIO, Protocol

from dirkit.backends.protocol import Backend
from dirkit.backends.wrapping import BackendWrapper
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath
from dirkit.core.tree.written import WrittenFile


class WrittenFiles(Protocol):
    """Where records of written files are kept (the state database), per tree."""

    def load(self, tree: str) -> dict[RelPath, WrittenFile]:
        """Return every record of tree."""
        ...

    def save(self, tree: str, path: RelPath, written: WrittenFile | None) -> None:
        """Record what was written at path (None: forget path)."""
        ...

    def move(self, tree: str, old: RelPath, new: RelPath) -> None:
        """Move the records of old and below it to new."""
        ...


def _below(path: RelPath, folder: RelPath) -> bool:
    return path == folder or path.startswith(folder + "/")


class RecordedTimesBackend(BackendWrapper):
    """Wraps a tree that cannot set file times, showing the source times recorded at upload."""

    def __init__(self, wrapped: Backend, store: WrittenFiles) -> None:
        super().__init__(wrapped)
        self._store = store
        self._tree = wrapped.description
        self._lock = threading.Lock()
        self._records: dict[RelPath, WrittenFile] | None = None

    def _known(self) -> dict[RelPath, WrittenFile]:
        with self._lock:
            if self._records is None:
                self._records = self._store.load(self._tree)
            return self._records

    def _shown(self, entry: Entry) -> Entry:
        """Return entry with the recorded source time, if it is the file dirkit wrote there."""
        if entry.kind is not EntryKind.FILE:
            return entry
        written = self._known().get(entry.path)
        if written is None or (entry.size, entry.mtime_ns) != (written.size, written.server_mtime_ns):
            return entry
        return entry._replace(mtime_ns=written.source_mtime_ns)

    def stat(self, path: RelPath, follow_symlinks: bool = False) -> Entry:
        """Return the entry at path, with its recorded time."""
        return self._shown(self.wrapped.stat(path, follow_symlinks))

    def list_dir(self, path: RelPath) -> list[Entry]:
        """Return a folder's children, with their recorded times."""
        return [self._shown(entry) for entry in self.wrapped.list_dir(path)]

    def write_file(
        self,
        path: RelPath,
        source: BinaryIO,
        mtime_ns: int | None = None,
        mode: int | None = None,
    ) -> Entry:
        """Write a file and record it with the time it should have had."""
        entry = self.wrapped.write_file(path, source, mtime_ns, mode)
        written = None
        if mtime_ns is not None and entry.mtime_ns is not None:
            written = WrittenFile(entry.size, entry.mtime_ns, mtime_ns)
        self._store.save(self._tree, path, written)
        with self._lock:
            if self._records is not None:
                self._records.pop(path, None)
                if written is not None:
                    self._records[path] = written
        return entry if written is None else entry._replace(mtime_ns=mtime_ns)

    def rename(self, old: RelPath, new: RelPath, replace: bool = False) -> None:
        """Rename, carrying the records of old (and below it) along."""
        self.wrapped.rename(old, new, replace)
        self._store.move(self._tree, old, new)
        with self._lock:
            if self._records is not None:
                for path in [known for known in self._records if _below(known, new)]:
                    del self._records[path]
                for path in [known for known in self._records if _below(known, old)]:
                    self._records[RelPath(new + path[len(old) :])] = self._records.pop(path)

    def remove_file(self, path: RelPath) -> None:
        """Remove a file and its record."""
        self.wrapped.remove_file(path)
        self._store.save(self._tree, path, None)
        with self._lock:
            if self._records is not None:
                self._records.pop(path, None)
