"""A backend wrapper that injects failures, for fault tests: fail the Nth call or chosen paths."""

from __future__ import annotations

import errno
import os
import threading
from dataclasses import dataclass, replace
from enum import Enum
from typing import BinaryIO

from dirkit.backends.protocol import Backend, Capabilities
from dirkit.backends.wrapping import BackendWrapper
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath
from dirkit.errors import BackendError, ConnectionLostError, translate_os_error

ANY_METHOD = "*"
"""A fault's method that matches every call: with nth, the nth backend call of any kind fails."""
BYPASSED_BY_FAST_PATHS = frozenset({ANY_METHOD, "stat", "list_dir", "open_read", "write_file", "hard_link"})
"""Methods whose work local fast paths do without the backend: a fault on one hides the fast paths."""


class FaultKind(Enum):
    """How an injected fault fails a call."""

    PERMANENT = "permanent"
    """Raise OSError(error_number), translated: the call does nothing."""
    TRANSIENT = "transient"
    """Raise a TransientError (the connection dropped) before the call reaches the wrapped backend."""
    TRANSIENT_AFTER = "transient-after"
    """Let the call take effect, then raise a TransientError (the reply was lost on the way back)."""


@dataclass(frozen=True, slots=True)
class Fault:
    """Fail calls of method: the nth one (1-based, counting retries), or every call on path.

    times bounds how many calls the fault takes (None: without end); a transient fault on a path
    with times=1 fails the first attempt only, as a retried call would see. A TRANSIENT_AFTER fault
    whose call fails on its own is taken but not fired.
    """

    method: str
    error_number: int = errno.EIO
    nth: int | None = None
    path: RelPath | None = None
    kind: FaultKind = FaultKind.PERMANENT
    times: int | None = None


class FaultyBackend(BackendWrapper):
    """Wraps a backend and raises the configured faults; everything else passes through.

    Optional interfaces (a local fast path) pass through unless a fault is armed on a call they do
    without the backend, or no_modes must refuse the modes a fast copy would set.
    """

    def __init__(self, inner: Backend, faults: list[Fault], no_modes: bool = False) -> None:
        super().__init__(inner)
        self.faults = list(faults)
        self.no_modes = no_modes
        """Act as a filesystem that cannot chmod (FAT): say so, and fail every call that sets a mode."""
        self.calls: dict[str, int] = {}
        self.fired: list[tuple[str, RelPath]] = []
        """The (method, path) of every call a fault failed, in order."""
        self._fired_counts = [0] * len(self.faults)
        self._lock = threading.Lock()

    @property
    def inner(self) -> Backend:
        """Return the wrapped backend (the name this wrapper's callers know)."""
        return self.wrapped

    def passes_through(self, writing: bool) -> bool:
        """Return whether optional interfaces may bypass the wrapper: not past a fault they would dodge."""
        if writing and self.no_modes:
            return False
        return not any(fault.method in BYPASSED_BY_FAST_PATHS for fault in self.faults)

    def _check(self, method: str, path: RelPath) -> FaultKind | None:
        """Count a call; raise a fault that fires before it, or return the kind that fires after it."""
        with self._lock:
            count = self.calls[method] = self.calls.get(method, 0) + 1
            overall = self.calls[ANY_METHOD] = self.calls.get(ANY_METHOD, 0) + 1
            fault = self._firing(method, path, count, overall)
            if fault is None:
                return None
            if fault.kind is FaultKind.TRANSIENT_AFTER:
                return fault.kind
            self.fired.append((method, path))
        raise _fault_error(fault, path)

    def _firing(self, method: str, path: RelPath, count: int, overall: int) -> Fault | None:
        """Return the first armed fault that matches this call, counting it as fired."""
        for index, fault in enumerate(self.faults):
            if fault.method not in (method, ANY_METHOD):
                continue
            if fault.times is not None and self._fired_counts[index] >= fault.times:
                continue
            number = overall if fault.method == ANY_METHOD else count
            if (fault.nth is not None and fault.nth == number) or (
                fault.nth is None and fault.path is not None and fault.path == path
            ):
                self._fired_counts[index] += 1
                return fault
        return None

    def _after(self, kind: FaultKind | None, method: str, path: RelPath) -> None:
        """Raise the transient error of a fault that fires after its call took effect."""
        if kind is FaultKind.TRANSIENT_AFTER:
            with self._lock:
                self.fired.append((method, path))
            raise ConnectionLostError(errno.ECONNRESET, "connection lost after the call (injected)", path)

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

    def stat(self, path: RelPath, follow_symlinks: bool = False) -> Entry:
        """Stat through the inner backend unless a fault fires."""
        after = self._check("stat", path)
        entry = self.inner.stat(path, follow_symlinks)
        self._after(after, "stat", path)
        return entry

    def list_dir(self, path: RelPath) -> list[Entry]:
        """List through the inner backend unless a fault fires."""
        after = self._check("list_dir", path)
        entries = self.inner.list_dir(path)
        self._after(after, "list_dir", path)
        return entries

    def open_read(self, path: RelPath) -> BinaryIO:
        """Open through the inner backend unless a fault fires."""
        after = self._check("open_read", path)
        stream = self.inner.open_read(path)
        if after is not None:
            stream.close()
        self._after(after, "open_read", path)
        return stream

    def write_file(
        self,
        path: RelPath,
        source: BinaryIO,
        mtime_ns: int | None = None,
        mode: int | None = None,
    ) -> Entry:
        """Write through the inner backend unless a fault fires."""
        after = self._check("write_file", path)
        self._check_mode(path, mode)
        entry = self.inner.write_file(path, source, mtime_ns, mode)
        self._after(after, "write_file", path)
        return entry

    def make_dir(self, path: RelPath, mode: int | None = None) -> None:
        """Make a dir through the inner backend unless a fault fires."""
        after = self._check("make_dir", path)
        self._check_mode(path, mode)
        self.inner.make_dir(path, mode)
        self._after(after, "make_dir", path)

    def make_symlink(self, path: RelPath, target: str) -> None:
        """Make a symlink through the inner backend unless a fault fires."""
        after = self._check("make_symlink", path)
        self.inner.make_symlink(path, target)
        self._after(after, "make_symlink", path)

    def remove_file(self, path: RelPath) -> None:
        """Remove a file through the inner backend unless a fault fires."""
        after = self._check("remove_file", path)
        self.inner.remove_file(path)
        self._after(after, "remove_file", path)

    def hard_link(self, existing: RelPath, new: RelPath) -> None:
        """Hard-link through the inner backend unless a fault fires."""
        after = self._check("hard_link", new)
        self.inner.hard_link(existing, new)
        self._after(after, "hard_link", new)

    def remove_dir(self, path: RelPath) -> None:
        """Remove a dir through the inner backend unless a fault fires."""
        after = self._check("remove_dir", path)
        self.inner.remove_dir(path)
        self._after(after, "remove_dir", path)

    def rename(self, old: RelPath, new: RelPath, replace: bool = False) -> None:
        """Rename through the inner backend unless a fault fires."""
        after = self._check("rename", old)
        self.inner.rename(old, new, replace)
        self._after(after, "rename", old)

    def set_mtime(self, path: RelPath, mtime_ns: int) -> None:
        """Set mtime through the inner backend unless a fault fires."""
        after = self._check("set_mtime", path)
        self.inner.set_mtime(path, mtime_ns)
        self._after(after, "set_mtime", path)

    def set_mode(self, path: RelPath, mode: int) -> None:
        """Set mode through the inner backend unless a fault fires."""
        after = self._check("set_mode", path)
        self._check_mode(path, mode)
        self.inner.set_mode(path, mode)
        self._after(after, "set_mode", path)


def _fault_error(fault: Fault, path: RelPath) -> BackendError:
    """Return the error a fault raises before its call."""
    if fault.kind is FaultKind.TRANSIENT:
        error = ConnectionLostError(errno.ECONNRESET, "connection lost before the call (injected)", path)
        error.may_have_taken_effect = False
        return error
    return translate_os_error(OSError(fault.error_number, os.strerror(fault.error_number)), path)
