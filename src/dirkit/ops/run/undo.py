"""Undo a run on a target: plan the reversal from its journal and execute it as a run of its own."""

from __future__ import annotations

from dataclasses import replace

from dirkit.backends.protocol import Backend
from dirkit.core.run.plan import ActionKind, Plan
from dirkit.core.run.undo import JournalStep, StepStatus, plan_undo, plan_undo_continuation
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import display_path
from dirkit.errors import BackendError, RefusedError, UsageError
from dirkit.ops.run.clock import utc_now
from dirkit.ops.run.execute import ExecuteOptions, RunResult, execute_plan
from dirkit.ops.run.recovery import claim_tree, runs_on_tree
from dirkit.state.journal import Journal, RunRecord, RunStatus

UNFINISHED = (RunStatus.INTERRUPTED, RunStatus.FAILED)
"""How an undo run ends that a later undo goes on with (rather than reverting it); so does one whose
items failed (other than conflicts, which a retry would meet again)."""


def choose_run(journal: Journal, target: Backend, run_id: str | None) -> RunRecord:
    """Return the run to undo: run_id, or the last run on target; raise a clear error if it cannot be."""
    runs = runs_on_tree(journal, target)
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


def undo_stopped(run: RunRecord) -> bool:
    """Tell whether an undo run stopped before it finished: interrupted, failed, or items failed."""
    if run.operation != "undo" or run.undoes is None:
        return False
    if run.status in UNFINISHED:
        return True
    failures, conflicts = run.summary.get("failures", 0), run.summary.get("conflicts", 0)
    return isinstance(failures, int) and isinstance(conflicts, int) and failures > conflicts


def unfinished_undo(journal: Journal, target: Backend, run: RunRecord) -> RunRecord | None:
    """Return the undo run to go on with instead of reverting run: run itself, or the last undo of it.

    An undo run that stopped (interrupted, disk full) is finished, never reverted; so is the undo of
    run when its last undo stopped.
    """
    if undo_stopped(run):
        return run
    undos = [other for other in runs_on_tree(journal, target) if other.undoes == run.run_id]
    if undos and undo_stopped(undos[-1]):
        return undos[-1]
    return None


def plan_undo_claimed(journal: Journal, target: Backend, run_id: str | None = None) -> Plan:
    """Return the plan that reverts a run on target, or finishes its stopped undo (hold the tree's claim)."""
    run = choose_run(journal, target, run_id)
    where = display_path(target.description)
    stopped = unfinished_undo(journal, target, run)
    if stopped is not None and stopped.undoes is not None:
        return plan_undo_continuation(
            stopped.run_id,
            stopped.undoes,
            target.description,
            journal.planned_actions(stopped.run_id),
            journal.steps(stopped.run_id),
            created=utc_now(),
        )
    for other in runs_on_tree(journal, target):
        if other.undoes == run.run_id and other.status is RunStatus.DONE:
            redo = [later for later in runs_on_tree(journal, target) if later.undoes == other.run_id]
            if not redo:
                raise RefusedError(
                    f"{where}: run {run.run_id} was already undone by run {other.run_id}; "
                    f"undo {other.run_id} to redo it"
                )
    steps: list[JournalStep] = []
    for part in [*continued_undos(journal, target, run), run]:
        part_steps = journal.steps(part.run_id)
        backed_up = any(
            step.action.kind is ActionKind.BACKUP and step.status is StepStatus.DONE for step in part_steps
        )
        if backed_up and not _folder_exists(target, part):
            raise RefusedError(
                f"{where}: the backups of run {part.run_id} ({part.backup_dir}) are gone (pruned or "
                f"deleted); run {run.run_id} cannot be undone"
            )
        offset = steps[-1].seq + 1 if steps else 0
        steps.extend(step._replace(seq=step.seq + offset) for step in part_steps)
    return plan_undo(run.run_id, target.description, steps, created=utc_now())


def continued_undos(journal: Journal, target: Backend, run: RunRecord) -> list[RunRecord]:
    """Return the stopped undo runs that run finished (oldest first): undoing run reverts them too.

    Every undo of a run after one that stopped goes on with it, so the stopped undos of the same run
    right before run are parts of one undo with it.
    """
    if run.operation != "undo" or run.undoes is None:
        return []
    undos = [other for other in runs_on_tree(journal, target) if other.undoes == run.undoes]
    earlier = [other for other in undos if other.run_id < run.run_id]
    chain: list[RunRecord] = []
    for other in reversed(earlier):
        if not undo_stopped(other):
            break
        chain.append(other)
    return list(reversed(chain))


def plan_undo_run(journal: Journal, target: Backend, run_id: str | None = None) -> Plan:
    """Return the plan that reverts a run on target (the last one by default), or finishes its undo."""
    with claim_tree(journal, target, "undo"):
        return plan_undo_claimed(journal, target, run_id)


def _folder_exists(target: Backend, run: RunRecord) -> bool:
    try:
        return target.stat(run.backup_dir).kind is EntryKind.DIR
    except BackendError:
        return False


def undo_run(
    journal: Journal,
    target: Backend,
    run_id: str | None = None,
    execute: ExecuteOptions | None = None,
) -> RunResult:
    """Revert a run on target (the last one by default), as a journaled run of its own.

    If the run's last undo stopped (or run_id names an undo that stopped), that undo is finished.
    """
    with claim_tree(journal, target, "undo") as claim:
        plan = plan_undo_claimed(journal, target, run_id)
        undoes = str(plan.options.get("undoes"))
        chosen = replace(execute or ExecuteOptions(), undoes=undoes, run_id=claim.run_id)
        return execute_plan(plan, target, journal, None, chosen)
