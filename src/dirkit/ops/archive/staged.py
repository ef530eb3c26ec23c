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
import shutil
import socket
import stat
import threading
from collections.abc import Sequence

from dirkit.backends.local_files import LocalFiles
from dirkit.backends.protocol import Backend
from dirkit.core.archive.formats import ArchiveFormat
from dirkit.core.archive.unpack_plan import UnpackPlan, UnpackPlanner, UnpackSettings
from dirkit.core.run.plan import Action, ActionKind
from dirkit.core.run.plan_json import totals_to_json
from dirkit.core.run.undo import StepStatus
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.filters import TEMP_MARKER
from dirkit.core.tree.paths import ROOT, RelPath, display_path
from dirkit.errors import AlreadyExistsError, InterruptedRunError, UsageError, translate_os_error
from dirkit.ops.archive.member_bytes import WrittenBytes
from dirkit.ops.archive.members import DAMAGED_STREAM_ERRORS, TarMemberData, iter_tar_data
from dirkit.ops.archive.unpack_journal import record_refused_run, roll_back
from dirkit.ops.run.clock import utc_now
from dirkit.ops.run.execute import BACKUP_ROOT
from dirkit.state.journal import Journal, RunStatus, StepOutcome

STAGING_PREFIX = f"{TEMP_MARKER}unpack-"
"""How the staging folder of an unpack starts (DEST/.dirkit-tmp-unpack-RUN-ID)."""
WRITE_CHUNK = 1024 * 1024
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
_META_KINDS = (ActionKind.SET_MODE, ActionKind.SET_MTIME)


def remove_stale_staging(local: LocalFiles) -> None:
    """Remove staging folders that earlier unpacks into DEST left behind (a crash, kill -9)."""
    root = local.os_path(RelPath(""))
    with contextlib.suppress(OSError), os.scandir(root) as listing:
        stale = [entry.path for entry in listing if entry.name.startswith(STAGING_PREFIX)]
    for path in stale:
        remove_staging(path)


def remove_staging(path: str) -> None:
    """Remove a staging folder and everything in it (never following links), best effort.

    Its directories are first made writable again (an archive may give them mode 0555).
    """
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)
    for folder, dirs, _files in os.walk(path):
        for name in dirs:
            child = os.path.join(folder, name)
            with contextlib.suppress(OSError):
                if not os.path.islink(child):
                    os.chmod(child, 0o700)
    shutil.rmtree(path, ignore_errors=True)


def interrupted(dest: str) -> InterruptedRunError:
    """Return the error of an unpack stopped by a signal before anything got a final name."""
    return InterruptedRunError(f"{display_path(dest)}: unpack interrupted; what it wrote was removed")


class _StagingWriter:
    """Carries out, inside the staging folder, the actions the planner adds for each member."""

    def __init__(
        self, staging: str, counter: WrittenBytes, settings: UnpackSettings, stop: threading.Event | None
    ) -> None:
        self.staging = staging
        self.counter = counter
        self.archive = settings.archive
        self.dest = settings.dest
        self.stop = stop
        umask = os.umask(0o022)
        os.umask(umask)
        self.umask = umask

    def os_path(self, path: RelPath) -> str:
        """Return the OS path of path inside the staging folder."""
        return f"{self.staging}/{path}"

    def carry_out(self, action: Action, data: TarMemberData | None) -> None:
        """Make the directory, file, hard link or symlink one action names."""
        kind = action.kind
        target = f"{self.staging}/{action.path}"
        try:
            if kind is ActionKind.COPY_FILE:
                assert data is not None
                self._write_file(target, action, data)
            elif kind is ActionKind.MAKE_DIR:
                os.mkdir(target, 0o700)
            elif kind is ActionKind.HARD_LINK:
                assert action.source_path is not None
                os.link(self.os_path(action.source_path), target, follow_symlinks=False)
            elif kind is ActionKind.MAKE_SYMLINK:
                os.symlink(action.link_target or "", target)
            else:
                raise UsageError(f"{self.archive}: unexpected step {kind.value} for {action.path}")
        except OSError as error:
            raise translate_os_error(error, target) from error

    def _write_file(self, target: str, action: Action, data: TarMemberData) -> None:
        mode = 0o644 if action.mode is None else action.mode
        descriptor = os.open(target, _NEW_FILE, mode)
        try:
            remaining = action.size
            while remaining > 0:
                try:
                    chunk = data.read(min(remaining, WRITE_CHUNK))
                except DAMAGED_STREAM_ERRORS as error:
                    where = display_path(action.path)
                    raise UsageError(f"{self.archive}: damaged member {where}: {error}") from error
                remaining -= len(chunk)
                self.counter.add(len(chunk))
                if remaining and self.stop is not None and self.stop.is_set():
                    raise interrupted(self.dest)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(descriptor, view) :]
            if mode & self.umask:
                os.fchmod(descriptor, mode)
            if action.mtime_ns is not None:
                os.utime(descriptor, ns=(action.mtime_ns, action.mtime_ns))
        finally:
            os.close(descriptor)


def stage_tar(
    archive: str,
    archive_format: ArchiveFormat,
    settings: UnpackSettings,
    root: Entry | None,
    staging: str,
    stop: threading.Event | None,
) -> tuple[UnpackPlan, int]:
    """Read, check and write every member into the staging folder; return the plan and the bytes written.

    The directories' modes and times are set too, except those of the top-level ones (set once
    they are in place). Raise (leaving the staging folder for the caller to remove) on any refusal.
    """
    planner = UnpackPlanner(settings, None, root)
    counter = WrittenBytes(settings, 0)
    writer = _StagingWriter(staging, counter, settings, stop)
    actions = planner.actions
    done = 0
    with contextlib.closing(iter_tar_data(archive, archive_format)) as members:
        for member, data in members:
            if stop is not None and stop.is_set():
                raise interrupted(settings.dest)
            planner.add(member)
            while done < len(actions):
                action = actions[done]
                done += 1
                writer.carry_out(action, data if action.kind is ActionKind.COPY_FILE else None)
    planned = planner.finish()
    for action in planned.plan.actions[done:]:
        if action.kind in _META_KINDS:
            if "/" in action.path:
                set_dir_meta(action, f"{staging}/{action.path}")
        else:
            writer.carry_out(action, None)
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


def move_into_place(local: LocalFiles, staging: str, planned: UnpackPlan) -> None:
    """Rename the top-level entries from the staging folder into DEST, then set their modes and times.

    A path that appeared in DEST meanwhile is never replaced (AlreadyExistsError).
    """
    for path in top_level_paths(planned.plan.actions):
        final = local.os_path(path)
        if os.path.lexists(final):
            raise AlreadyExistsError(17, "appeared in DEST during the unpack; left alone", final)
        try:
            os.rename(f"{staging}/{path}", final)
        except OSError as error:
            raise translate_os_error(error, final) from error
    dest_root = local.os_path(RelPath(""))
    for action in planned.plan.actions:
        if action.kind in _META_KINDS and "/" not in action.path and action.path:
            target = f"{dest_root}/{action.path}"
            if stat.S_ISLNK(os.lstat(target).st_mode):
                continue
            set_dir_meta(action, target)


def set_dir_meta(action: Action, target: str) -> None:
    """Set the mode or mtime a SET_MODE or SET_MTIME action gives, at the OS path target."""
    try:
        if action.kind is ActionKind.SET_MODE and action.mode is not None:
            os.chmod(target, action.mode, follow_symlinks=False)
        elif action.kind is ActionKind.SET_MTIME and action.mtime_ns is not None:
            os.utime(target, ns=(action.mtime_ns, action.mtime_ns), follow_symlinks=False)
    except OSError as error:
        raise translate_os_error(error, target) from error


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
    """Unpack a tar into a new or empty local DEST through a staging folder (staged.py); return the bytes."""
    root = None if made_dest else backend.stat(ROOT, follow_symlinks=True)
    staging = local.os_path(RelPath(f"{STAGING_PREFIX}{run_id}"))
    try:
        os.mkdir(staging, 0o700)
    except OSError as error:
        raise translate_os_error(error, staging) from error
    try:
        try:
            planned, written = stage_tar(settings.archive, archive_format, settings, root, staging, stop)
        except BaseException:
            if settings.overwrite:
                record_refused_run(journal, backend, run_id, settings.archive)
            raise
        try:
            journal_staged_run(journal, backend, run_id, planned, settings.archive)
            move_into_place(local, staging, planned)
            finish_staged_run(journal, run_id, planned, written)
        except BaseException:
            roll_back(journal, backend, run_id, planned)
            raise
    finally:
        remove_staging(staging)
    return planned, written
