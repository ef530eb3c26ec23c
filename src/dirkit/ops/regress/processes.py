"""Running one command in its own process group, with a timeout, and killing every group on demand."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

KILL_GRACE_S = 5.0
"""How long to wait for a killed group's pipes to close before giving up on the rest of its output."""


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    """What a finished (or killed) command produced."""

    stdout: bytes
    stderr: bytes
    exit_status: int
    """The exit code, or minus the signal number that ended the process."""
    duration_s: float
    timed_out: bool


class ProcessGroups:
    """The process groups of the commands running now; closing kills them all and refuses new ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: set[int] = set()
        self._closed = False

    def add(self, group: int) -> bool:
        """Register a running group; if closed already, kill it instead and return False."""
        with self._lock:
            if not self._closed:
                self._groups.add(group)
                return True
        kill_group(group)
        return False

    def discard(self, group: int) -> None:
        """Forget a group whose leader has ended."""
        with self._lock:
            self._groups.discard(group)

    def close(self) -> None:
        """Kill every registered group now, and every group registered from now on."""
        with self._lock:
            self._closed = True
            groups = sorted(self._groups)
            self._groups.clear()
        for group in groups:
            kill_group(group)

    @property
    def closed(self) -> bool:
        """Tell whether close() was called."""
        return self._closed


def kill_group(group: int) -> None:
    """Send SIGKILL to every process of a group (quietly, when none is left)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def run_in_group(
    argv: Sequence[str],
    cwd: str,
    env: Mapping[str, str],
    timeout_s: float,
    groups: ProcessGroups,
) -> ProcessOutcome:
    """Run argv in a new session (its own process group); kill the group at the timeout.

    Raises OSError when the program cannot be started, InterruptedError when groups is closed.
    """
    if groups.closed:
        raise InterruptedError("interrupted before the case started")
    started = time.monotonic()
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    group = process.pid
    groups.add(group)
    timed_out = False
    try:
        try:
            stdout, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_group(group)
            stdout, stderr = _collect_after_kill(process)
        # The leader is gone; members it left behind in its group go with it.
        kill_group(group)
    finally:
        groups.discard(group)
        if process.poll() is None:
            kill_group(group)
            process.wait()
    return ProcessOutcome(stdout, stderr, process.returncode, time.monotonic() - started, timed_out)


def _collect_after_kill(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    try:
        return process.communicate(timeout=KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        # A process outside the group still holds the pipes: give up on the rest of the output.
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        process.wait()
        return b"", b""
