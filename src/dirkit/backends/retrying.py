"""A backend wrapper that retries transient errors: bounded attempts, exponential backoff, reconnect.

Only TransientError (a dropped connection, a timeout, FTP 421) is retried; every other error is
permanent and raised at once. Between attempts the wrapper sleeps (an injectable function, so tests
take no time) and calls `reconnect()` on the wrapped backend when it offers one (wrappers forward
it). A call that failed transiently may still have taken effect (unless its error says it never
left), so a retry that finds its work already done counts as done: a remove that finds nothing, a
make_dir that finds the directory, a rename whose old name is gone and whose new name is there. A
write restarts from where a seekable source stood at the first attempt; a source that cannot seek
is not retried. Streams from open_read are not resumed mid-read.

With check_server, a call that lost its connection on every attempt is followed by one look at the
tree's root: if the server answers, the fault belongs to that call (a file whose transfer is always
cut), and a TransientError that is not a ConnectionLostError is raised, so a run fails that item and
goes on; if the server does not answer, the ConnectionLostError stands and a run stops.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol, TypeVar, runtime_checkable

from dirkit.backends.protocol import Backend
from dirkit.backends.wrapping import BackendWrapper
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import ROOT, RelPath
from dirkit.errors import (
    AlreadyExistsError,
    BackendError,
    ConnectionLostError,
    NotFoundError,
    TransientError,
    UsageError,
)

Result = TypeVar("Result")


@runtime_checkable
class Reconnectable(Protocol):
    """A backend that can drop its connection and open a fresh one."""

    def reconnect(self) -> None:
        """Close the current connection (quietly) and open a new one; several threads may ask at once."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently to retry: attempts in all, and the waits between them."""

    attempts: int = 4
    first_delay_s: float = 0.5
    backoff: float = 2.0
    max_delay_s: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise UsageError(f"retry attempts must be at least 1, not {self.attempts}")
        if self.first_delay_s < 0 or self.backoff < 1 or self.max_delay_s < 0:
            raise UsageError("retry delays must not be negative and the backoff must be at least 1")

    def delays(self) -> tuple[float, ...]:
        """Return the wait before each retry (one fewer than attempts), growing by backoff up to the cap."""
        steps = range(self.attempts - 1)
        return tuple(min(self.max_delay_s, self.first_delay_s * self.backoff**step) for step in steps)


@dataclass(frozen=True, slots=True)
class Retry:
    """One retry the wrapper made: the call, its path, the attempt that follows, and why."""

    method: str
    path: RelPath
    attempt: int
    error: str


class RetryingBackend(BackendWrapper):
    """Wraps a backend and retries its transient errors; safe to share between threads."""

    def __init__(
        self,
        wrapped: Backend,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        check_server: bool = False,
    ) -> None:
        super().__init__(wrapped)
        self.check_server = check_server
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._delays = self.policy.delays()
        self._lock = threading.Lock()
        self.retries: list[Retry] = []
        """Every retry made, in order (for messages and tests)."""

    def _retrying(
        self,
        method: str,
        path: RelPath,
        call: Callable[[], Result],
        rewind: Callable[[], bool] | None = None,
    ) -> Result:
        """Run call, retrying transient errors; rewind prepares a retry and says whether one can be made."""
        last: TransientError | None = None
        for attempt in range(1, self.policy.attempts + 1):
            if last is not None:
                if rewind is not None and not rewind():
                    raise last
                self._before_retry(method, path, attempt, last)
            try:
                return call()
            except TransientError as error:
                last = error
        assert last is not None
        raise self._given_up(last)

    def _given_up(self, last: TransientError) -> TransientError:
        """Return the error to raise after the last attempt: the call's own, when the server still answers."""
        if not self.check_server or not isinstance(last, ConnectionLostError):
            return last
        try:
            self.wrapped.stat(ROOT)
        except BackendError:
            return last
        reason = f"{last.strerror}; gave up after {self.policy.attempts} attempts"
        own = TransientError(last.errno or 0, reason, last.filename)
        own.may_have_taken_effect = last.may_have_taken_effect
        own.__cause__ = last
        return own

    def _change(
        self, method: str, path: RelPath, call: Callable[[], None], done: Callable[[BackendError], bool]
    ) -> None:
        """Run a change, retrying transient errors.

        After an attempt that may have taken effect, a retry's error that done finds to mean "already
        done" counts as success.
        """
        maybe_done = False

        def attempt() -> None:
            nonlocal maybe_done
            try:
                call()
            except TransientError as error:
                maybe_done = maybe_done or error.may_have_taken_effect
                raise
            except BackendError as error:
                if maybe_done and done(error):
                    return
                raise

        self._retrying(method, path, attempt)

    def _before_retry(self, method: str, path: RelPath, attempt: int, error: TransientError) -> None:
        """Record the retry, wait, and reconnect when the wrapped backend can."""
        with self._lock:
            self.retries.append(Retry(method, path, attempt, str(error)))
        self._sleep(self._delays[attempt - 2])
        if isinstance(self.wrapped, Reconnectable):
            # A reconnect that fails too is left to the retry: it meets the dead connection and counts.
            with contextlib.suppress(TransientError):
                self.wrapped.reconnect()

    def _exists(self, path: RelPath) -> Entry | None:
        """Return the entry at path (retrying transient errors), or None if it is not there or not seen."""
        try:
            return self.stat(path)
        except BackendError:
            return None

    def stat(self, path: RelPath, follow_symlinks: bool = False) -> Entry:
        """Return the entry at path, retrying transient errors."""
        return self._retrying("stat", path, lambda: self.wrapped.stat(path, follow_symlinks))

    def list_dir(self, path: RelPath) -> list[Entry]:
        """Return a directory's children, retrying transient errors."""
        return self._retrying("list_dir", path, lambda: self.wrapped.list_dir(path))

    def open_read(self, path: RelPath) -> BinaryIO:
        """Open a file for reading, retrying transient errors of the open (not of later reads)."""
        return self._retrying("open_read", path, lambda: self.wrapped.open_read(path))

    def write_file(
        self,
        path: RelPath,
        source: BinaryIO,
        mtime_ns: int | None = None,
        mode: int | None = None,
    ) -> Entry:
        """Write a file; a retry starts again from where a seekable source stood at first."""
        start = source.tell() if source.seekable() else None

        def rewind() -> bool:
            if start is None:
                return False
            source.seek(start)
            return True

        return self._retrying(
            "write_file", path, lambda: self.wrapped.write_file(path, source, mtime_ns, mode), rewind=rewind
        )

    def make_dir(self, path: RelPath, mode: int | None = None) -> None:
        """Make a directory; a retry that finds the directory made counts as done."""

        def done(error: BackendError) -> bool:
            entry = self._exists(path) if isinstance(error, AlreadyExistsError) else None
            return entry is not None and entry.kind is EntryKind.DIR

        self._change("make_dir", path, lambda: self.wrapped.make_dir(path, mode), done)

    def make_symlink(self, path: RelPath, target: str) -> None:
        """Make a symlink; a retry that finds it made, pointing at target, counts as done."""

        def done(error: BackendError) -> bool:
            entry = self._exists(path) if isinstance(error, AlreadyExistsError) else None
            return entry is not None and entry.kind is EntryKind.SYMLINK and entry.target == target

        self._change("make_symlink", path, lambda: self.wrapped.make_symlink(path, target), done)

    def remove_file(self, path: RelPath) -> None:
        """Remove a file; a retry that finds nothing there counts as done."""
        self._change("remove_file", path, lambda: self.wrapped.remove_file(path), _found_nothing)

    def hard_link(self, existing: RelPath, new: RelPath) -> None:
        """Hard-link; a retry that finds new already the same file as existing (same inode) counts as done."""

        def done(error: BackendError) -> bool:
            if not isinstance(error, AlreadyExistsError):
                return False
            first, second = self._exists(existing), self._exists(new)
            if first is None or second is None or first.ino is None:
                return False
            return first.ino == second.ino

        self._change("hard_link", new, lambda: self.wrapped.hard_link(existing, new), done)

    def remove_dir(self, path: RelPath) -> None:
        """Remove an empty directory; a retry that finds nothing there counts as done."""
        self._change("remove_dir", path, lambda: self.wrapped.remove_dir(path), _found_nothing)

    def rename(self, old: RelPath, new: RelPath, replace: bool = False) -> None:
        """Rename; a retry that finds old gone and new there counts as done."""

        def done(error: BackendError) -> bool:
            return self._exists(old) is None and self._exists(new) is not None

        self._change("rename", old, lambda: self.wrapped.rename(old, new, replace), done)

    def set_mtime(self, path: RelPath, mtime_ns: int) -> None:
        """Set a modification time, retrying transient errors (setting it twice does no harm)."""
        self._retrying("set_mtime", path, lambda: self.wrapped.set_mtime(path, mtime_ns))

    def set_mode(self, path: RelPath, mode: int) -> None:
        """Set permission bits, retrying transient errors (setting them twice does no harm)."""
        self._retrying("set_mode", path, lambda: self.wrapped.set_mode(path, mode))


def _found_nothing(error: BackendError) -> bool:
    """Return whether a retried remove found nothing to remove (so the first attempt did it)."""
    return isinstance(error, NotFoundError)
