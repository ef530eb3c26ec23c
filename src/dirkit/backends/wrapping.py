"""The one forwarding base of backend wrappers, and the lookup of optional interfaces through wrappers.

A wrapper holds the backend it wraps as `wrapped` and forwards every protocol call to it, and
`reconnect()` to a wrapped backend that has one; a subclass overrides only the calls it changes.
Optional interfaces a backend may offer beside the protocol (a local fast path) are never reached by
attribute forwarding: `local_files()` forwards only where the wrapper allows, and `backends_within`
walks the chain of `wrapped` backends, asking each wrapper whether such an interface may be used
past it, and the caller picks the first that offers what it needs:

    local = next((b for b in backends_within(tree) if isinstance(b, LocalFiles)), None)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from dirkit.backends.protocol import Backend, Capabilities
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath

MAX_WRAPPERS = 64
"""How deep backends_within follows wrapped backends (a bound, not a limit anyone meets)."""


class BackendWrapper:
    """A backend that forwards every protocol call to the backend it wraps."""

    def __init__(self, wrapped: Backend) -> None:
        self.wrapped = wrapped

    def passes_through(self, writing: bool) -> bool:
        """Return whether optional interfaces of the wrapped backend may be used past this wrapper.

        writing says whether the caller means to change the tree through the interface (a kernel
        copy into it) or only to read (an OS path to hash). A wrapper that must see every call of
        that kind (to fail it, count it, or refuse it) says no.
        """
        return True

    @property
    def capabilities(self) -> Capabilities:
        """Return the wrapped backend's capabilities."""
        return self.wrapped.capabilities

    @property
    def description(self) -> str:
        """Return the wrapped backend's description."""
        return self.wrapped.description

    def stat(self, path: RelPath, follow_symlinks: bool = False) -> Entry:
        """Return the entry at path from the wrapped backend."""
        return self.wrapped.stat(path, follow_symlinks)

    def list_dir(self, path: RelPath) -> list[Entry]:
        """Return a directory's children from the wrapped backend."""
        return self.wrapped.list_dir(path)

    def open_read(self, path: RelPath) -> BinaryIO:
        """Open a file for reading on the wrapped backend."""
        return self.wrapped.open_read(path)

    def write_file(
        self,
        path: RelPath,
        source: BinaryIO,
        mtime_ns: int | None = None,
        mode: int | None = None,
    ) -> Entry:
        """Write a file through the wrapped backend."""
        return self.wrapped.write_file(path, source, mtime_ns, mode)

    def make_dir(self, path: RelPath, mode: int | None = None) -> None:
        """Make a directory through the wrapped backend."""
        self.wrapped.make_dir(path, mode)

    def make_symlink(self, path: RelPath, target: str) -> None:
        """Make a symlink through the wrapped backend."""
        self.wrapped.make_symlink(path, target)

    def remove_file(self, path: RelPath) -> None:
        """Remove a file through the wrapped backend."""
        self.wrapped.remove_file(path)

    def hard_link(self, existing: RelPath, new: RelPath) -> None:
        """Hard-link through the wrapped backend."""
        self.wrapped.hard_link(existing, new)

    def remove_dir(self, path: RelPath) -> None:
        """Remove an empty directory through the wrapped backend."""
        self.wrapped.remove_dir(path)

    def rename(self, old: RelPath, new: RelPath, replace: bool = False) -> None:
        """Rename through the wrapped backend."""
        self.wrapped.rename(old, new, replace)

    def set_mtime(self, path: RelPath, mtime_ns: int) -> None:
        """Set a modification time through the wrapped backend."""
        self.wrapped.set_mtime(path, mtime_ns)

    def set_mode(self, path: RelPath, mode: int) -> None:
        """Set permission bits through the wrapped backend."""
        self.wrapped.set_mode(path, mode)

    def native_path(self, path: RelPath) -> str | None:
        """Return the wrapped backend's OS path when direct writes may bypass this wrapper, else None."""
        return self.wrapped.native_path(path) if self.passes_through(writing=True) else None

    def local_files(self) -> object | None:
        """Return the wrapped tree's local fast paths (its own local_files()) if they may bypass this wrapper.

        The fast paths write too (kernel copies, hard links), so they pass only where writing may.
        """
        offer = getattr(self.wrapped, "local_files", None)
        return offer() if offer is not None and self.passes_through(writing=True) else None

    def reconnect(self) -> None:
        """Reconnect the wrapped backend, if it has a connection to renew (see retrying.Reconnectable)."""
        renew = getattr(self.wrapped, "reconnect", None)
        if renew is not None:
            renew()

    def close(self) -> None:
        """Close the wrapped backend."""
        self.wrapped.close()


def backends_within(backend: object, writing: bool = False) -> Iterator[object]:
    """Yield backend, then each backend it wraps whose optional interfaces may be used from outside.

    The walk stops below a wrapper that does not let optional interfaces pass (for writing, when
    writing), and at a backend that wraps nothing.
    """
    current = backend
    for _ in range(MAX_WRAPPERS):
        yield current
        if not isinstance(current, BackendWrapper) or not current.passes_through(writing):
            return
        current = current.wrapped
