"""One forked child process that runs batches of hashing work while the parent does the rest itself.

Hashing many small local files is Python work (several system calls a file) that holds the GIL, so
a second core needs a second process. A pool of workers would leave the parent (which scans) idle
and costs the import of multiprocessing; instead the parent forks one child at first need and hands
it a batch whenever it has fewer than `depth` batches in hand, and hashes the other batches itself.
Batches go to the child and their results come back through two pipes as length-prefixed pickles of
built-in values (the function is pickled by name: the forked child already has it imported).

The child dies with the parent (PR_SET_PDEATHSIG) and leaves Ctrl-C and SIGTERM to it; the parent
kills it when the block using it ends early. If the child cannot be forked or dies, the parent
takes back the batches it held (`take_back`) and does them itself, so results never depend on it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import select
import signal
import struct
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, TypeVar

Key = TypeVar("Key")
_HEADER = struct.Struct("<Q")
CHILD_DEPTH = 2
"""Batches the child holds at once: one it works on, one waiting, so it never waits for the parent."""


def can_fork_child() -> bool:
    """Tell whether a child may be forked: a POSIX fork, more than one core and no other thread running."""
    return hasattr(os, "fork") and threading.active_count() == 1 and (os.cpu_count() or 1) > 1


def _read_exactly(descriptor: int, count: int) -> bytes | None:
    """Return count bytes read from descriptor, or None at end of file before them."""
    parts: list[bytes] = []
    missing = count
    while missing:
        chunk = os.read(descriptor, min(missing, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        missing -= len(chunk)
    return b"".join(parts)


def _read_message(descriptor: int) -> Any:
    """Return the next pickled message from descriptor; raise EOFError at end of file."""
    header = _read_exactly(descriptor, _HEADER.size)
    if header is None:
        raise EOFError
    body = _read_exactly(descriptor, _HEADER.unpack(header)[0])
    if body is None:
        raise EOFError
    return pickle.loads(body)


def _write_message(descriptor: int, message: object) -> None:
    """Write one message to descriptor, all of it."""
    body = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(body)) + body)
    while view:
        view = view[os.write(descriptor, view) :]


def _serve(tasks: int, results: int) -> None:
    """Run each (function, arguments) read from tasks and write its result to results, until end of file."""
    while True:
        try:
            function, arguments = _read_message(tasks)
        except EOFError:
            return
        _write_message(results, function(*arguments))


class HashingChild(Generic[Key]):
    """A forked child that runs batches of work; batches are keyed so their results can be matched."""

    def __init__(self, depth: int = CHILD_DEPTH) -> None:
        self._depth = depth
        self._pid = 0
        self._tasks = -1
        self._results = -1
        self._held: list[Key] = []
        """Keys of the batches sent, oldest first (the child answers in order)."""

    def __enter__(self) -> HashingChild[Key]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close(kill=kind is not None)

    def start(self) -> bool:
        """Fork the child; return whether it runs (never where fork is missing, refused or unsafe)."""
        if self._pid or not can_fork_child():
            return bool(self._pid)
        from dirkit.ops.tree.workers import prepare_worker  # ctypes and signal, loaded only when forking

        parent = os.getpid()
        task_read, task_write = os.pipe()
        result_read, result_write = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            for descriptor in (task_read, task_write, result_read, result_write):
                os.close(descriptor)
            return False
        if pid == 0:  # the child: serve, then leave without running any of the parent's exit code
            status = 1
            try:
                os.close(task_write)
                os.close(result_read)
                gc.disable()  # the child builds only acyclic tuples and ends soon
                prepare_worker(parent)
                _serve(task_read, result_write)
                status = 0
            finally:
                os._exit(status)
        os.close(task_read)
        os.close(result_write)
        self._pid, self._tasks, self._results = pid, task_write, result_read
        return True

    @property
    def running(self) -> bool:
        """Tell whether the child runs."""
        return self._pid != 0

    def has_room(self) -> bool:
        """Tell whether the child runs and holds fewer batches than its depth."""
        return self._pid != 0 and len(self._held) < self._depth

    def send(self, key: Key, function: Callable[..., object], arguments: tuple[object, ...]) -> bool:
        """Hand the child function(*arguments) under key; return False if it is gone (do it yourself)."""
        if not self._pid:
            return False
        try:
            _write_message(self._tasks, (function, arguments))
        except OSError:
            self._lost()
            return False
        self._held.append(key)
        return True

    def ready(self) -> bool:
        """Tell whether a result is waiting to be read (without blocking)."""
        if not self._held:
            return False
        readable, _, _ = select.select([self._results], [], [], 0)
        return bool(readable)

    def receive(self) -> tuple[Key, Any] | None:
        """Return the key and result of the oldest batch held, waiting for it; None if the child is gone."""
        if not self._held:
            return None
        try:
            result = _read_message(self._results)
        except (EOFError, OSError, pickle.UnpicklingError):
            self._lost()
            return None
        return self._held.pop(0), result

    def take_back(self) -> list[Key]:
        """Return the keys of the batches a lost child held (for the parent to do), emptying the list."""
        keys, self._held = self._held, []
        return keys

    def _lost(self) -> None:
        """Note the child as gone: stop it and reap it; its batches stay held for take_back."""
        self._stop(kill=True)

    def close(self, kill: bool = False) -> None:
        """End the child: let it finish and exit (or kill it at once), and reap it."""
        self._stop(kill)

    def _stop(self, kill: bool) -> None:
        pid = self._pid
        if not pid:
            return
        self._pid = 0
        if kill:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for descriptor in (self._tasks, self._results):
            with contextlib.suppress(OSError):
                os.close(descriptor)
        self._tasks = self._results = -1
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, 0)
