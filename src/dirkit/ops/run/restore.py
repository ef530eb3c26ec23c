"""Restore one file from the backup folder of a run: planned and executed as a run of its own (undoable)."""

from __future__ import annotations

from dataclasses import replace

from dirkit.backends.protocol import Backend
from dirkit.core.run.plan import Action, ActionKind, Plan, fingerprint_of, make_plan
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.filters import RESERVED_DIR_NAME
from dirkit.core.tree.paths import (
    ROOT,
    RelPath,
    display_path,
    is_inside,
    join_path,
    parent_path,
    path_parts,
    rel_path,
)
from dirkit.errors import NotFoundError, UsageError
from dirkit.ops.run.clock import utc_now
from dirkit.ops.run.execute import ExecuteOptions, RunResult, execute_plan, require_own_folders
from dirkit.ops.run.recovery import claim_tree, runs_on_tree
from dirkit.state.journal import Journal, RunRecord

RESTORE_OPERATION = "restore"


def _entry_or_none(target: Backend, path: RelPath) -> Entry | None:
    try:
        return target.stat(path)
    except NotFoundError:
        return None


def find_run(journal: Journal, target: Backend, run_id: str) -> RunRecord:
    """Return the run run_id on target, or raise UsageError naming the tree."""
    for run in runs_on_tree(journal, target):
        if run.run_id == run_id:
            return run
    where = display_path(target.description)
    raise UsageError(f"{where}: no run {run_id} on this tree (see 'dirkit backups {where}')")


def plan_file_restore(target: Backend, run: RunRecord, path: str) -> Plan:
    """Return the plan that puts back the copy of path kept in run's backup folder.

    What path holds now (a file or link) is moved into the restore run's own backups first; missing
    parent folders are made. Raise UsageError for a path that is not a file of that backup folder.
    """
    chosen = rel_path(path)
    if not chosen:
        raise UsageError(f"{display_path(path)}: name a file, not the tree itself")
    where = display_path(f"{target.description.rstrip('/')}/{chosen}")
    if is_inside(chosen, RelPath(RESERVED_DIR_NAME)) or is_inside(chosen, parent_path(run.backup_dir)):
        raise UsageError(f"{where}: lies in dirkit's own folders; only files of the tree are restored")
    backup_path = join_path(run.backup_dir, chosen)
    require_own_folders(target, parent_path(backup_path))
    kept = _entry_or_none(target, backup_path)
    if kept is None or kept.kind is not EntryKind.FILE:
        what = "is not there" if kept is None else f"is a {kept.kind.value}, not a file"
        raise UsageError(f"{where}: its copy in the backups of run {run.run_id} {what}")
    actions: list[Action] = []
    built = ROOT
    for part in path_parts(parent_path(chosen)):
        built = join_path(built, part)
        found = _entry_or_none(target, built)
        if found is None:
            actions.append(Action(ActionKind.MAKE_DIR, built))
        elif found.kind is not EntryKind.DIR:
            what = f"is a {found.kind.value}, not a folder"
            raise UsageError(f"{display_path(built)}: {what}; cannot restore {where}")
    current = _entry_or_none(target, chosen) if not actions else None
    if current is not None:
        if current.kind is EntryKind.DIR:
            raise UsageError(f"{where}: is a folder now; only a file or link is replaced by a restore")
        actions.append(Action(ActionKind.BACKUP, chosen, expected=fingerprint_of(current)))
    actions.append(
        Action(
            ActionKind.COPY_FILE,
            chosen,
            source_path=backup_path,
            size=kept.size,
            mtime_ns=kept.mtime_ns,
            mode=kept.mode,
            source_expected=fingerprint_of(kept),
        )
    )
    return make_plan(
        RESTORE_OPERATION,
        target.description,
        actions,
        source=target.description,
        options={"restores": run.run_id, "path": chosen},
        created=utc_now(),
    )


def restore_file(
    journal: Journal,
    target: Backend,
    run_id: str,
    path: str,
    execute: ExecuteOptions | None = None,
) -> RunResult:
    """Put back one file from the backups of run_id on target, as a journaled run (undo reverts it).

    The tree's one-run lock is held throughout (RefusedError naming the holder if it is taken).
    """
    with claim_tree(journal, target, RESTORE_OPERATION) as claim:
        run = find_run(journal, target, run_id)
        plan = plan_file_restore(target, run, path)
        chosen = replace(execute or ExecuteOptions(), run_id=claim.run_id, jobs=1)
        return execute_plan(plan, target, journal, target, chosen)
