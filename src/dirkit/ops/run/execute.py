"""The executor: runs any Plan on a target tree, journaling each step, with backups and parallel copies.

What each action kind does is in actions.py, how one unit (a step, or a replace) runs in units.py,
how units are handed out in order (small copies in batches to a thread pool) in dispatch.py, and
how outcomes are journaled, counted and reported in outcomes.py; here they are put together.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from dirkit.backends.protocol import Backend
from dirkit.core.run.names import BACKUP_ROOT, backup_dir_for
from dirkit.core.run.plan import ActionKind, Plan
from dirkit.core.run.plan_json import totals_to_json
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import ROOT, RelPath, display_path, join_path, parent_path, path_parts
from dirkit.errors import AlreadyExistsError, NotFoundError, RefusedError
from dirkit.ops.run.actions import SourceOpener, StepContext
from dirkit.ops.run.clock import new_run_id, utc_now
from dirkit.ops.run.dispatch import Dispatcher, hand_out_all
from dirkit.ops.run.outcomes import ItemFailure, Ledger, Progress, RunResult
from dirkit.ops.run.written import recorder_for
from dirkit.state.journal import Journal, RunStatus

__all__ = [
    "BACKUP_ROOT",
    "ExecuteOptions",
    "ItemFailure",
    "Progress",
    "RunResult",
    "execute_plan",
    "require_own_folders",
]
"""The executor's public face: its options and results are defined beside it, re-exported here."""

log = logging.getLogger("dirkit")
log.addHandler(logging.NullHandler())


@dataclass(frozen=True, slots=True)
class ExecuteOptions:
    """How to execute a plan."""

    jobs: int = 8
    backup_root: RelPath = BACKUP_ROOT
    stop: threading.Event | None = None
    """Set it (from a signal handler) to finish the steps under way and stop."""
    on_progress: Callable[[Progress], None] | None = None
    fsync: bool = False
    """Flush each copied file to disk before renaming it into place (survives a power cut; slower)."""
    undoes: str | None = None
    run_id: str | None = None
    """The id the run gets (the one its tree claim holds); a fresh one by default."""
    open_source: SourceOpener | None = None
    """Where copy_file steps read their bytes instead of a source tree (an archive being unpacked)."""


def execute_plan(
    plan: Plan,
    target: Backend,
    journal: Journal,
    source: Backend | None = None,
    options: ExecuteOptions | None = None,
) -> RunResult:
    """Run every action of plan on target (copying from source), journaling each step before and after.

    Each step first checks that its path still holds what the plan expected; if not it is a conflict
    and nothing is changed. Replaced and deleted paths are renamed into the run's backup folder,
    which must be made of real directories (RefusedError before any step, naming a planted link).
    """
    chosen = options or ExecuteOptions()
    run_id = chosen.run_id or new_run_id()
    backup_dir = backup_dir_for(run_id, chosen.backup_root)
    recorder = recorder_for(target)
    writes_through = target if recorder is None else recorder
    context = StepContext(writes_through, source, run_id, backup_dir, chosen.fsync, chosen.open_source)
    backs_up = any(action.kind is ActionKind.BACKUP for action in plan.actions)
    context.made_dirs.update(require_own_folders(target, parent_path(backup_dir), create=backs_up))
    started = time.monotonic()
    journal.start_run(
        run_id,
        plan.operation,
        target.description,
        plan.source,
        backup_dir,
        os.getpid(),
        socket.gethostname(),
        utc_now(),
        totals_to_json(plan.totals),
        undoes=chosen.undoes,
        actions=plan.actions,
    )
    totals = plan.totals
    log.info(
        "run %s: %s %s -> %s, %d actions, %d files, %d bytes",
        run_id,
        plan.operation,
        plan.source,
        target.description,
        totals.actions,
        totals.files,
        totals.bytes,
    )
    ledger = Ledger(plan, journal, run_id, chosen.on_progress, started)
    workers = max(1, min(chosen.jobs, target.capabilities.parallel_connections))
    dispatcher = Dispatcher(context, ledger, workers)
    interrupted = False
    try:
        interrupted = hand_out_all(plan, ledger, dispatcher, chosen.stop)
        dispatcher.finish()
    finally:
        dispatcher.close()
        ledger.close(dispatcher.handed_until)
        if recorder is not None:
            recorder.flush(journal.connection)
        status = RunStatus.DONE
        if interrupted:
            status = RunStatus.INTERRUPTED
        elif ledger.stopped_by is not None:
            status = RunStatus.FAILED
        summary = ledger.summary()
        journal.finish_run(run_id, status, utc_now(), dict(summary))
        log.info("run %s: %s, %s", run_id, status.value, summary)
    return RunResult(
        run_id=run_id,
        operation=plan.operation,
        target=target.description,
        backup_dir=backup_dir,
        plan=plan,
        steps_done=ledger.steps,
        files_copied=ledger.files,
        bytes_copied=ledger.bytes,
        failures=tuple(ledger.failures),
        interrupted=interrupted,
        stopped_by=ledger.stopped_by,
        seconds=time.monotonic() - started,
        notes=_capability_notes(plan, target),
    )


def first_non_directory(
    target: Backend, folder: RelPath, create: bool = False
) -> tuple[list[RelPath], tuple[RelPath, Entry] | None]:
    """Walk the parts of folder without following links: its real directories, and the first non-directory.

    The walk stops at the first missing part, or with create makes it (and checks it again once made).
    """
    checked: list[RelPath] = []
    built = ROOT
    for part in path_parts(folder):
        built = join_path(built, part)
        try:
            entry: Entry | None = target.stat(built)
        except NotFoundError:
            entry = None
        if entry is None and create:
            with contextlib.suppress(AlreadyExistsError):
                target.make_dir(built)
            entry = target.stat(built)
        if entry is None:
            break
        if entry.kind is not EntryKind.DIR:
            return checked, (built, entry)
        checked.append(built)
    return checked, None


def require_own_folders(target: Backend, folder: RelPath, create: bool = False) -> list[RelPath]:
    """Check that each part of one of dirkit's folders is a real directory, never a link; return them.

    With create, missing parts are made (each checked again after it is made, without following
    links). Raise RefusedError naming the first part that is a symlink or not a directory.
    """
    checked, blocking = first_non_directory(target, folder, create)
    if blocking is not None:
        built, entry = blocking
        where = display_path(f"{target.description.rstrip('/')}/{built}")
        what = (
            f"is a symbolic link (to {display_path(entry.target or '')})"
            if entry.kind is EntryKind.SYMLINK
            else "is not a directory"
        )
        raise RefusedError(
            f"{where}: {what}; dirkit keeps its backups only in real directories of the tree, "
            f"so nothing was changed (remove it and run again)"
        )
    return checked


def _capability_notes(plan: Plan, target: Backend) -> tuple[str, ...]:
    """Return what the plan asked for that the target cannot do (its capabilities say so)."""
    notes: list[str] = []
    capabilities = target.capabilities
    creates = (ActionKind.COPY_FILE, ActionKind.MAKE_DIR, ActionKind.SET_MODE)
    if not capabilities.can_set_mode and any(action.kind in creates for action in plan.actions):
        notes.append(
            f"{target.description}: this filesystem cannot set permission bits; "
            f"files and folders were written without their modes"
        )
    return tuple(notes)
