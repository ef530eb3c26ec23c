"""Unpack a tar archive into a new or empty local DEST in one pass, through a staging folder inside it.

Each member is checked (UnpackPlanner, the same checks and plan as the two-pass unpack) and written
as soon as it is read, under DEST/.dirkit-tmp-unpack-RUN-ID/, which scans ignore: nothing appears
under a final name until every member was read, checked and written. Only then is the whole plan
journaled and the top-level entries renamed into place; the steps are marked done in one batch, so
'dirkit undo DEST' reverts the run like any other unpack. A refusal, a limit, a damaged member or an
interrupt before that point removes the staging folder and nothing else was touched.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Sequence

from dirkit.backends.local_files import LocalFiles
from dirkit.backends.local_staging import StagingFolder, remove_stale_folders
from dirkit.backends.protocol import Backend
from dirkit.core.archive.formats import ArchiveFormat
from dirkit.core.archive.unpack_plan import UnpackPlan, UnpackPlanner, UnpackSettings
from dirkit.core.run.plan import Action, ActionKind
from dirkit.core.run.plan_json import totals_to_json
from dirkit.core.run.undo import StepStatus
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.filters import TEMP_MARKER
from dirkit.core.tree.paths import ROOT, RelPath, display_path
from dirkit.errors import InterruptedRunError, UsageError
from dirkit.ops.archive.member_bytes import WrittenBytes
from dirkit.ops.archive.members import DAMAGED_STREAM_ERRORS, TarMemberData, iter_tar_data
from dirkit.ops.archive.unpack_journal import record_refused_run, roll_back
from dirkit.ops.run.clock import utc_now
from dirkit.ops.run.execute import BACKUP_ROOT
from dirkit.state.journal import Journal, RunStatus, StepOutcome

STAGING_PREFIX = f"{TEMP_MARKER}unpack-"
"""How the staging folder of an unpack starts (DEST/.dirkit-tmp-unpack-RUN-ID)."""
WRITE_CHUNK = 1024 * 1024
_META_KINDS = (ActionKind.SET_MODE, ActionKind.SET_MTIME)


def remove_stale_staging(local: LocalFiles) -> None:
    """Remove staging folders that earlier unpacks into DEST left behind (a crash, kill -9)."""
    remove_stale_folders(local.os_path(ROOT), STAGING_PREFIX)


def interrupted(dest: str) -> InterruptedRunError:
    """Return the error of an unpack stopped by a signal before anything got a final name."""
    return InterruptedRunError(f"{display_path(dest)}: unpack interrupted; what it wrote was removed")


class _MemberPieces:
    """Reads a member's bytes for the staging folder: counted against the limits, damage named, stoppable."""

    def __init__(
        self, data: TarMemberData, counter: WrittenBytes, settings: UnpackSettings, path: RelPath
    ) -> None:
        self.data = data
        self.counter = counter
        self.settings = settings
        self.path = path

    def read(self, remaining: int, stop: threading.Event | None) -> bytes:
        """Return the next piece (at most 1 MiB) of the member's bytes."""
        if stop is not None and remaining > WRITE_CHUNK and stop.is_set():
            raise interrupted(self.settings.dest)
        try:
            piece = self.data.read(min(remaining, WRITE_CHUNK))
        except DAMAGED_STREAM_ERRORS as error:
            where = display_path(self.path)
            raise UsageError(f"{self.settings.archive}: damaged member {where}: {error}") from error
        self.counter.add(len(piece))
        return piece


def _carry_out(
    staging: StagingFolder,
    action: Action,
    pieces: _MemberPieces | None,
    stop: threading.Event | None,
) -> None:
    """Make, in the staging folder, the directory, file, hard link or symlink one action names."""
    kind = action.kind
    if kind is ActionKind.COPY_FILE:
        assert pieces is not None
        mode = 0o644 if action.mode is None else action.mode
        staging.write_file(
            action.path, lambda remaining: pieces.read(remaining, stop), action.size, mode, action.mtime_ns
        )
    elif kind is ActionKind.MAKE_DIR:
        staging.make_dir(action.path)
    elif kind is ActionKind.HARD_LINK:
        assert action.source_path is not None
        staging.hard_link(action.source_path, action.path)
    elif kind is ActionKind.MAKE_SYMLINK:
        staging.make_symlink(action.path, action.link_target or "")
    else:
        raise UsageError(f"unexpected step {kind.value} for {display_path(action.path)} in an unpack")


def stage_tar(
    archive_format: ArchiveFormat,
    settings: UnpackSettings,
    root: Entry | None,
    staging: StagingFolder,
    stop: threading.Event | None,
) -> tuple[UnpackPlan, int]:
    """Read, check and write every member into the staging folder; return the plan and the bytes written.

    The directories' modes and times are set too, except those of the top-level ones (set once
    they are in place). Raise (leaving the staging folder for the caller to remove) on any refusal.
    """
    planner = UnpackPlanner(settings, None, root)
    counter = WrittenBytes(settings, 0)
    actions = planner.actions
    done = 0
    with contextlib.closing(iter_tar_data(settings.archive, archive_format)) as members:
        for member, data in members:
            if stop is not None and stop.is_set():
                raise interrupted(settings.dest)
            path = planner.add(member)
            while done < len(actions):
                action = actions[done]
                done += 1
                copies = action.kind is ActionKind.COPY_FILE
                pieces = _MemberPieces(data, counter, settings, path) if copies else None
                _carry_out(staging, action, pieces, stop)
    planned = planner.finish()
    for action in planned.plan.actions[done:]:
        if action.kind not in _META_KINDS:
            _carry_out(staging, action, None, stop)
        elif "/" not in action.path:
            continue
        elif action.kind is ActionKind.SET_MODE and action.mode is not None:
            staging.set_mode(action.path, action.mode)
        elif action.kind is ActionKind.SET_MTIME and action.mtime_ns is not None:
            staging.set_mtime(action.path, action.mtime_ns)
    return planned, counter.total


def top_level_paths(actions: Sequence[Action]) -> list[RelPath]:
    """Return the paths of the top-level entries a plan creates, in plan order."""
    creating = (ActionKind.MAKE_DIR, ActionKind.COPY_FILE, ActionKind.HARD_LINK, ActionKind.MAKE_SYMLINK)
    return [action.path for action in actions if action.kind in creating and "/" not in action.path]


def journal_staged_run(
    journal: Journal, backend: Backend, run_id: str, planned: UnpackPlan, archive: str
) -> None:
    """Journal the run with every step of its plan, all started (before the first rename into place)."""
    plan = planned.plan
    journal.start_run(
        run_id,
        plan.operation,
        backend.description,
        archive,
        RelPath(f"{BACKUP_ROOT}/{run_id}"),
        os.getpid(),
        socket.gethostname(),
        utc_now(),
        totals_to_json(plan.totals),
        actions=plan.actions,
    )
    journal.mark_started(run_id, len(plan.actions))


def move_into_place(backend: Backend, staging: StagingFolder, planned: UnpackPlan) -> None:
    """Rename the top-level entries from the staging folder into DEST, then set their modes and times.

    A path that appeared in DEST meanwhile is never replaced (AlreadyExistsError).
    """
    for path in top_level_paths(planned.plan.actions):
        staging.move_into_tree(path)
    for action in planned.plan.actions:
        if action.kind not in _META_KINDS or "/" in action.path or not action.path:
            continue
        if backend.stat(action.path).kind is not EntryKind.DIR:
            continue
        if action.kind is ActionKind.SET_MODE and action.mode is not None:
            backend.set_mode(action.path, action.mode)
        elif action.kind is ActionKind.SET_MTIME and action.mtime_ns is not None:
            backend.set_mtime(action.path, action.mtime_ns)


def finish_staged_run(journal: Journal, run_id: str, planned: UnpackPlan, bytes_written: int) -> None:
    """Mark every step of a staged run done, and the run finished."""
    count = len(planned.plan.actions)
    journal.finish_steps(run_id, [StepOutcome(seq, StepStatus.DONE) for seq in range(count)])
    summary = {
        "steps_done": count,
        "files_copied": planned.plan.totals.files,
        "bytes_copied": bytes_written,
        "failures": 0,
        "conflicts": 0,
    }
    journal.finish_run(run_id, RunStatus.DONE, utc_now(), dict(summary))


def unpack_staged(
    archive_format: ArchiveFormat,
    settings: UnpackSettings,
    backend: Backend,
    local: LocalFiles,
    made_dest: bool,
    journal: Journal,
    run_id: str,
    stop: threading.Event | None,
) -> tuple[UnpackPlan, int]:
    """Unpack a tar into a new or empty local DEST through a staging folder; return the plan and the bytes."""
    root = None if made_dest else backend.stat(ROOT, follow_symlinks=True)
    staging = StagingFolder(local.os_path(ROOT), f"{STAGING_PREFIX}{run_id}")
    try:
        try:
            planned, written = stage_tar(archive_format, settings, root, staging, stop)
        except BaseException:
            if settings.overwrite:
                record_refused_run(journal, backend, run_id, settings.archive)
            raise
        try:
            journal_staged_run(journal, backend, run_id, planned, settings.archive)
            move_into_place(backend, staging, planned)
            finish_staged_run(journal, run_id, planned, written)
        except BaseException:
            roll_back(journal, backend, run_id, planned)
            raise
    finally:
        staging.remove()
    return planned, written
