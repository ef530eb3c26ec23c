"""The contract every backend fulfils, and the capabilities record planners read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do, as data for planners (nobody probes with try/except)."""

    mtime_resolution_ns: int = 1
    can_set_mtime: bool = True
    can_set_mode: bool = True
    case_sensitive: bool = True
    symlinks: bool = True
    atomic_rename: bool = True
    server_digests: tuple[str, ...] = ()
    parallel_connections: int = 8
    hard_links: bool = False
    """Whether hard_link works (two names for one file)."""


@runtime_checkable
class Backend(Protocol):
    """I/O on one tree; paths are RelPaths below the tree's root ('' is the root).

    Errors are raised as dirkit error kinds (which subclass the builtin OSError types).
    """

    @property
    def capabilities(self) -> Capabilities:
        """Return what this backend can do."""
        ...

    @property
    def description(self) -> str:
        """Return the tree's location for messages (a path or a URL without secrets)."""
        ...

    def stat(self, path: RelPath, follow_symlinks: bool = False) -> Entry:
        """Return the entry at path; raise NotFoundError if there is none."""
        ...

    def list_dir(self, path: RelPath) -> list[Entry]:
        """Return the entries of a directory's children, unordered; unreadable ones carry error."""
        ...

    def open_read(self, path: RelPath) -> BinaryIO:
        """Return a binary stream of a file's bytes."""
        ...

    def write_file(
        self,
        path: RelPath,
        source: BinaryIO,
        mtime_ns: int | None = None,
        mode: int | None = None,
    ) -> Entry:
        """Write source to path under a temporary name, then rename it into place; return its entry."""
        ...

    def make_dir(self, path: RelPath, mode: int | None = None) -> None:
        """Create a directory (its parent must exist); raise AlreadyExistsError if path exists."""
        ...

    def make_symlink(self, path: RelPath, target: str) -> None:
        """Create a symlink at path pointing to target."""
        ...

    def remove_file(self, path: RelPath) -> None:
        """Remove a file, symlink or special file."""
        ...

    def hard_link(self, existing: RelPath, new: RelPath) -> None:
        """Make new a second name of the existing file; raise AlreadyExistsError if new exists."""
        ...

    def remove_dir(self, path: RelPath) -> None:
        """Remove an empty directory."""
        ...

    def rename(self, old: RelPath, new: RelPath, replace: bool = False) -> None:
        """Rename old to new; unless replace, raise AlreadyExistsError if new exists."""
        ...

    def set_mtime(self, path: RelPath, mtime_ns: int) -> None:
        """Set the modification time of path (not following symlinks where possible)."""
        ...

    def set_mode(self, path: RelPath, mode: int) -> None:
        """Set the permission bits of path."""
        ...

    def native_path(self, path: RelPath) -> str | None:
        """Return the OS path of path on a local filesystem, or None for remote trees."""
        ...

    def close(self) -> None:
        """Release connections and handles."""
        ...
