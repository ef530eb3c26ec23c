"""Unpack an archive safely into DEST: plan every member first, then run the plan through the executor.

The unpack is a journaled run on DEST like a mirror ('dirkit undo DEST' reverts it). A tar stream is
read twice: once to check and plan every member, once to feed the files' bytes to the executor in
archive order. A refusal, a limit, a damaged member, a failed step or an interrupt rolls the run back
(through the executor too) and leaves DEST as it was. DEST is written only through its backend.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dirkit.backends.free_space import free_bytes_of
from dirkit.backends.local import LocalBackend
from dirkit.backends.local_files import local_files
from dirkit.backends.protocol import Backend
from dirkit.backends.trees import REMOTE_SCHEMES, RemoteOptions, open_tree
from dirkit.core.archive.formats import ArchiveFormat
from dirkit.core.archive.safety import (
    DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_RATIO,
    DEFAULT_RATIO_FLOOR,
    ArchiveMember,
    ExtractionLimits,
)
from dirkit.core.archive.unpack_plan import (
    OPERATION,
    UnpackPlan,
    UnpackPlanner,
    UnpackSettings,
)
from dirkit.core.run.plan import ActionKind
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import ROOT, RelPath, display_path, join_path
from dirkit.errors import (
    AlreadyExistsError,
    BackendError,
    DirkitError,
    InterruptedRunError,
    NotFoundError,
    UnsafeArchiveError,
)
from dirkit.ops.archive.member_bytes import MemberBytes, WrittenBytes
from dirkit.ops.archive.members import (
    TarMemberBytes,
    archive_size,
    detect_format,
    iter_tar_members,
    open_zip,
    zip_members,
)
from dirkit.ops.archive.staged import remove_stale_staging, unpack_staged
from dirkit.ops.archive.unpack_journal import (
    entry_or_none,
    record_dir_side_effects,
    record_refused_run,
    roll_back,
)
from dirkit.ops.run.clock import utc_now
from dirkit.ops.run.execute import ExecuteOptions, RunResult, execute_plan
from dirkit.ops.run.recovery import claim_tree
from dirkit.state.journal import Journal

RECORD_NAME = "unpack-record.json"
FREE_SPACE_MARGIN = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class UnpackOptions:
    """How to unpack: replace existing files (through backups) or not, and the limits."""

    overwrite: bool = False
    max_total_bytes: int | None = None
    """Stop past this many bytes written (default: the free space on DEST's filesystem)."""
    max_ratio: float = DEFAULT_MAX_RATIO
    ratio_floor_bytes: int = DEFAULT_RATIO_FLOOR
    max_members: int = DEFAULT_MAX_MEMBERS
    remote: RemoteOptions | None = None
    """How DEST is reached when it is an ftp://, ftps:// or sftp:// URL."""


@dataclass(frozen=True, slots=True)
class UnpackResult:
    """What unpack wrote, and where it put what it replaced."""

    dest: str
    files: int
    dirs: int
    symlinks: int
    bytes_written: int
    replaced: tuple[RelPath, ...]
    backup_folder: str | None
    """DEST/.dirkit/backups/RUN-ID when files were replaced (with unpack-record.json inside)."""
    run_id: str | None = None
    """The journaled run ('dirkit undo DEST' reverts it)."""


def unpack_archive(
    archive: str,
    dest: str,
    options: UnpackOptions,
    journal: Journal | None = None,
    stop: threading.Event | None = None,
) -> UnpackResult:
    """Extract archive into dest as a journaled run holding dest's lock; on any failure leave dest as it was.

    The run goes into journal (the user's state database when None). Setting stop (from a signal
    handler) ends the run after the step under way and rolls it back (InterruptedRunError).
    """
    archive_bytes = archive_size(archive)
    if journal is None:
        with contextlib.closing(Journal.open()) as own:
            return unpack_archive(archive, dest, options, own, stop)
    backend, made = _open_dest(dest, options.remote)
    try:
        with claim_tree(journal, backend, OPERATION) as claim:
            return _unpack_claimed(
                archive, archive_bytes, backend, bool(made), options, journal, claim.run_id, stop
            )
    except BaseException:
        _remove_made_dirs(made)
        raise
    finally:
        backend.close()


def _open_dest(dest: str, remote: RemoteOptions | None) -> tuple[Backend, list[str]]:
    """Return DEST's backend, making DEST and its missing parents; return those made, innermost first.

    A remote DEST (a URL) is opened through its backend, which makes a missing root folder itself;
    none of it is listed as made (a server folder is left in place).
    """
    if dest.lower().startswith(REMOTE_SCHEMES):
        return open_tree(dest, create=True, remote=remote), []
    backend = LocalBackend(dest, must_exist=False)
    made: list[str] = []
    folder = backend.root
    while True:
        try:
            entry = LocalBackend(folder, must_exist=False).stat(ROOT, follow_symlinks=True)
        except NotFoundError:
            entry = None
        if entry is not None:
            if entry.kind is not EntryKind.DIR:
                raise AlreadyExistsError(17, "exists and is not a directory", folder)
            break
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        made.append(folder)
        folder = parent
    for missing in reversed(made):
        try:
            LocalBackend(os.path.dirname(missing)).make_dir(RelPath(os.path.basename(missing)))
        except BaseException:
            _remove_made_dirs(made[made.index(missing) + 1 :])
            raise
    return backend, made


def _remove_made_dirs(made: Iterable[str]) -> None:
    """Remove the folders unpack made for DEST (innermost first), if they are empty."""
    for folder in made:
        with contextlib.suppress(BackendError):
            LocalBackend(os.path.dirname(folder), must_exist=False).remove_dir(
                RelPath(os.path.basename(folder))
            )


def _free_bytes(backend: Backend) -> int:
    free = free_bytes_of(backend)
    return 2**63 if free is None else max(0, free - FREE_SPACE_MARGIN)


def _plan_unpack(
    settings: UnpackSettings, backend: Backend, made_dest: bool, members: Iterable[ArchiveMember]
) -> tuple[UnpackPlan, list[RelPath]]:
    """Return the plan for members, and the path of each member in order."""
    root = None if made_dest else backend.stat(ROOT, follow_symlinks=True)
    fresh = made_dest or not backend.list_dir(ROOT)
    lookup = None if fresh else (lambda path: entry_or_none(backend, path))
    planner = UnpackPlanner(settings, lookup, root)
    paths = [planner.add(member) for member in members]
    return planner.finish(), paths


def _unpack_claimed(
    archive: str,
    archive_bytes: int,
    backend: Backend,
    made_dest: bool,
    options: UnpackOptions,
    journal: Journal,
    run_id: str,
    stop: threading.Event | None,
) -> UnpackResult:
    """Plan the unpack, execute it, or roll it back.

    With --overwrite a refusal while planning is journaled as an interrupted run that did nothing (as
    the unpack records of earlier versions were); a plain unpack refused leaves no run, so that
    'dirkit undo' still finds the tree's last real run.
    """
    limits = ExtractionLimits(
        max_total_bytes=(
            options.max_total_bytes if options.max_total_bytes is not None else _free_bytes(backend)
        ),
        max_ratio=options.max_ratio,
        ratio_floor_bytes=options.ratio_floor_bytes,
        max_members=options.max_members,
    )
    settings = UnpackSettings(
        backend.description, os.path.abspath(archive), archive_bytes, limits, options.overwrite
    )
    archive_format = detect_format(archive)
    local = local_files(backend, writing=True)
    capabilities = backend.capabilities
    if archive_format is not ArchiveFormat.ZIP and local is not None and capabilities.can_set_mode:
        remove_stale_staging(local)
        if made_dest or not backend.list_dir(ROOT):
            planned, written = unpack_staged(
                archive_format, settings, backend, local, made_dest, journal, run_id, stop
            )
            return _finished(journal, backend, run_id, planned, written, None)
    zip_file = open_zip(archive) if archive_format is ArchiveFormat.ZIP else None
    zip_infos: dict[RelPath, zipfile.ZipInfo] = {}
    tar_offsets: dict[RelPath, int] = {}
    try:
        if zip_file is not None:
            listed = list(zip_members(zip_file))
            planned, paths = _plan_unpack(settings, backend, made_dest, (member for member, _ in listed))
            zip_infos = {path: info for path, (_, info) in zip(paths, listed, strict=True)}
        else:
            offsets: list[int] = []
            planned, paths = _plan_unpack(
                settings,
                backend,
                made_dest,
                _noting_offsets(iter_tar_members(archive, archive_format), offsets),
            )
            tar_offsets = dict(zip(paths, offsets, strict=True))
        _refuse_links_dest_cannot_hold(backend, planned)
        tar = None if zip_file is not None else TarMemberBytes(archive, archive_format)
    except BaseException:
        if zip_file is not None:
            zip_file.close()
        if options.overwrite:
            record_refused_run(journal, backend, run_id, settings.archive)
        raise
    source = MemberBytes(WrittenBytes(settings, len(paths)), zip_file, zip_infos, tar, tar_offsets)
    jobs = 1
    execute = ExecuteOptions(jobs=jobs, stop=stop, run_id=run_id, open_source=source.open)
    try:
        result = execute_plan(planned.plan, backend, journal, None, execute)
    except BaseException:
        roll_back(journal, backend, run_id, planned)
        raise
    finally:
        source.close()
    if not result.ok:
        roll_back(journal, backend, run_id, planned)
        raise _failure(result)
    if any(action.kind is ActionKind.BACKUP for action in planned.plan.actions):
        _write_record(backend, result, settings)
        return _finished(journal, backend, run_id, planned, source.counter.total, result.backup_dir)
    return _finished(journal, backend, run_id, planned, source.counter.total, None)


def _finished(
    journal: Journal,
    backend: Backend,
    run_id: str,
    planned: UnpackPlan,
    bytes_written: int,
    backup_dir: RelPath | None,
) -> UnpackResult:
    """Journal the side effects on earlier directories of a finished unpack and return its result."""
    record_dir_side_effects(journal, backend, run_id, planned)
    replaced = tuple(action.path for action in planned.plan.actions if action.kind is ActionKind.BACKUP)
    return UnpackResult(
        dest=backend.description,
        files=planned.plan.totals.files + _count(planned, ActionKind.HARD_LINK),
        dirs=planned.plan.totals.dirs,
        symlinks=_count(planned, ActionKind.MAKE_SYMLINK),
        bytes_written=bytes_written,
        replaced=replaced,
        backup_folder=None if backup_dir is None else f"{backend.description}/{backup_dir}",
        run_id=run_id,
    )


def _refuse_links_dest_cannot_hold(backend: Backend, planned: UnpackPlan) -> None:
    """Refuse, before any step, an archive with symlinks for a DEST that cannot store them (FTP)."""
    if backend.capabilities.symlinks:
        return
    for action in planned.plan.actions:
        if action.kind is ActionKind.MAKE_SYMLINK:
            where = display_path(action.path)
            raise UnsafeArchiveError(f"{where}: is a symlink, and {backend.description} cannot hold symlinks")


def _noting_offsets(
    members: Iterable[tuple[ArchiveMember, int]], offsets: list[int]
) -> Iterator[ArchiveMember]:
    """Yield the members, appending where each one's bytes start to offsets."""
    for member, offset in members:
        offsets.append(offset)
        yield member


def _count(planned: UnpackPlan, kind: ActionKind) -> int:
    return sum(1 for action in planned.plan.actions if action.kind is kind)


def _failure(result: RunResult) -> DirkitError:
    """Return the error that says why a rolled-back run stopped."""
    where = display_path(result.target)
    if result.interrupted:
        return InterruptedRunError(f"{where}: unpack interrupted; what it wrote was removed")
    failure = result.failures[0]
    reason = f"{display_path(failure.reason)}; what the unpack wrote was removed"
    if failure.conflict:
        return AlreadyExistsError(17, reason, where)
    return BackendError(0, reason, where)


def _write_record(backend: Backend, result: RunResult, settings: UnpackSettings) -> None:
    """Write the JSON record of what was backed up and created into the backup folder."""
    replaced = [action.path for action in result.plan.actions if action.kind is ActionKind.BACKUP]
    kinds = {ActionKind.COPY_FILE: "file", ActionKind.HARD_LINK: "file", ActionKind.MAKE_DIR: "dir"}
    kinds[ActionKind.MAKE_SYMLINK] = "symlink"
    record = {
        "format": "dirkit-unpack-record",
        "version": 1,
        "run_id": result.run_id,
        "command": OPERATION,
        "archive": settings.archive,
        "dest": settings.dest,
        "finished": utc_now(),
        "backed_up": replaced,
        "created": [
            {"path": action.path, "kind": kinds[action.kind]}
            for action in result.plan.actions
            if action.kind in kinds
        ],
    }
    text = json.dumps(record, indent=1, ensure_ascii=False) + "\n"
    backend.write_file(join_path(result.backup_dir, RECORD_NAME), io.BytesIO(text.encode("utf-8")))
