"""Worker processes for CPU-bound work on local trees (searching and digesting many small files).

Workers leave SIGINT and SIGTERM to the main process, which stops them at once when it is
interrupted (it kills them rather than waiting for their batches), and they die with it when it
is killed outright: on Linux the kernel sends them SIGKILL when their parent ends. (Strictly, when
the thread that started them ends: a forked pool starts all its workers at its first submit, so
that thread is the one using the pool.)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # concurrent.futures loads logging: not at the start of every forked helper
    from concurrent.futures import Executor

PR_SET_PDEATHSIG = 1
"""The prctl(2) option that names the signal a process gets when its parent ends (Linux)."""
WORKER_EXIT_SECONDS = 1.0
"""How long a stopping pool waits for each killed worker to be reaped."""


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to kill this process when its parent ends; end now if the parent is gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(1)


def prepare_worker(parent_pid: int) -> None:
    """Set up a worker: die with the main process, and leave Ctrl-C and SIGTERM to it.

    Dying with the parent is arranged first, so a worker seen ignoring Ctrl-C is also one that the
    kernel kills with its parent (the signal tests stop workers as soon as they ignore it).
    """
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def start_process_pool(jobs: int) -> Executor:
    """Return forked workers, one per core (at most jobs), that die with this process and stop with it."""
    # Imported here: they cost a noticeable share of the start-up time of commands that never fork.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    class WorkerPool(ProcessPoolExecutor):
        """A process pool whose workers are killed, not awaited, when the block using it fails.

        Futures must not be cancelled before that: the pool's manager thread fails on a cancelled
        future when it finds its workers dead (CPython 3.11).
        """

        def __exit__(
            self,
            kind: type[BaseException] | None,
            error: BaseException | None,
            traceback: TracebackType | None,
        ) -> None:
            if kind is not None:
                kill_workers(self)
            self.shutdown(wait=True)

    return WorkerPool(
        max(1, min(os.cpu_count() or 1, jobs)),
        mp_context=multiprocessing.get_context("fork"),
        initializer=prepare_worker,
        initargs=(os.getpid(),),
    )


def kill_workers(pool: Any) -> None:
    """Kill the worker processes of a process pool and reap them (bounded wait)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        with contextlib.suppress(OSError, ValueError):
            process.kill()
    for process in processes:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            process.join(WORKER_EXIT_SECONDS)
    # A killed worker may leave half a result in the result pipe, and this process holds the pipe's
    # writing end too, so the pool's manager thread would wait for the rest of it forever. Closing
    # that end makes its read fail at once: the manager then finds the pool broken and ends (it
    # closes the task pipe itself), and shutdown no longer waits forever.
    writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
    if writer is not None:
        with contextlib.suppress(OSError):
            writer.close()
