"""Notice runs that died (crash, kill -9), mark them interrupted, and clean their temporary files."""

from __future__ import annotations

import itertools
import logging
import os
import socket
from dataclasses import dataclass

from dirkit.backends.protocol import Backend
from dirkit.core.entry import EntryKind
from dirkit.core.filters import TEMP_MARKER
from dirkit.core.paths import RelPath, base_name, parent_path
from dirkit.core.plan import ActionKind
from dirkit.core.undo import StepStatus
from dirkit.errors import BackendError, NotFoundError, RefusedError
from dirkit.state.journal import Journal, RunStatus

log = logging.getLogger("dirkit")

WRITING_KINDS = (ActionKind.COPY_FILE, ActionKind.MAKE_SYMLINK, ActionKind.HARD_LINK, ActionKind.MAKE_DIR)
"""Steps that may make their new content under a temporary name beside their path first."""
REPLACING_KINDS = (*WRITING_KINDS, ActionKind.RENAME)
"""Steps that fill a path right after a backup step moved its old content aside."""


@dataclass(frozen=True, slots=True)
class RecoveredRun:
    """A run found dead and marked interrupted, with the temporary files removed for it."""

    run_id: str
    operation: str
    temp_files_removed: int
    restored: tuple[RelPath, ...] = ()
    """Paths a replace had moved into the backups but not yet refilled: their old content is back."""


def process_alive(pid: int, host: str) -> bool:
    """Tell whether a process that started a run may still be running (always True for other hosts)."""
    if host != socket.gethostname():
        return True
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_target(journal: Journal, target: Backend) -> list[RecoveredRun]:
    """Mark dead runs on target interrupted and remove their temporary files.

    Raise RefusedError if another live dirkit process is running on target.
    """
    recovered: list[RecoveredRun] = []
    for run in journal.runs_for_target(target.description):
        if run.status is not RunStatus.RUNNING:
            continue
        if process_alive(run.pid, run.host):
            raise RefusedError(
                f"{target.description}: another dirkit run ({run.run_id}, {run.operation}, pid {run.pid} "
                f"on {run.host}) is working on this tree; wait for it to finish"
            )
        restored = restore_replaced(journal, target, run.run_id)
        removed = remove_temp_files(journal, target, run.run_id)
        journal.set_run_status(run.run_id, RunStatus.INTERRUPTED)
        log.warning("run %s was interrupted; removed %d temporary files", run.run_id, removed)
        for path in restored:
            log.warning(
                "run %s was interrupted while replacing %s; its old content is back", run.run_id, path
            )
        recovered.append(RecoveredRun(run.run_id, run.operation, removed, tuple(restored)))
    return recovered


def restore_replaced(journal: Journal, target: Backend, run_id: str) -> list[RelPath]:
    """Close the gap of replaces cut between their two renames: move the old content back; return paths.

    A replace journals a backup step and the creating step after it; when both are still pending, the
    path is missing and its backup exists, the run died after moving the old content aside.
    """
    steps = journal.steps(run_id)
    restored: list[RelPath] = []
    for step, after in itertools.pairwise(steps):
        if not (
            step.action.kind is ActionKind.BACKUP
            and step.status is StepStatus.PENDING
            and after.status is StepStatus.PENDING
            and after.action.kind in REPLACING_KINDS
            and after.action.path == step.action.path
            and step.backup_path is not None
        ):
            continue
        path = step.action.path
        try:
            target.stat(path)
            continue
        except NotFoundError:
            pass
        except BackendError:
            continue
        try:
            target.rename(step.backup_path, path)
        except BackendError as error:
            log.warning("cannot move %s back to %s: %s", step.backup_path, path, error)
            continue
        restored.append(path)
    return restored


def remove_temp_files(journal: Journal, target: Backend, run_id: str) -> int:
    """Remove the temporary files that the pending writing steps of a run may have left; return how many."""
    prefixes: dict[RelPath, set[str]] = {}
    for step in journal.steps(run_id):
        if step.status is StepStatus.PENDING and step.action.kind in WRITING_KINDS:
            path = step.action.path
            prefixes.setdefault(parent_path(path), set()).add(f".{base_name(path)[:100]}{TEMP_MARKER}")
    removed = 0
    for directory, names in prefixes.items():
        try:
            listing = target.list_dir(directory)
        except BackendError:
            continue
        for entry in listing:
            name = base_name(entry.path)
            if TEMP_MARKER in name and any(name.startswith(prefix) for prefix in names):
                try:
                    if entry.kind is EntryKind.DIR:
                        target.remove_dir(entry.path)
                    else:
                        target.remove_file(entry.path)
                except BackendError as error:
                    log.warning("cannot remove temporary file %s: %s", entry.path, error)
                    continue
                removed += 1
    return removed
