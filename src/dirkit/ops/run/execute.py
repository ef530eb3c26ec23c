"""The executor: runs any Plan on a target tree, journaling each step, with backups and parallel copies."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import NamedTuple

from dirkit.backends.local import LocalBackend
from dirkit.backends.protocol import Backend
from dirkit.backends.temp_files import new_temp_name
from dirkit.core.run.names import BACKUP_ROOT, backup_dir_for
from dirkit.core.run.plan import Action, ActionKind, Fingerprint, Plan, entry_matches, fingerprint_of
from dirkit.core.run.plan_json import totals_to_json
from dirkit.core.run.undo import StepStatus
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.filters import TEMP_MARKER
from dirkit.core.tree.paths import ROOT, RelPath, display_path, join_path, parent_path, path_parts
from dirkit.errors import (
    AlreadyExistsError,
    BackendError,
    ConnectionLostError,
    NoSpaceError,
    NotADirError,
    NotFoundError,
    RefusedError,
)
from dirkit.ops.run.clock import new_run_id, utc_now
from dirkit.state.journal import Journal, RunStatus, StepOutcome

log = logging.getLogger("dirkit")
log.addHandler(logging.NullHandler())

JOURNAL_BATCH = 2048
"""Steps recorded per transaction (pending rows are always committed before their steps start)."""
BATCH_UNITS = 16
"""Small copies handed to one worker at once (fewer thread hand-offs per file)."""
BATCH_BYTES = 1024 * 1024
"""A batch of copies is handed over once it holds this many bytes (large files go one by one)."""
FATAL_ERRORS = (NoSpaceError, ConnectionLostError)
"""Errors after which every later step would fail too: the run stops."""
CREATING_KINDS = (
    ActionKind.COPY_FILE,
    ActionKind.MAKE_SYMLINK,
    ActionKind.HARD_LINK,
    ActionKind.MAKE_DIR,
    ActionKind.RENAME,
)
"""Actions that fill a path; after a backup of the same path they replace what it held."""
LINK_UNSUPPORTED_ERRNOS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS})
"""Why a filesystem may refuse a hard link; a replace then moves the old file aside with a rename."""


class Progress(NamedTuple):
    """How far a run has got, against the plan's totals."""

    actions_done: int
    actions_total: int
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    seconds: float


@dataclass(frozen=True, slots=True)
class ExecuteOptions:
    """How to execute a plan."""

    jobs: int = 8
    backup_root: RelPath = BACKUP_ROOT
    stop: threading.Event | None = None
    """Set it (from a signal handler) to finish the steps under way and stop."""
    on_progress: Callable[[Progress], None] | None = None
    fsync: bool = False
    """Flush each copied file to disk before renaming it into place (survives a power cut; slower)."""
    undoes: str | None = None
    run_id: str | None = None
    """The id the run gets (the one its tree claim holds); a fresh one by default."""


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """One step that failed or was left alone, and why."""

    path: RelPath
    kind: ActionKind
    reason: str
    conflict: bool = False
    """True when the target no longer held what the plan expected (nothing was changed)."""


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run did: its id, where its backups are, and every item that failed."""

    run_id: str
    operation: str
    target: str
    backup_dir: RelPath
    plan: Plan
    steps_done: int = 0
    files_copied: int = 0
    bytes_copied: int = 0
    failures: tuple[ItemFailure, ...] = ()
    interrupted: bool = False
    stopped_by: str | None = None
    """The error that stopped the run early (no space left, connection lost), if any."""
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    """What the run could not do on this target by its nature (not failures), for the summary."""

    @property
    def ok(self) -> bool:
        """Tell whether every step succeeded and the run finished."""
        return not self.failures and not self.interrupted and self.stopped_by is None

    @property
    def conflicts(self) -> tuple[ItemFailure, ...]:
        """Return the steps left alone because their path changed."""
        return tuple(failure for failure in self.failures if failure.conflict)


class _ConflictError(Exception):
    """A step's path does not hold what the plan expected."""


class _SkipError(Exception):
    """An optional step whose precondition does not hold: it never needed doing."""


class _StepDone(NamedTuple):
    seq: int
    action: Action
    status: StepStatus
    result: Fingerprint | None
    error: str | None
    copied: int
    fatal: bool = False


@dataclass(slots=True)
class _Unit:
    """Steps run together: one action, or a backup fused with the creating action that replaces it."""

    steps: list[tuple[int, Action]] = field(default_factory=list)
    replace: bool = False
    """True for a backup and its replacement: the new content is made first, then swapped in."""

    @property
    def paths(self) -> set[RelPath]:
        """Return every target path the unit touches."""
        found: set[RelPath] = set()
        for _, action in self.steps:
            found.add(action.path)
            if action.source_path is not None and action.kind is not ActionKind.COPY_FILE:
                found.add(action.source_path)
        return found

    @property
    def parallel(self) -> bool:
        """Tell whether the unit may run in the copy pool (never when it replaces a directory)."""
        expected = self.steps[0][1].expected
        if self.replace and expected is not None and expected.kind is EntryKind.DIR:
            return False
        return self.steps[-1][1].kind is ActionKind.COPY_FILE


def _units(actions: tuple[Action, ...]) -> Iterator[_Unit]:
    index = 0
    count = len(actions)
    while index < count:
        action = actions[index]
        if (
            action.kind is ActionKind.BACKUP
            and index + 1 < count
            and actions[index + 1].kind in CREATING_KINDS
            and actions[index + 1].path == action.path
            and action.path
        ):
            yield _Unit([(index, action), (index + 1, actions[index + 1])], replace=True)
            index += 2
            continue
        yield _Unit([(index, action)])
        index += 1


def _related(path: RelPath, others: Iterable[RelPath]) -> bool:
    """Tell whether path is, holds or lies inside one of others."""
    for other in others:
        if path == other or path.startswith(other + "/") or other.startswith(path + "/") or not path:
            return True
    return False


class _Executor:
    """The state of one run while it executes."""

    def __init__(
        self,
        plan: Plan,
        target: Backend,
        source: Backend | None,
        journal: Journal,
        options: ExecuteOptions,
        run_id: str,
    ) -> None:
        self.plan = plan
        self.target = target
        self.source = source
        self.journal = journal
        self.options = options
        self.run_id = run_id
        self.backup_dir = backup_dir_for(run_id, options.backup_root)
        self.made_dirs: set[RelPath] = set()
        self.dirs_lock = threading.Lock()
        self.fast_copy = (
            isinstance(target, LocalBackend) and source is not None and isinstance(source, LocalBackend)
        )
        self.resolution = target.capabilities.mtime_resolution_ns
        self.set_modes = target.capabilities.can_set_mode
        """False where the filesystem cannot chmod (FAT): content is written without its mode."""

    def _stat(self, path: RelPath) -> Entry | None:
        try:
            return self.target.stat(path)
        except (NotFoundError, NotADirError):
            return None

    def _ensure_dir(self, path: RelPath) -> None:
        with self.dirs_lock:
            built = ROOT
            for part in path_parts(path):
                built = join_path(built, part)
                if built in self.made_dirs:
                    continue
                try:
                    self.target.make_dir(built)
                except AlreadyExistsError:
                    if self.target.stat(built).kind is not EntryKind.DIR:
                        raise NotADirError(
                            errno.ENOTDIR, "not a directory (a link or a file)", built
                        ) from None
                self.made_dirs.add(built)

    def _require(self, action: Action, path: RelPath, expected: Fingerprint | None) -> Entry:
        current = self._stat(path)
        if expected is None:
            if current is None:
                raise (_SkipError if action.optional else _ConflictError)(f"{path}: no longer exists")
            return current
        if not entry_matches(expected, current, self.resolution):
            if action.optional:
                raise _SkipError(path)
            what = "no longer exists" if current is None else "changed since the plan was made"
            raise _ConflictError(f"{path}: {what}; left alone")
        assert current is not None
        return current

    def _require_absent(self, action: Action, path: RelPath) -> None:
        if self._stat(path) is not None:
            if action.optional:
                raise _SkipError(path)
            raise _ConflictError(f"{path}: exists but the plan expected nothing there; left alone")

    def perform(self, action: Action) -> tuple[Fingerprint | None, int]:
        """Do one action after checking its path; return what it left and the bytes it copied."""
        kind = action.kind
        path = action.path
        target = self.target
        if kind is ActionKind.BACKUP:
            self._require(action, path, action.expected)
            backup = join_path(self.backup_dir, path)
            self._ensure_dir(parent_path(backup))
            target.rename(path, backup)
            return None, 0
        if kind is ActionKind.COPY_FILE:
            self._require_absent(action, path)
            return self._copy(action)
        if kind is ActionKind.MAKE_DIR:
            self._require_absent(action, path)
            target.make_dir(path, action.mode if self.set_modes else None)
            with self.dirs_lock:
                self.made_dirs.add(path)
            return Fingerprint(EntryKind.DIR), 0
        if kind is ActionKind.MAKE_SYMLINK:
            self._require_absent(action, path)
            target.make_symlink(path, action.link_target or "")
            if action.mtime_ns is not None and target.capabilities.can_set_mtime:
                target.set_mtime(path, action.mtime_ns)
            return Fingerprint(EntryKind.SYMLINK, target=action.link_target), 0
        if kind is ActionKind.HARD_LINK and action.link_target is not None:
            return self._link_from_outside(action, action.link_target)
        if kind is ActionKind.HARD_LINK:
            existing = action.source_path
            assert existing is not None
            entry = (
                self._require(action, existing, action.source_expected)
                if action.source_expected is not None
                else self._require(action, existing, None)
            )
            self._require_absent(action, path)
            target.hard_link(existing, path)
            return fingerprint_of(entry), 0
        if kind is ActionKind.RENAME:
            old = action.source_path
            assert old is not None
            entry = self._require(action, old, action.source_expected)
            self._require_absent(action, path)
            self._ensure_dir(parent_path(path))
            target.rename(old, path)
            return fingerprint_of(entry), 0
        if kind is ActionKind.REMOVE:
            entry = self._require(action, path, action.expected)
            if entry.kind is EntryKind.DIR:
                try:
                    target.remove_dir(path)
                except AlreadyExistsError as error:
                    raise _ConflictError(f"{path}: directory not empty; left alone") from error
                except BackendError as error:
                    if target.list_dir(path):
                        raise _ConflictError(f"{path}: directory not empty; left alone") from error
                    raise
            else:
                target.remove_file(path)
            return None, 0
        if kind is ActionKind.SET_MTIME:
            self._require(action, path, action.expected)
            if action.mtime_ns is not None:
                target.set_mtime(path, action.mtime_ns)
            return None, 0
        if kind is ActionKind.SET_MODE:
            self._require(action, path, action.expected)
            if not self.set_modes:
                raise _SkipError(f"{path}: the target cannot set permission bits")
            if action.mode is not None:
                target.set_mode(path, action.mode)
            return None, 0
        raise AssertionError(f"unknown action kind {kind}")

    def _link_from_outside(self, action: Action, existing: str) -> tuple[Fingerprint | None, int]:
        """Make path a hard link to a file outside the target tree, named by its local OS path."""
        target = self.target
        if not isinstance(target, LocalBackend):
            raise BackendError(0, "a link to a file outside the tree needs a local tree", action.path)
        folder, name = os.path.split(existing)
        try:
            entry: Entry | None = LocalBackend(folder).stat(RelPath(name))
        except NotFoundError:
            entry = None
        expected = action.source_expected
        if entry is None or (expected is not None and not entry_matches(expected, entry, self.resolution)):
            what = "no longer exists" if entry is None else "changed since the plan was made"
            raise _ConflictError(f"{existing}: {what}; {action.path} left alone")
        self._require_absent(action, action.path)
        target.hard_link_native(existing, action.path)
        return fingerprint_of(entry), 0

    def _copy(self, action: Action) -> tuple[Fingerprint | None, int]:
        source = self.source
        if source is None:
            raise BackendError(0, "the plan copies files but no source tree was given", action.path)
        source_path = action.source_path or action.path
        if self.fast_copy:
            assert isinstance(self.target, LocalBackend) and isinstance(source, LocalBackend)
            entry = self.target.clone_local_file(
                source.native_path(source_path),
                action.path,
                action.mtime_ns,
                action.mode,
                fsync=self.options.fsync,
                keep_mode=self.set_modes,
            )
        else:
            with source.open_read(source_path) as stream:
                mode = action.mode if self.set_modes else None
                entry = self.target.write_file(action.path, stream, action.mtime_ns, mode)
        return fingerprint_of(entry), entry.size

    def _run_replace(self, unit: _Unit) -> list[_StepDone]:
        """Replace a path: make the new content under a temporary name, then back up the old and swap.

        If making the new content fails, the old content never moves and the temporary name is removed.
        A rename needs no temporary name: its source already holds the complete new content.
        """
        (backup_seq, backup), (create_seq, create) = unit.steps
        path = backup.path
        try:
            old = self._require(backup, path, backup.expected)
        except _SkipError:
            skipped = _StepDone(backup_seq, backup, StepStatus.SKIPPED, None, None, 0)
            return [skipped, *self.run_unit(_Unit([(create_seq, create)]))]
        except (_ConflictError, BackendError) as error:
            return self._unit_failed(unit, error)
        renames = create.kind is ActionKind.RENAME
        staged = new_temp_name(path)
        made_dir = create.kind is ActionKind.MAKE_DIR
        try:
            if renames:
                assert create.source_path is not None
                staged = create.source_path
                entry = self._require(create, staged, create.source_expected)
                result: Fingerprint | None = fingerprint_of(entry)
                copied = 0
                made_dir = entry.kind is EntryKind.DIR
            else:
                source_path = create.source_path
                if create.kind is ActionKind.COPY_FILE:
                    source_path = source_path or path
                result, copied = self.perform(create._replace(path=staged, source_path=source_path))
        except _SkipError:
            if not renames:
                self._remove_temp(staged, made_dir)
            alone = self.run_unit(_Unit([(backup_seq, backup)]))
            return [*alone, _StepDone(create_seq, create, StepStatus.SKIPPED, None, None, 0)]
        except (_ConflictError, BackendError) as error:
            if not renames:
                self._remove_temp(staged, made_dir)
            return self._unit_failed(unit, error, kept=True)
        try:
            self._require(backup, path, backup.expected)
            self._swap_in(staged, path, old.kind is EntryKind.DIR or made_dir)
        except (_ConflictError, _SkipError, BackendError) as error:
            if not renames:
                self._remove_temp(staged, made_dir)
            return self._unit_failed(unit, error, kept=True)
        finally:
            if create.kind is ActionKind.MAKE_DIR:
                with self.dirs_lock:
                    self.made_dirs.discard(staged)
        if create.kind is ActionKind.MAKE_DIR:
            with self.dirs_lock:
                self.made_dirs.add(path)
        return [
            _StepDone(backup_seq, backup, StepStatus.DONE, None, None, 0),
            _StepDone(create_seq, create, StepStatus.DONE, result, None, copied),
        ]

    def _swap_in(self, temp: RelPath, path: RelPath, any_dir: bool) -> None:
        """Put temp in place of path, keeping the old content at path's backup name.

        With hard links the old file gets its backup name first and one atomic rename swaps: path is
        never missing. Otherwise (directories, no hard links) two renames leave a short gap, which
        recovery closes after a crash, and a failed second rename puts the old content back.
        """
        target = self.target
        backup = join_path(self.backup_dir, path)
        self._ensure_dir(parent_path(backup))
        if target.capabilities.hard_links and not any_dir:
            try:
                target.hard_link(path, backup)
            except BackendError as error:
                if error.errno not in LINK_UNSUPPORTED_ERRNOS:
                    raise
            else:
                try:
                    target.rename(temp, path, replace=True)
                except BackendError:
                    with contextlib.suppress(BackendError):
                        target.remove_file(backup)
                    raise
                return
        target.rename(path, backup)
        try:
            target.rename(temp, path)
        except BackendError as error:
            try:
                target.rename(backup, path)
            except BackendError:
                raise type(error)(
                    error.errno or 0,
                    f"{error.strerror or error}; the old content is in {backup}",
                    path,
                ) from error
            raise

    def _remove_temp(self, temp: RelPath, is_dir: bool) -> None:
        """Remove a temporary name made for a replace that did not complete, if it exists (best effort)."""
        try:
            if is_dir:
                self.target.remove_dir(temp)
            else:
                self.target.remove_file(temp)
        except NotFoundError:
            pass
        except BackendError as error:
            log.warning("run %s: cannot remove temporary %s: %s", self.run_id, temp, error)

    def _unit_failed(self, unit: _Unit, error: Exception, kept: bool = False) -> list[_StepDone]:
        """Return the outcomes of a replace that did not happen: nothing changed at its path."""
        (backup_seq, backup), (create_seq, create) = unit.steps
        path = backup.path
        fatal = False
        if isinstance(error, _ConflictError):
            status, culprit = StepStatus.CONFLICT, str(error)
        elif isinstance(error, _SkipError):
            status, culprit = StepStatus.CONFLICT, f"{path}: changed while it was replaced; left alone"
        else:
            assert isinstance(error, BackendError)
            named = error.filename if error.filename and TEMP_MARKER not in str(error.filename) else path
            status, culprit = StepStatus.FAILED, f"{named}: {error.strerror or error}"
            fatal = isinstance(error, FATAL_ERRORS)
        if kept:
            reason = culprit if status is StepStatus.CONFLICT else f"{culprit}; {path} keeps its old content"
            return [
                _StepDone(backup_seq, backup, StepStatus.SKIPPED, None, None, 0),
                _StepDone(create_seq, create, status, None, reason, 0, fatal),
            ]
        later = f"{path}: not done because an earlier step on it failed"
        return [
            _StepDone(backup_seq, backup, status, None, culprit, 0, fatal),
            _StepDone(create_seq, create, StepStatus.SKIPPED, None, later, 0),
        ]

    def run_units(self, units: list[_Unit]) -> list[_StepDone]:
        """Run several units one after another (a batch of small copies)."""
        finished: list[_StepDone] = []
        for unit in units:
            finished.extend(self.run_unit(unit))
        return finished

    def run_unit(self, unit: _Unit) -> list[_StepDone]:
        """Run the steps of a unit in order; a failed step stops the rest of the unit."""
        if unit.replace:
            return self._run_replace(unit)
        finished: list[_StepDone] = []
        for position, (seq, action) in enumerate(unit.steps):
            try:
                result, copied = self.perform(action)
            except _SkipError:
                finished.append(_StepDone(seq, action, StepStatus.SKIPPED, None, None, 0))
                continue
            except _ConflictError as conflict:
                finished.append(_StepDone(seq, action, StepStatus.CONFLICT, None, str(conflict), 0))
            except BackendError as error:
                reason = f"{error.filename or action.path}: {error.strerror or error}"
                fatal = isinstance(error, FATAL_ERRORS)
                finished.append(_StepDone(seq, action, StepStatus.FAILED, None, reason, 0, fatal))
            else:
                finished.append(_StepDone(seq, action, StepStatus.DONE, result, None, copied))
                continue
            for later_seq, later in unit.steps[position + 1 :]:
                reason = f"{later.path}: not done because an earlier step on it failed"
                finished.append(_StepDone(later_seq, later, StepStatus.SKIPPED, None, reason, 0))
            break
        return finished


def require_own_folders(target: Backend, folder: RelPath, create: bool = False) -> list[RelPath]:
    """Check that each part of one of dirkit's folders is a real directory, never a link; return them.

    With create, missing parts are made (each checked again after it is made, without following
    links). Raise RefusedError naming the first part that is a symlink or not a directory.
    """
    checked: list[RelPath] = []
    built = ROOT
    for part in path_parts(folder):
        built = join_path(built, part)
        try:
            entry: Entry | None = target.stat(built)
        except NotFoundError:
            entry = None
        if entry is None and create:
            with contextlib.suppress(AlreadyExistsError):
                target.make_dir(built)
            entry = target.stat(built)
        if entry is None:
            break
        if entry.kind is not EntryKind.DIR:
            where = display_path(f"{target.description.rstrip('/')}/{built}")
            what = (
                f"is a symbolic link (to {display_path(entry.target or '')})"
                if entry.kind is EntryKind.SYMLINK
                else "is not a directory"
            )
            raise RefusedError(
                f"{where}: {what}; dirkit keeps its backups only in real directories of the tree, "
                f"so nothing was changed (remove it and run again)"
            )
        checked.append(built)
    return checked


def _blocked(path: RelPath, failed: set[RelPath]) -> bool:
    """Tell whether path or an ancestor had a failed step."""
    if not failed:
        return False
    while True:
        if path in failed:
            return True
        if not path:
            return False
        path = parent_path(path)


def execute_plan(
    plan: Plan,
    target: Backend,
    journal: Journal,
    source: Backend | None = None,
    options: ExecuteOptions | None = None,
) -> RunResult:
    """Run every action of plan on target (copying from source), journaling each step before and after.

    Each step first checks that its path still holds what the plan expected; if not it is a conflict
    and nothing is changed. Replaced and deleted paths are renamed into the run's backup folder,
    which must be made of real directories (RefusedError before any step, naming a planted link).
    """
    chosen = options or ExecuteOptions()
    run_id = chosen.run_id or new_run_id()
    executor = _Executor(plan, target, source, journal, chosen, run_id)
    backs_up = any(action.kind is ActionKind.BACKUP for action in plan.actions)
    executor.made_dirs.update(require_own_folders(target, parent_path(executor.backup_dir), create=backs_up))
    started = time.monotonic()
    journal.start_run(
        run_id,
        plan.operation,
        target.description,
        plan.source,
        executor.backup_dir,
        os.getpid(),
        socket.gethostname(),
        utc_now(),
        totals_to_json(plan.totals),
        undoes=chosen.undoes,
        actions=plan.actions,
    )
    log.info(
        "run %s: %s %s -> %s, %d actions, %d files, %d bytes",
        run_id,
        plan.operation,
        plan.source,
        target.description,
        plan.totals.actions,
        plan.totals.files,
        plan.totals.bytes,
    )
    counters = {"steps": 0, "files": 0, "bytes": 0, "actions": 0}
    failures: list[ItemFailure] = []
    failed_paths: set[RelPath] = set()
    outcomes: list[StepOutcome] = []
    stopped_by: str | None = None
    interrupted = False

    def report_progress() -> None:
        if chosen.on_progress is not None:
            chosen.on_progress(
                Progress(
                    counters["actions"],
                    plan.totals.actions,
                    counters["files"],
                    plan.totals.files,
                    counters["bytes"],
                    plan.totals.bytes,
                    time.monotonic() - started,
                )
            )

    def record(done: list[_StepDone]) -> None:
        nonlocal stopped_by
        for step in done:
            counters["actions"] += 1
            outcomes.append(StepOutcome(step.seq, step.status, step.result, step.error))
            if step.status is StepStatus.DONE:
                counters["steps"] += 1
                if step.action.kind is ActionKind.COPY_FILE:
                    counters["files"] += 1
                    counters["bytes"] += step.copied
            elif step.status in (StepStatus.FAILED, StepStatus.CONFLICT) or (
                step.status is StepStatus.SKIPPED and step.error is not None
            ):
                conflict = step.status is StepStatus.CONFLICT
                reason = step.error or "failed"
                failures.append(ItemFailure(step.action.path, step.action.kind, reason, conflict))
                failed_paths.add(step.action.path)
                log.warning("run %s: %s %s: %s", run_id, step.action.kind.value, step.action.path, reason)
                if step.fatal and stopped_by is None:
                    stopped_by = reason
        if len(outcomes) >= JOURNAL_BATCH:
            flush_outcomes()
        report_progress()

    def flush_outcomes() -> None:
        if outcomes:
            journal.finish_steps(run_id, outcomes)
            outcomes.clear()

    actions = plan.actions
    journaled_until = 0
    next_seq = 0
    in_flight: dict[Future[list[_StepDone]], set[RelPath]] = {}
    workers = max(1, min(chosen.jobs, target.capabilities.parallel_connections))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dirkit-copy")

    busy: dict[RelPath, int] = {}

    def settle(block_until: Callable[[], bool]) -> None:
        while in_flight and not block_until():
            finished, _ = wait(list(in_flight), timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                for path in in_flight.pop(future):
                    busy[path] -= 1
                    if not busy[path]:
                        del busy[path]
                record(future.result())

    def clear_of(paths: set[RelPath], parallel: bool) -> Callable[[], bool]:
        def is_clear() -> bool:
            if not busy:
                return True
            if parallel:
                return not any(path in busy for path in paths)
            return not any(_related(path, busy.keys()) for path in paths)

        return is_clear

    batch: list[_Unit] = []
    batch_paths: set[RelPath] = set()
    batch_bytes = 0

    def submit_batch() -> None:
        nonlocal batch, batch_paths, batch_bytes, next_seq
        if not batch:
            return
        settle(lambda: len(in_flight) < workers * 2)
        in_flight[pool.submit(executor.run_units, batch)] = batch_paths
        for path in batch_paths:
            busy[path] = busy.get(path, 0) + 1
        next_seq = max(next_seq, batch[-1].steps[-1][0] + 1)
        batch, batch_paths, batch_bytes = [], set(), 0

    try:
        for unit in _units(actions):
            if chosen.stop is not None and chosen.stop.is_set():
                interrupted = True
                break
            if stopped_by is not None:
                break
            last_seq = unit.steps[-1][0]
            if last_seq >= journaled_until:
                submit_batch()
                end = min(len(actions), max(last_seq + 1, journaled_until + JOURNAL_BATCH))
                journal.mark_started(run_id, end)
                journaled_until = end
            blocked = [
                (seq, action)
                for seq, action in unit.steps
                if _blocked(action.path, failed_paths)
                or (
                    action.source_path is not None
                    and action.kind is not ActionKind.COPY_FILE
                    and _blocked(action.source_path, failed_paths)
                )
            ]
            paths = unit.paths
            parallel = unit.parallel and workers > 1
            if not parallel or not paths.isdisjoint(batch_paths):
                submit_batch()
            settle(clear_of(paths, parallel))
            if blocked:
                submit_batch()
                next_seq = max(next_seq, last_seq + 1)
                record(
                    [
                        _StepDone(
                            seq,
                            action,
                            StepStatus.SKIPPED,
                            None,
                            f"{action.path}: not done because an earlier step on it or above it failed",
                            0,
                        )
                        for seq, action in unit.steps
                    ]
                )
                continue
            if parallel:
                batch.append(unit)
                batch_paths |= paths
                batch_bytes += unit.steps[-1][1].size
                if len(batch) >= BATCH_UNITS or batch_bytes >= BATCH_BYTES:
                    submit_batch()
            else:
                record(executor.run_unit(unit))
                next_seq = max(next_seq, last_seq + 1)
        else:
            submit_batch()
        settle(lambda: False)
    finally:
        if in_flight:
            settle(lambda: False)
        pool.shutdown(wait=True)
        outcomes.extend(StepOutcome(seq, StepStatus.SKIPPED) for seq in range(next_seq, journaled_until))
        flush_outcomes()
        status = RunStatus.DONE
        if interrupted:
            status = RunStatus.INTERRUPTED
        elif stopped_by is not None:
            status = RunStatus.FAILED
        summary = {
            "steps_done": counters["steps"],
            "files_copied": counters["files"],
            "bytes_copied": counters["bytes"],
            "failures": len(failures),
            "conflicts": sum(1 for failure in failures if failure.conflict),
        }
        journal.finish_run(run_id, status, utc_now(), dict(summary))
        log.info("run %s: %s, %s", run_id, status.value, summary)
    return RunResult(
        run_id=run_id,
        operation=plan.operation,
        target=target.description,
        backup_dir=executor.backup_dir,
        plan=plan,
        steps_done=counters["steps"],
        files_copied=counters["files"],
        bytes_copied=counters["bytes"],
        failures=tuple(failures),
        interrupted=interrupted,
        stopped_by=stopped_by,
        seconds=time.monotonic() - started,
        notes=_capability_notes(plan, target),
    )


def _capability_notes(plan: Plan, target: Backend) -> tuple[str, ...]:
    """Return what the plan asked for that the target cannot do (its capabilities say so)."""
    notes: list[str] = []
    capabilities = target.capabilities
    creates = (ActionKind.COPY_FILE, ActionKind.MAKE_DIR, ActionKind.SET_MODE)
    if not capabilities.can_set_mode and any(action.kind in creates for action in plan.actions):
        notes.append(
            f"{target.description}: this filesystem cannot set permission bits; "
            f"files and folders were written without their modes"
        )
    return tuple(notes)
