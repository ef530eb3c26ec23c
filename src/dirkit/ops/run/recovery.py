"""The one-run-per-tree claim, tree identity, and recovery of runs that died (crash, kill -9)."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass

from dirkit.backends.local_files import local_files, local_identity, real_path_of
from dirkit.backends.protocol import Backend
from dirkit.backends.trees import REMOTE_SCHEMES
from dirkit.core.run.names import is_temp_name_for, temp_name_start
from dirkit.core.run.plan import ActionKind
from dirkit.core.run.undo import StepStatus
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import ROOT, RelPath, base_name, display_path, parent_path
from dirkit.errors import BackendError, NotFoundError, RefusedError
from dirkit.ops.run.clock import new_run_id, utc_now
from dirkit.state.journal import Journal, RunRecord, RunStatus, TreeIdentity
from dirkit.state.tree_lock import LockHolder, lock_holder, try_lock_tree

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


def identity_of_location(location: str) -> TreeIdentity | None:
    """Return the identity of a tree named by a local path or URL (None: a local path that is gone).

    Local trees are known by the device and inode of their root (any symlink or bind mount that
    reaches it shares them) and their real path; other trees by their URL (to be normalized).
    """
    if location.startswith(REMOTE_SCHEMES) or not os.path.isabs(location):
        url = location.rstrip("/") or location
        return TreeIdentity(f"url:{url}", url)
    found = local_identity(location)
    if found is None:
        return None
    dev, ino, real = found
    return TreeIdentity(f"local:{dev}:{ino}", real)


def identify_tree(target: Backend) -> TreeIdentity:
    """Return the identity of a tree: device and inode of its root and its real path, or its URL."""
    local = local_files(target)
    location = target.description if local is None else local.os_path(ROOT)
    identity = identity_of_location(location)
    if identity is not None:
        return identity
    real = real_path_of(location)
    return TreeIdentity(f"path:{real}", real)


def key_unkeyed_runs(journal: Journal) -> None:
    """Give runs recorded without a tree identity (older dirkit, or executed without a claim) theirs."""
    for target in journal.unkeyed_targets():
        identity = identity_of_location(target)
        if identity is not None:
            journal.key_runs_of_target(target, identity)


def runs_on_tree(journal: Journal, target: Backend) -> list[RunRecord]:
    """Return the runs on target, however it was spelled when they ran, oldest first."""
    key_unkeyed_runs(journal)
    return journal.runs_for_tree(identify_tree(target))


@dataclass(frozen=True, slots=True)
class TreeClaim:
    """A tree held by this process for one run: its identity, the id the run gets, dead runs found."""

    identity: TreeIdentity
    run_id: str
    recovered: tuple[RecoveredRun, ...]


def busy_message(journal: Journal, target: Backend, identity: TreeIdentity) -> str:
    """Return why a tree cannot be claimed, naming the run that holds it."""
    where = display_path(target.description)
    holder = lock_holder(journal, identity)
    if holder is None:
        return f"{where}: another dirkit process holds this tree's lock; wait for it to finish"
    return (
        f"{where}: another dirkit run is working on this tree: run {holder.run_id} ({holder.operation}, "
        f"pid {holder.pid} on {holder.host}, started {holder.started_at}); wait for it to finish"
    )


@contextlib.contextmanager
def claim_tree(
    journal: Journal, target: Backend, operation: str, run_id: str | None = None
) -> Iterator[TreeClaim]:
    """Within the block, hold target's one-run lock (raise RefusedError naming the holder if taken).

    Taking it marks the runs on target that died (crash, kill -9) interrupted and removes their
    temporary files. The lock is keyed by the tree's identity, so every spelling of a tree shares it.
    """
    identity = identify_tree(target)
    key_unkeyed_runs(journal)
    holder = LockHolder(run_id or new_run_id(), operation, os.getpid(), socket.gethostname(), utc_now())
    lock = try_lock_tree(journal, identity, holder)
    if lock is None:
        raise RefusedError(busy_message(journal, target, identity))
    try:
        recovered = recover_dead_runs(journal, target, identity)
        yield TreeClaim(identity, holder.run_id, tuple(recovered))
    finally:
        lock.release()


def recover_dead_runs(journal: Journal, target: Backend, identity: TreeIdentity) -> list[RecoveredRun]:
    """Mark the runs on a tree still marked running interrupted (call with the tree's lock held)."""
    recovered: list[RecoveredRun] = []
    for run in journal.runs_for_tree(identity):
        if run.status is not RunStatus.RUNNING:
            continue
        if run.host != socket.gethostname() and process_alive(run.pid, run.host):
            raise RefusedError(
                f"{display_path(target.description)}: run {run.run_id} ({run.operation}, pid {run.pid} "
                f"on {run.host}, started {run.started_at}) is marked running on another host; "
                f"wait for it to finish"
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


def recover_target(journal: Journal, target: Backend) -> list[RecoveredRun]:
    """Mark dead runs on target interrupted and remove their temporary files.

    Raise RefusedError if another live dirkit process is running on target.
    """
    with claim_tree(journal, target, "recover") as claim:
        return list(claim.recovered)


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
            prefixes.setdefault(parent_path(path), set()).add(temp_name_start(base_name(path)))
    removed = 0
    for directory, names in prefixes.items():
        try:
            listing = target.list_dir(directory)
        except BackendError:
            continue
        for entry in listing:
            name = base_name(entry.path)
            if is_temp_name_for(name, names):
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
