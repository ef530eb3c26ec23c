"""Scan a local tree in a forked child process, so that two scans use two cores.

A scan is Python work that holds the GIL, so two scans in threads of one process take turns. The
child lists its tree and sends the entries back through a pipe as plain tuples (one pickle of
built-in values, no class lookups per row); the parent rebuilds the Entry rows without calling
their constructor. If the child fails in any way (the tree cannot be listed, fork is refused, the
child is killed), the parent scans the tree itself, so errors come out exactly as in one process.
The child dies with the parent (PR_SET_PDEATHSIG) and leaves Ctrl-C and SIGTERM to it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
from types import TracebackType
from typing import BinaryIO

from dirkit.backends.local_files import local_files
from dirkit.backends.protocol import Backend
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import ROOT
from dirkit.core.tree.snapshot import Snapshot
from dirkit.ops.tree.gcpause import paused_gc
from dirkit.ops.tree.scan import ScanOptions, collect_entries, scan_tree, snapshot_of


class ForkedScan:
    """A scan of one tree running in a child process; `result()` returns its snapshot."""

    def __init__(self, backend: Backend, options: ScanOptions) -> None:
        self._backend = backend
        self._options = options
        self._pid = 0
        self._reader: BinaryIO | None = None

    def __enter__(self) -> ForkedScan:
        self._start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop()

    def _start(self) -> None:
        """Fork the child that scans (none where fork is missing or refused)."""
        if not hasattr(os, "fork"):
            return
        from dirkit.ops.tree.workers import prepare_worker  # loads ctypes and signal on first use

        parent = os.getpid()
        read_end, write_end = os.pipe()
        # The two ends of a pipe (not files), kept open across the fork and closed in each process below.
        reader = open(read_end, "rb")  # noqa: SIM115
        writer = open(write_end, "wb")  # noqa: SIM115
        try:
            pid = os.fork()
        except OSError:
            reader.close()
            writer.close()
            return
        if pid == 0:  # the child: scan, write, and leave without running any of the parent's exit code
            status = 1
            try:
                reader.close()
                gc.disable()  # the child ends soon; collections would only copy the parent's pages
                prepare_worker(parent)
                rows = [tuple(entry) for entry in collect_entries(self._backend, ROOT, self._options)]
                pickle.dump(rows, writer, pickle.HIGHEST_PROTOCOL)
                writer.close()
                status = 0
            finally:
                os._exit(status)
        writer.close()
        self._pid, self._reader = pid, reader

    def result(self) -> Snapshot:
        """Return the child's snapshot, or scan the tree here if the child gave none."""
        rows = self._receive()
        if rows is None:
            return scan_tree(self._backend, self._options)
        make = tuple.__new__
        return snapshot_of([make(Entry, row) for row in rows], self._backend)

    def _receive(self) -> list[tuple[object, ...]] | None:
        """Read the child's rows and reap it; None when it failed."""
        if not self._pid or self._reader is None:
            return None
        with self._reader as reader:
            payload = reader.read()
        self._reader = None
        _, status = os.waitpid(self._pid, 0)
        self._pid = 0
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return None
        rows: list[tuple[object, ...]] = pickle.loads(payload)
        return rows

    def _stop(self) -> None:
        """Kill and reap a child still running (the parent failed before asking for the result)."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._pid:
            with contextlib.suppress(OSError):
                os.kill(self._pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            self._pid = 0


def scan_two_trees(
    left: Backend, right: Backend, left_options: ScanOptions, right_options: ScanOptions
) -> tuple[Snapshot, Snapshot]:
    """Scan two trees at once: two local trees in two processes, others in two threads (they wait on I/O)."""
    from concurrent.futures import ThreadPoolExecutor  # not loaded at every start (find, grep)

    if local_files(left) is not None and local_files(right) is not None:
        with paused_gc(), ForkedScan(right, right_options) as right_scan:
            return scan_tree(left, left_options), right_scan.result()
    with paused_gc(), ThreadPoolExecutor(max_workers=2, thread_name_prefix="dirkit-scan") as pool:
        left_future = pool.submit(scan_tree, left, left_options)
        right_future = pool.submit(scan_tree, right, right_options)
        return left_future.result(), right_future.result()
