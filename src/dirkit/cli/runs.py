"""What every command that executes a plan shares: signals, progress, the run log, summaries, exits."""

from __future__ import annotations

import argparse
import contextlib
import logging
import logging.handlers
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from types import FrameType
from typing import TextIO

from dirkit.cli.common import add_dry_run_option, add_jobs_option, style_for, write_lines
from dirkit.core.run.plan import Plan
from dirkit.core.run.plan_json import plan_to_json_lines
from dirkit.core.tree.paths import display_path
from dirkit.errors import EXIT_DIFFERENCES, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, UsageError
from dirkit.ops.run.execute import ExecuteOptions, Progress, RunResult
from dirkit.report.plan import human_bytes, progress_line, render_plan_text
from dirkit.report.run import run_json_lines
from dirkit.state.journal import Journal
from dirkit.state.location import state_dir

LOG_NAME = "dirkit.log"
LOG_MAX_BYTES = 1024 * 1024
LOG_BACKUPS = 3
PROGRESS_INTERVAL_SECONDS = 0.2


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Add --dry-run, --jobs and --fsync."""
    group = parser.add_argument_group("how to run")
    add_dry_run_option(group)
    add_jobs_option(group, "files copied at once (default: %(default)s)")
    group.add_argument(
        "--fsync",
        action="store_true",
        help="flush each new file to disk before renaming it into place (survives a power cut; slower)",
    )


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """Within the block, SIGINT and SIGTERM set the returned event instead of killing the process."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {number: signal.signal(number, request_stop) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def run_log() -> Iterator[None]:
    """Within the block, log dirkit's run records to a rotating file in the state folder."""
    logger = logging.getLogger("dirkit")
    folder = state_dir()
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            os.path.join(folder, LOG_NAME), maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
        handler.close()


@contextlib.contextmanager
def journaled() -> Iterator[Journal]:
    """Yield the open run journal, with the run log on, for the block; close both after it."""
    with contextlib.closing(Journal.open()) as journal, run_log():
        yield journal


class ProgressLine:
    """Prints a carriage-return progress line on a terminal, at most five times a second."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last = 0.0
        self.shown = False

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL_SECONDS:
            return
        self.last = now
        line = progress_line(
            progress.files_done,
            progress.files_total,
            progress.bytes_done,
            progress.bytes_total,
            progress.seconds,
        )
        self.stream.write(f"\r{line}\x1b[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the progress line."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def progress_for(args: argparse.Namespace) -> ProgressLine | None:
    """Return a progress printer when standard error is a terminal and output is not quiet or JSON."""
    if args.quiet or args.json or not sys.stderr.isatty():
        return None
    return ProgressLine(sys.stderr)


HOLD_ENV = "DIRKIT_TEST_HOLD_AFTER_LOCK"
"""Tests: a file path; once the tree is claimed, create PATH.held and wait until PATH exists (or 60 s)."""
KILL_ENV = "DIRKIT_TEST_KILL_AFTER_STEPS"
"""Tests: once that many steps of a run ended, kill -9 this process (a deterministic crash point), or send it
once the signal named after a colon, as in "50:SIGINT" (a deterministic interrupt)."""
HOLD_LIMIT_SECONDS = 60.0


def hold_if_asked() -> None:
    """For tests: pause right after taking a tree's lock, while the test tries a second run."""
    release = os.environ.get(HOLD_ENV)
    if not release:
        return
    with open(f"{release}.held", "w", encoding="utf-8"):
        pass
    deadline = time.monotonic() + HOLD_LIMIT_SECONDS
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.01)


def kill_hook(progress: ProgressLine | None) -> Callable[[Progress], None] | None:
    """For tests: return a progress callback that signals this process after $DIRKIT_TEST_KILL_AFTER_STEPS."""
    after = os.environ.get(KILL_ENV)
    if not after:
        return progress
    count, _, name = after.partition(":")
    limit = int(count)
    chosen = signal.Signals[name] if name else signal.SIGKILL
    sent = False

    def kill_when_due(current: Progress) -> None:
        nonlocal sent
        if progress is not None:
            progress(current)
        if current.actions_done >= limit and not sent:
            sent = True
            os.kill(os.getpid(), chosen)

    return kill_when_due


@contextlib.contextmanager
def executing(
    args: argparse.Namespace, jobs: int | None = None, fsync: bool = False, run_id: str | None = None
) -> Iterator[ExecuteOptions]:
    """Yield execute options wired to SIGINT/SIGTERM and the terminal progress line; clear it after."""
    progress = progress_for(args)
    with stop_on_signals() as stop:
        chosen = ExecuteOptions(stop=stop, on_progress=kill_hook(progress), fsync=fsync, run_id=run_id)
        if jobs is not None:
            chosen = replace(chosen, jobs=jobs)
        try:
            yield chosen
        finally:
            if progress is not None:
                progress.clear()


def print_plan(plan: Plan, args: argparse.Namespace) -> None:
    """Print a plan as text or JSON Lines, as asked."""
    if args.quiet:
        return
    if args.json:
        write_lines(plan_to_json_lines(plan))
        return
    style = style_for(sys.stdout, args.color)
    write_lines(render_plan_text(plan, style, show_metadata=args.verbose > 0))


def write_plan_file(plan: Plan, path: str) -> None:
    """Write a plan to a file as JSON Lines."""
    try:
        with open(path, "w", encoding="utf-8") as stream:
            write_lines(plan_to_json_lines(plan), stream)
    except OSError as error:
        raise UsageError(f"{path}: cannot write plan: {error.strerror}") from error


def continue_hint(result: RunResult, args: argparse.Namespace) -> str:
    """Return the commands that finish (or revert) a run that stopped early."""
    target = shlex.quote(display_path(result.target))
    undo = f"dirkit undo {target}"
    if result.operation == "undo":
        return f"run '{undo}' again to finish the undo"
    if getattr(args, "plan", None) is not None:
        return f"make a new plan with 'dirkit mirror --save-plan' to finish, or run '{undo}' to revert"
    typed = getattr(args, "command_line", None)
    if typed:
        again = "dirkit " + shlex.join(typed)
        return f"run '{again}' again to finish, or '{undo}' to revert"
    return f"run the command again to finish, or '{undo}' to revert"


def report_run(result: RunResult, args: argparse.Namespace) -> int:
    """Print the outcome of a run (summary, failures) and return its exit code."""
    if args.json:
        write_lines(run_json_lines(result))
    else:
        for skipped in result.plan.skipped:
            print(f"dirkit: skipped: {display_path(skipped.path)}: {skipped.reason}", file=sys.stderr)
        for failure in result.failures:
            word = "conflict" if failure.conflict else "failed"
            print(f"dirkit: {word}: {display_path(failure.reason)}", file=sys.stderr)
        for note in result.notes:
            print(f"dirkit: note: {display_path(note)}", file=sys.stderr)
        if not args.quiet and not result.run_id:
            print(f"{display_path(result.target)}: nothing to do")
        elif not args.quiet:
            rate = result.bytes_copied / result.seconds if result.seconds > 0 else 0.0
            print(
                f"{result.operation} run {result.run_id}: {result.steps_done} steps done, "
                f"{result.files_copied} files copied ({human_bytes(result.bytes_copied)}, "
                f"{human_bytes(rate)}/s) in {result.seconds:.1f}s"
                + (f", {len(result.failures)} failed or left alone" if result.failures else "")
            )
        if result.interrupted:
            print(
                f"dirkit: interrupted; run {result.run_id} stopped after its current steps "
                f"({continue_hint(result, args)})",
                file=sys.stderr,
            )
        if result.stopped_by is not None:
            print(
                f"dirkit: run {result.run_id} stopped: {display_path(result.stopped_by)} "
                f"({continue_hint(result, args)})",
                file=sys.stderr,
            )
        elif not result.interrupted and len(result.failures) > len(result.conflicts):
            print(f"dirkit: some steps failed ({continue_hint(result, args)})", file=sys.stderr)
    if result.interrupted:
        return EXIT_INTERRUPTED
    if result.stopped_by is not None:
        return EXIT_ERROR
    return EXIT_DIFFERENCES if result.failures or result.plan.skipped else EXIT_OK
