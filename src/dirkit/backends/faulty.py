"""A backend wrapper that injects failures, for fault tests: fail the Nth call or chosen paths."""

from __future__ import annotations

import errno
import os
import threading
from dataclasses import dataclass, replace
from typing import BinaryIO

from dirkit.backends.local_files import LocalFiles, local_files
from dirkit.backends.protocol import Backend, Capabilities
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath
from dirkit.errors import translate_os_error

ANY_METHOD = "*"
"""A fault's method that matches every call: with nth, the nth backend call of any kind fails."""
BYPASSED_BY_FAST_PATHS = frozenset({ANY_METHOD, "stat", "list_dir", "open_read", "write_file", "hard_link"})
"""Methods whose work local fast paths do without the backend: a fault on one hides the fast paths."""


@dataclass(frozen=True, slots=True)
class Fault:
    """Raise OSError(error_number) from calls of method: the nth one (1-based), or every call on path."""

    method: str
    error_number: int = errno.EIO
    nth: int | None = None
    path: RelPath | None = None


class FaultyBackend:
    """Wraps a backend and raises the configured faults; everything else passes through."""

    def __init__(self, inner: Backend, faults: list[Fault], no_modes: bool = False) -> None:
        self.inner = inner
        self.faults = list(faults)
        self.no_modes = no_modes
        """Act as a filesystem that cannot chmod (FAT): say so, and fail every call that sets a mode."""
        self.calls: dict[str, int] = {}
        self.fired: list[tuple[str, RelPath]] = []
        """The (method, path) of every call a fault failed, in order."""
        self._lock = threading.Lock()

    def _check(self, method: str, path: RelPath) -> None:
        with self._lock:
            count = self.calls[method] = self.calls.get(method, 0) + 1
            overall = self.calls[ANY_METHOD] = self.calls.get(ANY_METHOD, 0) + 1
        for fault in self.faults:
            if fault.method not in (method, ANY_METHOD):
                continue
            number = overall if fault.method == ANY_METHOD else count
            if (fault.nth is not None and fault.nth == number) or (
                fault.nth is None and fault.path is not None and fault.path == path
            ):
                with self._lock:
                    self.fired.append((method, path))
                error = OSError(fault.error_number, os.strerror(fault.error_number))
                raise translate_os_error(error, path)

    def _check_mode(self, path: RelPath, mode: int | None) -> None:
        if self.no_modes and mode is not None:
            with self._lock:
                self.fired.append(("chmod", path))
            raise translate_os_error(OSError(errno.EPERM, os.strerror(errno.EPERM)), path)

    @property
    def capabilities(self) -> Capabilities:
        """Return the inner backend's capabilities (without setting modes, for no_modes)."""
        if self.no_modes:
            return replace(self.inner.capabilities, can_set_mode=False)
        return self.inner.capabilities

    @property
    def description(self) -> str:
        """Return the inner backend's description."""
        return self.inner.description

    def stat(self, path: RelPath, follow_symlinks: bool = False) -> Entry:
        """Stat through the inner backend unless a fault fires."""
        self._check("stat", path)
        return self.inner.stat(path, follow_symlinks)

    def list_dir(self, path: RelPath) -> list[Entry]:
        """List through the inner backend unless a fault fires."""
        self._check("list_dir", path)
        return self.inner.list_dir(path)

    def open_read(self, path: RelPath) -> BinaryIO:
        """Open through the inner backend unless a fault fires."""
        self._check("open_read", path)
        return self.inner.open_read(path)

    def write_file(
        self,
        path: RelPath,
        source: BinaryIO,
        mtime_ns: int | None = None,
        mode: int | None = None,
    ) -> Entry:
        """Write through the inner backend unless a fault fires."""
        self._check("write_file", path)
        self._check_mode(path, mode)
        return self.inner.write_file(path, source, mtime_ns, mode)

    def make_dir(self, path: RelPath, mode: int | None = None) -> None:
        """Make a dir through the inner backend unless a fault fires."""
        self._check("make_dir", path)
        self._check_mode(path, mode)
        self.inner.make_dir(path, mode)

    def make_symlink(self, path: RelPath, target: str) -> None:
        """Make a symlink through the inner backend unless a fault fires."""
        self._check("make_symlink", path)
        self.inner.make_symlink(path, target)

    def remove_file(self, path: RelPath) -> None:
        """Remove a file through the inner backend unless a fault fires."""
        self._check("remove_file", path)
        self.inner.remove_file(path)

    def hard_link(self, existing: RelPath, new: RelPath) -> None:
        """Hard-link through the inner backend unless a fault fires."""
        self._check("hard_link", new)
        self.inner.hard_link(existing, new)

    def remove_dir(self, path: RelPath) -> None:
        """Remove a dir through the inner backend unless a fault fires."""
        self._check("remove_dir", path)
        self.inner.remove_dir(path)

    def rename(self, old: RelPath, new: RelPath, replace: bool = False) -> None:
        """Rename through the inner backend unless a fault fires."""
        self._check("rename", old)
        self.inner.rename(old, new, replace)

    def set_mtime(self, path: RelPath, mtime_ns: int) -> None:
        """Set mtime through the inner backend unless a fault fires."""
        self._check("set_mtime", path)
        self.inner.set_mtime(path, mtime_ns)

    def set_mode(self, path: RelPath, mode: int) -> None:
        """Set mode through the inner backend unless a fault fires."""
        self._check("set_mode", path)
        self._check_mode(path, mode)
        self.inner.set_mode(path, mode)

    def local_files(self) -> LocalFiles | None:
        """Forward the inner tree's local fast paths, unless a fault must fire on a call they bypass."""
        if any(fault.method in BYPASSED_BY_FAST_PATHS for fault in self.faults):
            return None
        return local_files(self.inner)

    def close(self) -> None:
        """Close the inner backend."""
        self.inner.close()
