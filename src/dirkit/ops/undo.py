"""Undo a run on a target: plan the reversal from its journal and execute it as a run of its own."""

from __future__ import annotations

from dirkit.backends.protocol import Backend
from dirkit.core.entry import EntryKind
from dirkit.core.paths import display_path
from dirkit.core.plan import ActionKind, Plan
from dirkit.core.undo import StepStatus, plan_undo
from dirkit.errors import NotFoundError, RefusedError, UsageError
from dirkit.ops.execute import ExecuteOptions, RunResult, execute_plan, utc_now
from dirkit.ops.recovery import recover_target
from dirkit.state.journal import Journal, RunRecord, RunStatus


def choose_run(journal: Journal, target: Backend, run_id: str | None) -> RunRecord:
    """Return the run to undo: run_id, or the last run on target; raise a clear error if it cannot be."""
    runs = journal.runs_for_target(target.description)
    where = display_path(target.description)
    if run_id is None:
        candidates = [run for run in runs if run.status is not RunStatus.RUNNING]
        if not candidates:
            raise UsageError(f"{where}: no dirkit run on this tree to undo")
        return candidates[-1]
    for run in runs:
        if run.run_id == run_id:
            if run.status is RunStatus.RUNNING:
                raise RefusedError(f"{where}: run {run_id} is still running")
            return run
    raise UsageError(f"{where}: no run {run_id} on this tree (see 'dirkit backups {where}')")


def plan_undo_run(journal: Journal, target: Backend, run_id: str | None = None) -> Plan:
    """Return the plan that reverts a run on target (the last one by default)."""
    recover_target(journal, target)
    run = choose_run(journal, target, run_id)
    where = display_path(target.description)
    for other in journal.runs_for_target(target.description):
        if other.undoes == run.run_id and other.status is RunStatus.DONE:
            redo = [
                later for later in journal.runs_for_target(target.description) if later.undoes == other.run_id
            ]
            if not redo:
                raise RefusedError(
                    f"{where}: run {run.run_id} was already undone by run {other.run_id}; "
                    f"undo {other.run_id} to redo it"
                )
    steps = journal.steps(run.run_id)
    backed_up = any(
        step.action.kind is ActionKind.BACKUP and step.status is StepStatus.DONE for step in steps
    )
    if backed_up and not _folder_exists(target, run):
        raise RefusedError(
            f"{where}: the backups of run {run.run_id} ({run.backup_dir}) are gone (pruned or deleted); "
            f"it cannot be undone"
        )
    return plan_undo(run.run_id, target.description, steps, created=utc_now())


def _folder_exists(target: Backend, run: RunRecord) -> bool:
    try:
        return target.stat(run.backup_dir).kind is EntryKind.DIR
    except NotFoundError:
        return False


def undo_run(
    journal: Journal,
    target: Backend,
    run_id: str | None = None,
    execute: ExecuteOptions | None = None,
) -> RunResult:
    """Revert a run on target (the last one by default), as a journaled run of its own."""
    plan = plan_undo_run(journal, target, run_id)
    undoes = str(plan.options.get("undoes"))
    base = execute or ExecuteOptions()
    chosen = ExecuteOptions(
        jobs=base.jobs,
        backup_root=base.backup_root,
        stop=base.stop,
        on_progress=base.on_progress,
        fsync=base.fsync,
        undoes=undoes,
    )
    return execute_plan(plan, target, journal, None, chosen)
