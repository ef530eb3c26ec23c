"""Worker processes for CPU-bound work on local trees (searching and digesting many small files)."""

from __future__ import annotations

import signal
from concurrent.futures import Executor


def ignore_interrupts() -> None:
    """Leave Ctrl-C to the main process, which stops the pool and exits with status 130."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_process_pool(workers: int) -> Executor:
    """Return a pool of forked worker processes that ignore Ctrl-C."""
    # Imported here: they cost a noticeable share of the start-up time of commands that never fork.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("fork"), initializer=ignore_interrupts
    )
