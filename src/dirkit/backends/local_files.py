"""The one optional interface for local-disk fast paths, and `local_files(backend)` to ask for it.

A backend whose tree lies on the local filesystem may offer `local_files() -> LocalFiles | None`;
`local_files(backend, writing)` finds it through the wrappers (backends/wrapping.py) that let it
pass, so a wrapped local tree (read-only guard, fault injection) keeps its fast paths for reading.
Ops never check a backend's class: they call `local_files(backend)` and take the fast path when it
returns a LocalFiles, the portable Backend calls otherwise.
"""

from __future__ import annotations

import os
from typing import BinaryIO, Protocol

from dirkit.backends.wrapping import BackendWrapper, backends_within
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath


class LocalFiles(Protocol):
    """Fast paths for a tree on the local disk: OS paths, kernel copies, hard links, kinds-only listing."""

    def os_path(self, path: RelPath) -> str:
        """Return the absolute OS path of path ('' gives the tree's root)."""
        ...

    def list_dir_kinds(self, path: RelPath) -> list[Entry]:
        """Return a directory's children with only path, kind and symlink target known."""
        ...

    def clone_file(
        self,
        source_os_path: str,
        path: RelPath,
        mtime_ns: int | None,
        mode: int | None,
        fsync: bool = False,
        keep_mode: bool = True,
    ) -> Entry:
        """Copy a local file into path inside the kernel (reflink where possible), via a temp name."""
        ...

    def write_stream(
        self,
        path: RelPath,
        source: BinaryIO,
        mtime_ns: int | None,
        mode: int | None,
        fsync: bool = False,
    ) -> Entry:
        """Write a stream into path via a temp name, flushing to disk only when fsync is asked."""
        ...

    def hard_link_from(self, existing_os_path: str, new: RelPath) -> None:
        """Make new a second name of a local file given by its OS path (it may lie outside the tree)."""
        ...

    def real_root(self) -> str:
        """Return the tree root's real path (symlinks resolved): what names the tree on this machine."""
        ...

    def stat_os_path(self, os_path: str) -> Entry:
        """Return the entry of any local OS path (not following a final symlink), named by os_path."""
        ...


def paths_overlap(one: str, other: str) -> bool:
    """Tell whether two absolute real OS paths are the same or one lies inside the other."""
    return os.path.commonpath([one, other]) in (one, other)


def local_identity(os_path: str) -> tuple[int, int, str] | None:
    """Return the device, inode and real path of a local directory or file (None if it is gone)."""
    real = os.path.realpath(os_path)
    try:
        info = os.stat(real)
    except OSError:
        return None
    return info.st_dev, info.st_ino, real


def real_path_of(os_path: str) -> str:
    """Return a local path with its symlinks resolved (as far as they exist)."""
    return os.path.realpath(os_path)


class OffersLocalFiles(Protocol):
    """A backend (or wrapper) that may offer local fast paths."""

    def local_files(self) -> LocalFiles | None:
        """Return the local fast paths of this tree, or None when every call must go through the backend."""
        ...


def local_files(backend: object, writing: bool = False) -> LocalFiles | None:
    """Return the local-disk fast paths of backend, found through any wrappers that allow them, or None.

    Signature for callers: `local_files(backend, writing=False) -> LocalFiles | None`. Pass
    writing=True to change the tree through them (kernel copy, hard link): a read-only guard, or a
    fault wrapper that must refuse modes, then hides them. A wrapper with a fault armed on a call
    the fast paths do without (open_read, stat, ...) hides them for reading too.
    """
    for candidate in backends_within(backend, writing):
        if isinstance(candidate, BackendWrapper):
            continue
        offer = getattr(candidate, "local_files", None)
        if offer is None:
            return None
        found: LocalFiles | None = offer()
        return found
    return None
