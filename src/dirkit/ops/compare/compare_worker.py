"""The helper process of a partitioned compare: a forked child that compares the chunks it is named.

The child is forked from the comparing process, so it already holds the backends, the options
and every chunk: the parent sends only a chunk's index (a 4-byte integer, -1 to stop) and gets
the chunk's result back as one pickle. Forking costs a few milliseconds where starting a fresh
interpreter and importing dirkit cost a tenth of a second or more, so the helper can start early.
The child dies with the parent (PR_SET_PDEATHSIG) and leaves Ctrl-C and SIGTERM to it; any failure
in it ends it, and the parent then does its chunks itself.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
from collections.abc import Callable
from typing import BinaryIO

STOP = -1
INDEX = struct.Struct("<i")


class CompareWorker:
    """A forked child answering chunk indices with their results."""

    def __init__(self, pid: int, to_child: BinaryIO, from_child: BinaryIO) -> None:
        self._pid = pid
        self._to_child: BinaryIO | None = to_child
        self._from_child: BinaryIO | None = from_child

    def compare(self, index: int) -> object:
        """Return the child's result for chunk index (OSError, EOFError or UnpicklingError if it failed)."""
        if self._to_child is None or self._from_child is None:
            raise EOFError("the helper process was stopped")
        self._to_child.write(INDEX.pack(index))
        self._to_child.flush()
        return pickle.load(self._from_child)

    def finish(self) -> None:
        """Tell the child to stop (it exits once it reads this)."""
        if self._to_child is not None:
            with contextlib.suppress(OSError):
                self._to_child.write(INDEX.pack(STOP))
                self._to_child.flush()

    def stop(self, kill: bool = False) -> None:
        """Reap the child and close the pipes; kill it first when asked (it also ends on EOF).

        Killing comes before closing: a thread still reading the child's answer then sees the pipe
        end instead of holding the reader's lock while this thread waits to close it.
        """
        if self._pid and kill:
            with contextlib.suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
        for stream in (self._to_child, self._from_child):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        self._to_child = self._from_child = None
        if self._pid:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            self._pid = 0


def start_compare_worker(work: Callable[[int], object]) -> CompareWorker | None:
    """Fork a child that answers chunk indices with work(index); None where fork is missing or refused."""
    if not hasattr(os, "fork"):
        return None
    from dirkit.ops.tree.workers import prepare_worker

    parent = os.getpid()
    to_read, to_write = os.pipe()
    from_read, from_write = os.pipe()
    # The ends of two pipes (not files), each closed in the process that does not use it.
    to_child, child_in = open(to_write, "wb"), open(to_read, "rb")  # noqa: SIM115
    from_child, child_out = open(from_read, "rb"), open(from_write, "wb")  # noqa: SIM115
    try:
        pid = os.fork()
    except OSError:
        for stream in (to_child, child_in, from_child, child_out):
            stream.close()
        return None
    if pid == 0:  # the child: answer until told to stop, and leave without the parent's exit code
        status = 1
        try:
            to_child.close()
            from_child.close()
            prepare_worker(parent)
            _serve(work, child_in, child_out)
            status = 0
        finally:
            os._exit(status)
    child_in.close()
    child_out.close()
    return CompareWorker(pid, to_child, from_child)


def _serve(work: Callable[[int], object], reader: BinaryIO, writer: BinaryIO) -> None:
    """Answer chunk indices until STOP or the end of the pipe."""
    while True:
        message = reader.read(INDEX.size)
        if len(message) < INDEX.size:
            return
        (index,) = INDEX.unpack(message)
        if index == STOP:
            return
        pickle.dump(work(index), writer, pickle.HIGHEST_PROTOCOL)
        writer.flush()
