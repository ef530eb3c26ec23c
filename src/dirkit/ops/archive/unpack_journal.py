"""The journal side of an unpack: a refused run, the roll-back of a stopped run, side effects on folders."""

from __future__ import annotations

import contextlib

from dirkit.backends.protocol import Backend
from dirkit.core.archive.unpack_plan import (
    OPERATION,
    UnpackPlan,
    dir_side_effects,
    plan_old_dir_times,
    plan_roll_back,
)
from dirkit.core.run.plan import make_plan
from dirkit.core.run.undo import StepStatus
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath, join_path
from dirkit.errors import BackendError, DirkitError, NotADirError, NotFoundError
from dirkit.ops.run.execute import BACKUP_ROOT, ExecuteOptions, execute_plan
from dirkit.state.journal import Journal, RunStatus, StepOutcome


def entry_or_none(backend: Backend, path: RelPath) -> Entry | None:
    try:
        return backend.stat(path)
    except (NotFoundError, NotADirError):
        return None


def record_refused_run(journal: Journal, backend: Backend, run_id: str, archive: str) -> None:
    """Journal an unpack refused before its first step as an interrupted run that did nothing."""
    with contextlib.suppress(DirkitError):
        empty = make_plan(OPERATION, backend.description, [], source=archive)
        execute_plan(empty, backend, journal, None, ExecuteOptions(jobs=1, run_id=run_id))
        journal.set_run_status(run_id, RunStatus.INTERRUPTED)


def roll_back(journal: Journal, backend: Backend, run_id: str, planned: UnpackPlan) -> None:
    """Take back what a stopped unpack did (plans run by the executor) and leave its run interrupted.

    Its steps are first marked as maybe done (a crash during the roll-back leaves them for undo); once
    every one is taken back they are marked skipped. The roll-back's own runs are kept in memory only.
    Last, the backup folder goes if empty and the directories that were there get their old mtimes.
    """
    with contextlib.suppress(DirkitError):
        if journal.run(run_id) is None:
            return
        steps = [
            step for step in journal.steps(run_id) if step.status in (StepStatus.DONE, StepStatus.PENDING)
        ]
        journal.finish_steps(run_id, [StepOutcome(step.seq, StepStatus.PENDING) for step in steps])
        journal.set_run_status(run_id, RunStatus.INTERRUPTED)
        with contextlib.closing(Journal.open_in_memory()) as scratch:
            undone = execute_plan(
                plan_roll_back(run_id, backend.description, steps),
                backend,
                scratch,
                None,
                ExecuteOptions(jobs=1),
            )
            if undone.ok:
                journal.finish_steps(run_id, [StepOutcome(step.seq, StepStatus.SKIPPED) for step in steps])
            remove_empty_dirs(backend, join_path(BACKUP_ROOT, run_id))
            for folder in (BACKUP_ROOT, RelPath(BACKUP_ROOT.split("/")[0])):
                with contextlib.suppress(BackendError):
                    backend.remove_dir(folder)
            times = plan_old_dir_times(run_id, backend.description, planned.existing_dirs)
            execute_plan(times, backend, scratch, None, ExecuteOptions(jobs=1))


def remove_empty_dirs(backend: Backend, top: RelPath, depth: int = 0) -> None:
    """Remove top and the directories below it when they hold nothing else (bounded depth)."""
    try:
        children = backend.list_dir(top)
    except BackendError:
        return
    if depth < 256:
        for child in children:
            if child.kind is EntryKind.DIR:
                remove_empty_dirs(backend, child.path, depth + 1)
    with contextlib.suppress(BackendError):
        backend.remove_dir(top)


def record_dir_side_effects(journal: Journal, backend: Backend, run_id: str, planned: UnpackPlan) -> None:
    """Journal, as done steps, how the run changed the modes and mtimes of directories that were there."""
    now = {
        path: entry for path in planned.existing_dirs if (entry := entry_or_none(backend, path)) is not None
    }
    steps = dir_side_effects(planned.existing_dirs, now, planned.plan)
    if not steps:
        return
    first = len(planned.plan.actions)
    journal.append_actions(run_id, steps)
    journal.finish_steps(run_id, [StepOutcome(first + index, StepStatus.DONE) for index in range(len(steps))])
