"""What each kind of action does to the target tree: one handler per ActionKind, in one table.

A handler first checks that the paths it touches still hold what the plan expected (else it raises
ConflictError, or SkipError for an optional step), then acts, and returns what it left at its path
and the bytes it copied. A new action kind needs its place in the model (core/run/plan.py) and one
handler in HANDLERS.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import BinaryIO

from dirkit.backends.local_files import LocalFiles, local_files
from dirkit.backends.protocol import Backend
from dirkit.core.run.plan import Action, ActionKind, Fingerprint, entry_matches, fingerprint_of
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import ROOT, RelPath, join_path, parent_path, path_parts
from dirkit.errors import AlreadyExistsError, BackendError, NotADirError, NotFoundError

SourceOpener = Callable[[Action], BinaryIO]
"""Opens the bytes a copy action writes when they come from no tree (an archive's members)."""

StepResult = tuple[Fingerprint | None, int]
"""What a step left at its path (None: nothing to record) and the bytes it copied."""


class ConflictError(Exception):
    """A step's path does not hold what the plan expected."""


class SkipError(Exception):
    """An optional step whose precondition does not hold: it never needed doing."""


class StepContext:
    """What the steps of one run share: the trees, the backup folder, and the directories known made."""

    def __init__(
        self,
        target: Backend,
        source: Backend | None,
        run_id: str,
        backup_dir: RelPath,
        fsync: bool,
        open_source: SourceOpener | None = None,
    ) -> None:
        self.target = target
        self.source = source
        self.open_source = open_source
        """Where copies read their bytes when they come from no tree (an archive being unpacked)."""
        self.run_id = run_id
        self.backup_dir = backup_dir
        self.fsync = fsync
        self.made_dirs: set[RelPath] = set()
        self.dirs_lock = threading.Lock()
        self.local = local_files(target, writing=True)
        """The target's local-disk fast paths (kernel copies, links to files outside), if it offers them
        and no wrapper must see the writes (a read-only guard, a fault wrapper refusing modes)."""
        self.source_local = local_files(source) if source is not None else None
        self.resolution = target.capabilities.mtime_resolution_ns
        self.set_modes = target.capabilities.can_set_mode
        """False where the filesystem cannot chmod (FAT): content is written without its mode."""

    def stat(self, path: RelPath) -> Entry | None:
        """Return what path of the target holds now (None: nothing)."""
        try:
            return self.target.stat(path)
        except (NotFoundError, NotADirError):
            return None

    def ensure_dir(self, path: RelPath) -> None:
        """Make path and its missing parents as real directories (raise NotADirError at a link or file)."""
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

    def note_dir(self, path: RelPath, made: bool = True) -> None:
        """Remember that path is (or, made=False, is no longer) a directory this run made."""
        with self.dirs_lock:
            if made:
                self.made_dirs.add(path)
            else:
                self.made_dirs.discard(path)

    def require(self, action: Action, path: RelPath, expected: Fingerprint | None) -> Entry:
        """Return what path holds if it matches expected (None: anything but nothing)."""
        current = self.stat(path)
        if expected is None:
            if current is None:
                raise (SkipError if action.optional else ConflictError)(f"{path}: no longer exists")
            return current
        if not entry_matches(expected, current, self.resolution):
            if action.optional:
                raise SkipError(path)
            what = "no longer exists" if current is None else "changed since the plan was made"
            raise ConflictError(f"{path}: {what}; left alone")
        assert current is not None
        return current

    def require_absent(self, action: Action, path: RelPath) -> None:
        """Check that path holds nothing, as the plan expected."""
        if self.stat(path) is not None:
            if action.optional:
                raise SkipError(path)
            raise ConflictError(f"{path}: exists but the plan expected nothing there; left alone")


Handler = Callable[[StepContext, Action], StepResult]


def backup_path(context: StepContext, action: Action) -> StepResult:
    """Move path aside into the run's backup folder, by renaming."""
    context.require(action, action.path, action.expected)
    backup = join_path(context.backup_dir, action.path)
    context.ensure_dir(parent_path(backup))
    context.target.rename(action.path, backup)
    return None, 0


def copy_file(context: StepContext, action: Action) -> StepResult:
    """Copy source_path of the source tree to path (the backend writes a temporary name first)."""
    context.require_absent(action, action.path)
    if context.open_source is not None:
        return copy_opened(context, action, context.open_source)
    source = context.source
    if source is None:
        raise BackendError(0, "the plan copies files but no source tree was given", action.path)
    source_path = action.source_path or action.path
    if context.local is not None and context.source_local is not None:
        entry = context.local.clone_file(
            context.source_local.os_path(source_path),
            action.path,
            action.mtime_ns,
            action.mode,
            fsync=context.fsync,
            keep_mode=context.set_modes,
        )
    else:
        with source.open_read(source_path) as stream:
            mode = action.mode if context.set_modes else None
            if context.local is not None:  # a download: flushed to disk only with --fsync, as a local copy
                entry = context.local.write_stream(action.path, stream, action.mtime_ns, mode, context.fsync)
            else:
                try:
                    entry = context.target.write_file(action.path, stream, action.mtime_ns, mode)
                except AlreadyExistsError:  # a remote tree checks the name itself (backends/ftp_known.py)
                    raise ConflictError(f"{action.path}: appeared since the plan; left alone") from None
    return fingerprint_of(entry), entry.size


def copy_opened(context: StepContext, action: Action, open_source: SourceOpener) -> StepResult:
    """Write the bytes the caller's opener gives for a copy action (an archive member) to its path."""
    mode = action.mode if context.set_modes else None
    with open_source(action) as stream:
        if context.local is not None:
            entry = context.local.write_stream(action.path, stream, action.mtime_ns, mode, context.fsync)
        else:
            entry = context.target.write_file(action.path, stream, action.mtime_ns, mode)
    return fingerprint_of(entry), entry.size


def make_dir(context: StepContext, action: Action) -> StepResult:
    """Make path a directory (on a local tree mkdir itself refuses an existing path: no stat first)."""
    mode = action.mode if context.set_modes else None
    if context.local is None:
        context.require_absent(action, action.path)
        context.target.make_dir(action.path, mode)
    else:
        try:
            context.target.make_dir(action.path, mode)
        except AlreadyExistsError:
            context.require_absent(action, action.path)
            raise
    context.note_dir(action.path)
    return Fingerprint(EntryKind.DIR), 0


def make_symlink(context: StepContext, action: Action) -> StepResult:
    """Make path a symbolic link to link_target, with its mtime where the target can set it."""
    context.require_absent(action, action.path)
    target = context.target
    target.make_symlink(action.path, action.link_target or "")
    if action.mtime_ns is not None and target.capabilities.can_set_mtime:
        target.set_mtime(action.path, action.mtime_ns)
    return Fingerprint(EntryKind.SYMLINK, target=action.link_target), 0


def hard_link(context: StepContext, action: Action) -> StepResult:
    """Make path a second name of source_path of the target (or of link_target, a local file outside)."""
    if action.link_target is not None:
        if context.local is None:
            raise BackendError(0, "a link to a file outside the tree needs a local tree", action.path)
        return _link_from_outside(context, context.local, action, action.link_target)
    existing = action.source_path
    assert existing is not None
    entry = context.require(action, existing, action.source_expected)
    context.require_absent(action, action.path)
    context.target.hard_link(existing, action.path)
    return fingerprint_of(entry), 0


def _link_from_outside(context: StepContext, local: LocalFiles, action: Action, existing: str) -> StepResult:
    """Make path a hard link to a file outside the target tree, named by its local OS path."""
    try:
        entry: Entry | None = local.stat_os_path(existing)
    except NotFoundError:
        entry = None
    expected = action.source_expected
    if entry is None or (expected is not None and not entry_matches(expected, entry, context.resolution)):
        what = "no longer exists" if entry is None else "changed since the plan was made"
        raise ConflictError(f"{existing}: {what}; {action.path} left alone")
    context.require_absent(action, action.path)
    local.hard_link_from(existing, action.path)
    return fingerprint_of(entry), 0


def rename_path(context: StepContext, action: Action) -> StepResult:
    """Rename source_path of the target to path, making missing parents first."""
    old = action.source_path
    assert old is not None
    entry = context.require(action, old, action.source_expected)
    context.require_absent(action, action.path)
    context.ensure_dir(parent_path(action.path))
    context.target.rename(old, action.path)
    return fingerprint_of(entry), 0


def remove_path(context: StepContext, action: Action) -> StepResult:
    """Remove a non-directory, or an empty directory (a conflict if it is not empty), for good."""
    path = action.path
    target = context.target
    entry = context.require(action, path, action.expected)
    if entry.kind is not EntryKind.DIR:
        target.remove_file(path)
        return None, 0
    try:
        target.remove_dir(path)
    except AlreadyExistsError as error:
        raise ConflictError(f"{path}: directory not empty; left alone") from error
    except BackendError as error:
        if target.list_dir(path):
            raise ConflictError(f"{path}: directory not empty; left alone") from error
        raise
    return None, 0


def set_mtime(context: StepContext, action: Action) -> StepResult:
    """Set the mtime of path."""
    context.require(action, action.path, action.expected)
    if action.mtime_ns is not None:
        context.target.set_mtime(action.path, action.mtime_ns)
    return None, 0


def set_mode(context: StepContext, action: Action) -> StepResult:
    """Set the permission bits of path (skipped where the target cannot set them)."""
    context.require(action, action.path, action.expected)
    if not context.set_modes:
        raise SkipError(f"{action.path}: the target cannot set permission bits")
    if action.mode is not None:
        context.target.set_mode(action.path, action.mode)
    return None, 0


HANDLERS: Mapping[ActionKind, Handler] = MappingProxyType(
    {
        ActionKind.BACKUP: backup_path,
        ActionKind.COPY_FILE: copy_file,
        ActionKind.MAKE_DIR: make_dir,
        ActionKind.MAKE_SYMLINK: make_symlink,
        ActionKind.HARD_LINK: hard_link,
        ActionKind.RENAME: rename_path,
        ActionKind.REMOVE: remove_path,
        ActionKind.SET_MTIME: set_mtime,
        ActionKind.SET_MODE: set_mode,
    }
)
"""The handler of each action kind (a test checks that every kind has one)."""


def perform(context: StepContext, action: Action) -> StepResult:
    """Do one action after checking its paths; return what it left and the bytes it copied."""
    return HANDLERS[action.kind](context, action)
