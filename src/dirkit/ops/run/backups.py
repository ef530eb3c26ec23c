"""The backup folders of runs on a target: list them with their sizes, and prune old ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dirkit.backends.protocol import Backend
from dirkit.core.run.names import BACKUP_ROOT
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import RelPath, base_name
from dirkit.errors import BackendError, NotADirError, NotFoundError
from dirkit.ops.run.execute import require_own_folders
from dirkit.ops.run.recovery import runs_on_tree
from dirkit.state.journal import Journal, RunRecord

DEFAULT_KEEP = 20
"""Backups of this many most recent runs are kept."""
WALK_LIMIT = 10_000_000
"""Most entries a backup folder walk visits (a bound on every loop)."""


@dataclass(frozen=True, slots=True)
class BackupFolder:
    """The backups of one run: where they are, how much they hold, and the run, if the journal knows it."""

    run_id: str
    path: RelPath
    files: int
    bytes: int
    run: RunRecord | None
    exists: bool = True
    """False for a run that backed up nothing (listed with every_run)."""


def measure_folder(target: Backend, top: RelPath) -> tuple[int, int]:
    """Return the number of files and bytes below a folder of target."""
    files = size = 0
    stack = [top]
    visited = 0
    while stack and visited < WALK_LIMIT:
        directory = stack.pop()
        try:
            listing = target.list_dir(directory)
        except BackendError:
            continue
        for entry in listing:
            visited += 1
            if entry.kind is EntryKind.DIR:
                stack.append(entry.path)
            elif entry.kind is EntryKind.FILE:
                files += 1
                size += entry.size
    return files, size


def list_backup_folders(
    target: Backend, journal: Journal, measure: bool = True, every_run: bool = False
) -> list[BackupFolder]:
    """Return the backup folders of target, oldest run first (sizes zero unless measure).

    every_run also lists the journaled runs that have no backup folder (they backed up nothing).
    Raise RefusedError if a part of the backup folder is a link (it is never listed through one).
    """
    require_own_folders(target, BACKUP_ROOT)
    runs = {run.run_id: run for run in runs_on_tree(journal, target)}
    folders: dict[str, RelPath] = {}
    try:
        for entry in target.list_dir(BACKUP_ROOT):
            if entry.kind is EntryKind.DIR:
                folders[base_name(entry.path)] = entry.path
    except (NotFoundError, NotADirError):
        pass
    for run in runs.values():
        if run.run_id not in folders:
            try:
                if target.stat(run.backup_dir).kind is EntryKind.DIR:
                    folders[run.run_id] = run.backup_dir
            except BackendError:
                continue
    found: list[BackupFolder] = []
    listed = set(folders) | (set(runs) if every_run else set())
    for run_id in sorted(listed):
        if run_id not in folders:
            found.append(BackupFolder(run_id, runs[run_id].backup_dir, 0, 0, runs[run_id], exists=False))
            continue
        files, size = measure_folder(target, folders[run_id]) if measure else (0, 0)
        found.append(BackupFolder(run_id, folders[run_id], files, size, runs.get(run_id)))
    return found


def remove_tree(target: Backend, top: RelPath) -> None:
    """Remove a folder of target and everything below it, for good."""
    order: list[tuple[RelPath, bool]] = []
    stack = [top]
    while stack and len(order) < WALK_LIMIT:
        directory = stack.pop()
        order.append((directory, True))
        for entry in target.list_dir(directory):
            if entry.kind is EntryKind.DIR:
                stack.append(entry.path)
            else:
                order.append((entry.path, False))
    for path, is_dir in reversed(order):
        if is_dir:
            target.remove_dir(path)
        else:
            target.remove_file(path)


def prune_backups(
    target: Backend,
    journal: Journal,
    keep: int = DEFAULT_KEEP,
    measure: bool = False,
    on_failure: Callable[[BackupFolder, BackendError], None] | None = None,
) -> list[BackupFolder]:
    """Delete the backup folders of all but the newest keep runs; return those deleted.

    A folder that cannot be removed is passed to on_failure and the others are still pruned
    (without on_failure, the first such error is raised after the others were tried).
    """
    folders = list_backup_folders(target, journal, measure=measure)
    doomed = folders[: max(0, len(folders) - max(0, keep))]
    removed: list[BackupFolder] = []
    first_error: BackendError | None = None
    for folder in doomed:
        try:
            remove_tree(target, folder.path)
        except BackendError as error:
            if on_failure is not None:
                on_failure(folder, error)
            elif first_error is None:
                first_error = error
            continue
        removed.append(folder)
    if first_error is not None:
        raise first_error
    return removed
