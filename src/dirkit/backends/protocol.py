"""The contract every backend fulfils, and the capabilities record planners read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath

NO_MTIMES = None
"""The mtime resolution of a tree whose modification times cannot be trusted: they never prove sameness."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do, as data for planners (nobody probes with try/except)."""

    mtime_resolution_ns: int | None = 1
    """The step of the tree's modification times (FTP: whole seconds; FAT: 2 s); NO_MTIMES (None): no
    usable mtimes, so a quick compare can never call two files the same by size and time."""
    can_set_mtime: bool = True
    can_set_mode: bool = True
    """Whether permission bits are kept (FAT, many servers: no); modes compare only where both keep them."""
    case_sensitive: bool = True
    symlinks: bool = True
    """Whether symlinks can be stored; a planner skips, with the reason, links for a target without them."""
    atomic_rename: bool = True
    """Whether rename is atomic (readers see the old name or the new one, never neither)."""
    rename_replaces: bool = True
    """Whether rename(replace=True) replaces an existing name in one step; else the name is freed first."""
    server_digests: tuple[str, ...] = ()
    """Digest algorithms (DigestAlgorithm values) the backend computes itself, offered by server_digest()."""
    parallel_connections: int = 1
    """Calls that may usefully run at once on this tree; see workers_for()."""
    hard_links: bool = False
    """Whether hard_link works (two names for one file)."""
    identities: bool = False
    """Whether entries carry a (device, inode) identity that names one stored object."""


def coarser_resolution(left: int | None, right: int | None) -> int | None:
    """Return the coarser of two mtime resolutions (NO_MTIMES wins over any step)."""
    if left is None or right is None:
        return NO_MTIMES
    return max(left, right)


@runtime_checkable
class Backend(Protocol):
    """I/O on one tree; paths are RelPaths below the tree's root ('' is the root).

    Errors are raised as dirkit error kinds, which subclass the builtin OSError types: NotFoundError
    (FileNotFoundError), AlreadyExistsError (FileExistsError), NotADirError, IsADirError,
    PermissionDeniedError, else BackendError. Guaranteed: write_file never leaves a partial file
    under its final name; list_dir reports an unreadable child as an entry with error set, not by
    raising. Threading: a backend may be called from up to workers_for(backend, jobs) threads at
    once (capabilities.parallel_connections); it serialises internally what it cannot overlap.
    Optional extras, offered by some backends only: local_files() (backends/local_files.py) and
    server_digest(path, algorithm) for the algorithms in capabilities.server_digests.
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

    def close(self) -> None:
        """Release connections and handles."""
        ...


def workers_for(backend: Backend | Sequence[Backend], jobs: int) -> int:
    """Return how many threads or processes to start on backend(s): jobs, bounded by their connections.

    The one place the bound is taken: content compare, digests, grep, dupes and the executor use it.
    """
    backends = [backend] if isinstance(backend, Backend) else list(backend)
    limit = min((item.capabilities.parallel_connections for item in backends), default=1)
    return max(1, min(jobs, limit))
