"""Run units of search work in forked worker processes and give back their output in unit order.

find and grep on a local tree are bound by the interpreter and by the kernel's directory reads, so
two processes walk (and search) twice as fast as one. Workers are forked, so they share the
units and the work function with no pickling; each claims the next unit from a pipe prefilled
with unit numbers, and sends its unit's events back through a pipe of its own as frames. The
main process only merges: it yields the events of unit 0, then unit 1, ..., holding the events
of units finished early (reading a worker that is ahead pauses once that holding passes
HELD_LIMIT, so memory stays bounded). Workers die with the main process and leave Ctrl-C to it;
leaving the iteration early (an error, Ctrl-C, the reader gone) kills them at once.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import TypeVar

from dirkit.errors import DirkitError

Unit = TypeVar("Unit")
Event = tuple[int, bytes]
"""(kind, payload): what a unit gives, in order; the kinds belong to the caller (small integers)."""

_END = 255
"""The frame kind that closes a unit."""
_FAILED = 254
"""The frame kind of a worker that met an unexpected error (payload: its description)."""
_HEADER = 9
"""Frame header: unit number (4 bytes), kind (1), payload length (4), little-endian."""
HELD_LIMIT = 32 * 1024 * 1024
"""Bytes of finished-early output held before a worker that is ahead is left waiting."""
FLUSH_BYTES = 256 * 1024
"""A worker sends its frames when this many are pending, and at the end of each unit."""
READ_BYTES = 1024 * 1024
_PR_SET_PDEATHSIG = 1
"""The prctl(2) option naming the signal a process gets when its parent ends (Linux)."""


def run_units(
    units: Sequence[Unit], work: Callable[[Unit], Iterator[Event]], workers: int
) -> Generator[Event, None, None]:
    """Yield the events of work(unit) for every unit, in unit order, using up to workers processes."""
    if workers <= 1 or len(units) <= 1:
        for unit in units:
            yield from work(unit)
        return
    yield from _Pool(units, work, min(workers, len(units))).events()


class _Pool:
    """Forked workers over one list of units, and the merge of their frames."""

    def __init__(self, units: Sequence[Unit], work: Callable[[Unit], Iterator[Event]], count: int) -> None:
        self.units = units
        self.work = work
        self.count = count
        self.pids: list[int] = []
        self.readers: dict[int, bytearray] = {}
        """Each live worker's result pipe and the bytes read from it that do not yet make a frame."""
        self.latest: dict[int, int] = {}
        """The highest unit number each worker has sent a frame for."""
        self.held: dict[int, list[Event]] = {}
        self.finished: set[int] = set()
        self.held_bytes = 0

    def events(self) -> Iterator[Event]:
        """Start the workers and yield every unit's events in order; stop the workers at the end."""
        claims_read, claims_write = os.pipe()
        try:
            numbers = b"".join(index.to_bytes(4, "little") for index in range(len(self.units)))
            _set_pipe_size(claims_write, len(numbers))
            self._start(claims_read, claims_write, numbers)
        except BaseException:
            self._stop(kill=True)  # a fork that failed: the workers already started go too
            raise
        finally:
            os.close(claims_read)
        completed = False
        try:
            yield from self._merge()
            completed = True
        finally:
            self._stop(kill=not completed)

    def _start(self, claims_read: int, claims_write: int, numbers: bytes) -> None:
        """Fork the workers; the claims pipe is filled and closed for writing before any starts."""
        try:
            view = memoryview(numbers)
            while view:
                view = view[os.write(claims_write, view) :]
        finally:
            os.close(claims_write)
        parent = os.getpid()
        for _ in range(self.count):
            result_read, result_write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the worker: it never returns
                os.close(result_read)
                for descriptor in self.readers:
                    os.close(descriptor)
                _worker(parent, self.units, self.work, claims_read, result_write)
            os.close(result_write)
            self.pids.append(pid)
            self.readers[result_read] = bytearray()
            self.latest[result_read] = -1

    def _merge(self) -> Iterator[Event]:
        head = 0
        total = len(self.units)
        while head < total:
            events = self.held.pop(head, None)
            if events:
                for event in events:
                    self.held_bytes -= len(event[1])
                yield from events
            if head in self.finished:
                self.finished.discard(head)
                head += 1
                continue
            if not self.readers:
                raise DirkitError("a search worker process ended unexpectedly")
            self._read_some(head)

    def _read_some(self, head: int) -> None:
        """Wait for frames from the workers that may hold the head unit (from all, when little is held)."""
        if self.held_bytes < HELD_LIMIT:
            wanted = list(self.readers)
        else:
            wanted = [fd for fd in self.readers if self.latest[fd] <= head] or list(self.readers)
        poller = select.poll()  # poll, not select: any descriptor number works
        for descriptor in wanted:
            poller.register(descriptor, select.POLLIN)
        for descriptor, _ in poller.poll():
            data = os.read(descriptor, READ_BYTES)
            if not data:
                os.close(descriptor)
                pending = self.readers.pop(descriptor)
                del self.latest[descriptor]
                if pending:
                    raise DirkitError("a search worker process ended in the middle of a result")
                continue
            buffer = self.readers[descriptor]
            buffer += data
            self._take_frames(descriptor, buffer)

    def _take_frames(self, descriptor: int, buffer: bytearray) -> None:
        position = 0
        size = len(buffer)
        while size - position >= _HEADER:
            length = int.from_bytes(buffer[position + 5 : position + 9], "little")
            end = position + _HEADER + length
            if end > size:
                break
            index = int.from_bytes(buffer[position : position + 4], "little")
            kind = buffer[position + 4]
            self.latest[descriptor] = index
            if kind == _END:
                self.finished.add(index)
            elif kind == _FAILED:
                reason = bytes(buffer[position + _HEADER : end]).decode("utf-8", "replace")
                raise DirkitError(f"a search worker process failed: {reason}")
            else:
                payload = bytes(buffer[position + _HEADER : end])
                self.held.setdefault(index, []).append((kind, payload))
                self.held_bytes += length
            position = end
        del buffer[:position]

    def _stop(self, kill: bool) -> None:
        """Reap the workers (killing them first when the merge did not finish) and close the pipes."""
        for descriptor in self.readers:
            os.close(descriptor)
        self.readers.clear()
        for pid in self.pids:
            if kill:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.pids.clear()


def _set_pipe_size(descriptor: int, wanted: int) -> None:
    """Make a pipe hold at least wanted bytes where the OS allows it (Linux F_SETPIPE_SZ)."""
    if wanted <= 65536:
        return
    import fcntl

    with contextlib.suppress(OSError):
        fcntl.fcntl(descriptor, getattr(fcntl, "F_SETPIPE_SZ", 1031), wanted)


def _worker(
    parent: int,
    units: Sequence[Unit],
    work: Callable[[Unit], Iterator[Event]],
    claims: int,
    results: int,
) -> None:
    """Claim units and send their events as frames until none is left; then end the process."""
    code = 0
    try:
        _prepare(parent)
        pending: list[bytes] = []
        pending_bytes = 0
        while claim := os.read(claims, 4):
            index = int.from_bytes(claim, "little")
            number = claim
            for kind, payload in work(units[index]):
                pending.append(number + kind.to_bytes(1, "little") + len(payload).to_bytes(4, "little"))
                pending.append(payload)
                pending_bytes += len(payload) + _HEADER
                if pending_bytes >= FLUSH_BYTES:
                    _write_all(results, b"".join(pending))
                    pending.clear()
                    pending_bytes = 0
            pending.append(number + _END.to_bytes(1, "little") + bytes(4))
            _write_all(results, b"".join(pending))
            pending.clear()
            pending_bytes = 0
    except BaseException as error:  # a worker must end here, whatever happened
        code = 1
        try:
            reason = f"{type(error).__name__}: {error}".encode("utf-8", "replace")
            _write_all(results, bytes(4) + bytes((_FAILED,)) + len(reason).to_bytes(4, "little") + reason)
        except BaseException:
            pass
    finally:
        os._exit(code)


def _prepare(parent: int) -> None:
    """Make this worker die with the main process (Linux), then leave Ctrl-C and SIGTERM to it.

    Dying with the parent comes first, so a worker seen ignoring Ctrl-C is one the kernel kills
    with its parent (even when stopped). ops/tree/workers.py does the same for the process pools;
    this copy keeps concurrent.futures (and the logging it loads) out of these workers.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]
