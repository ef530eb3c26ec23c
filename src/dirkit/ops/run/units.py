"""Units of a run, and running one: steps in order, or a replace that makes the new content first.

A unit is one action, or a backup fused with the creating action that replaces the same path. A
replace writes the new content under a temporary name, and only when that is complete moves the old
content into the run's backup folder and the new content into place; a failed write never moves
the old content.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from dirkit.backends.temp_files import new_temp_name
from dirkit.core.run.plan import CREATING_KINDS, Action, ActionKind, Fingerprint, fingerprint_of
from dirkit.core.run.undo import StepStatus
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.filters import TEMP_MARKER
from dirkit.core.tree.paths import RelPath, join_path, parent_path
from dirkit.errors import BackendError, ConnectionLostError, NoSpaceError, NotFoundError
from dirkit.ops.run.actions import ConflictError, SkipError, StepContext, perform

log = logging.getLogger("dirkit")

FATAL_ERRORS = (NoSpaceError, ConnectionLostError)
"""Errors after which every later step would fail too: the run stops."""
LINK_UNSUPPORTED_ERRNOS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS})
"""Why a filesystem may refuse a hard link; a replace then moves the old file aside with a rename."""


class StepDone(NamedTuple):
    """The outcome of one step: its status, what it left, why it failed, and the bytes it copied."""

    seq: int
    action: Action
    status: StepStatus
    result: Fingerprint | None
    error: str | None
    copied: int
    fatal: bool = False


@dataclass(slots=True)
class Unit:
    """Steps run together: one action, or a backup fused with the creating action that replaces it."""

    steps: list[tuple[int, Action]] = field(default_factory=list)
    replace: bool = False
    """True for a backup and its replacement: the new content is made first, then swapped in."""

    @property
    def last_seq(self) -> int:
        """Return the position in the plan of the unit's last step."""
        return self.steps[-1][0]

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


def units_of(actions: tuple[Action, ...]) -> Iterator[Unit]:
    """Yield the units of a plan's actions, in order (a folder's mode and mtime steps go as one unit)."""
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
            yield Unit([(index, action), (index + 1, actions[index + 1])], replace=True)
            index += 2
            continue
        if (
            action.kind is ActionKind.SET_MODE
            and index + 1 < count
            and actions[index + 1].kind is ActionKind.SET_MTIME
            and actions[index + 1].path == action.path
        ):
            yield Unit([(index, action), (index + 1, actions[index + 1])])
            index += 2
            continue
        yield Unit([(index, action)])
        index += 1


def skipped_after_failure(
    steps: list[tuple[int, Action]], why: str = "not done because an earlier step on it failed"
) -> list[StepDone]:
    """Return the outcomes of steps not done because an earlier step on their path failed."""
    return [
        StepDone(seq, action, StepStatus.SKIPPED, None, f"{action.path}: {why}", 0) for seq, action in steps
    ]


def run_units(context: StepContext, units: list[Unit]) -> list[StepDone]:
    """Run several units one after another (a batch of small copies)."""
    finished: list[StepDone] = []
    for unit in units:
        finished.extend(run_unit(context, unit))
    return finished


def run_unit(context: StepContext, unit: Unit) -> list[StepDone]:
    """Run the steps of a unit in order; a failed step stops the rest of the unit."""
    if unit.replace:
        return _run_replace(context, unit)
    finished: list[StepDone] = []
    for position, (seq, action) in enumerate(unit.steps):
        try:
            result, copied = perform(context, action)
        except SkipError:
            finished.append(StepDone(seq, action, StepStatus.SKIPPED, None, None, 0))
            continue
        except ConflictError as conflict:
            finished.append(StepDone(seq, action, StepStatus.CONFLICT, None, str(conflict), 0))
        except BackendError as error:
            reason = f"{error.filename or action.path}: {error.strerror or error}"
            fatal = isinstance(error, FATAL_ERRORS)
            finished.append(StepDone(seq, action, StepStatus.FAILED, None, reason, 0, fatal))
        else:
            finished.append(StepDone(seq, action, StepStatus.DONE, result, None, copied))
            continue
        finished.extend(skipped_after_failure(unit.steps[position + 1 :]))
        break
    return finished


def _run_replace(context: StepContext, unit: Unit) -> list[StepDone]:
    """Replace a path: make the new content under a temporary name, then back up the old and swap.

    If making the new content fails, the old content never moves and the temporary name is removed.
    A rename needs no temporary name: its source already holds the complete new content.
    """
    (backup_seq, backup), (create_seq, create) = unit.steps
    path = backup.path
    try:
        old = context.require(backup, path, backup.expected)
    except SkipError:
        skipped = StepDone(backup_seq, backup, StepStatus.SKIPPED, None, None, 0)
        return [skipped, *run_unit(context, Unit([(create_seq, create)]))]
    except (ConflictError, BackendError) as error:
        return _replace_failed(unit, error)
    renames = create.kind is ActionKind.RENAME
    staged = new_temp_name(path)
    made_dir = create.kind is ActionKind.MAKE_DIR
    try:
        if renames:
            assert create.source_path is not None
            staged = create.source_path
            entry = context.require(create, staged, create.source_expected)
            result: Fingerprint | None = fingerprint_of(entry)
            copied = 0
            made_dir = entry.kind is EntryKind.DIR
        else:
            source_path = create.source_path
            if create.kind is ActionKind.COPY_FILE:
                source_path = source_path or path
            result, copied = perform(context, create._replace(path=staged, source_path=source_path))
    except SkipError:
        if not renames:
            _remove_temp(context, staged, made_dir)
        alone = run_unit(context, Unit([(backup_seq, backup)]))
        return [*alone, StepDone(create_seq, create, StepStatus.SKIPPED, None, None, 0)]
    except (ConflictError, BackendError) as error:
        if not renames:
            _remove_temp(context, staged, made_dir)
        return _replace_failed(unit, error, kept=True)
    try:
        context.require(backup, path, backup.expected)
        _swap_in(context, staged, path, old.kind is EntryKind.DIR or made_dir)
    except (ConflictError, SkipError, BackendError) as error:
        if not renames:
            _remove_temp(context, staged, made_dir)
        return _replace_failed(unit, error, kept=True)
    finally:
        if create.kind is ActionKind.MAKE_DIR:
            context.note_dir(staged, made=False)
    if create.kind is ActionKind.MAKE_DIR:
        context.note_dir(path)
    return [
        StepDone(backup_seq, backup, StepStatus.DONE, None, None, 0),
        StepDone(create_seq, create, StepStatus.DONE, result, None, copied),
    ]


def _swap_in(context: StepContext, temp: RelPath, path: RelPath, any_dir: bool) -> None:
    """Put temp in place of path, keeping the old content at path's backup name.

    With hard links the old file gets its backup name first and one atomic rename swaps: path is
    never missing. Otherwise (directories, no hard links) two renames leave a short gap, which
    recovery closes after a crash, and a failed second rename puts the old content back.
    """
    target = context.target
    backup = join_path(context.backup_dir, path)
    context.ensure_dir(parent_path(backup))
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


def _remove_temp(context: StepContext, temp: RelPath, is_dir: bool) -> None:
    """Remove a temporary name made for a replace that did not complete, if it exists (best effort)."""
    try:
        if is_dir:
            context.target.remove_dir(temp)
        else:
            context.target.remove_file(temp)
    except NotFoundError:
        pass
    except BackendError as error:
        log.warning("run %s: cannot remove temporary %s: %s", context.run_id, temp, error)


def _replace_failed(unit: Unit, error: Exception, kept: bool = False) -> list[StepDone]:
    """Return the outcomes of a replace that did not happen: nothing changed at its path."""
    (backup_seq, backup), (create_seq, create) = unit.steps
    path = backup.path
    fatal = False
    if isinstance(error, ConflictError):
        status, culprit = StepStatus.CONFLICT, str(error)
    elif isinstance(error, SkipError):
        status, culprit = StepStatus.CONFLICT, f"{path}: changed while it was replaced; left alone"
    else:
        assert isinstance(error, BackendError)
        named = error.filename if error.filename and TEMP_MARKER not in str(error.filename) else path
        status, culprit = StepStatus.FAILED, f"{named}: {error.strerror or error}"
        fatal = isinstance(error, FATAL_ERRORS)
    if kept:
        reason = culprit if status is StepStatus.CONFLICT else f"{culprit}; {path} keeps its old content"
        return [
            StepDone(backup_seq, backup, StepStatus.SKIPPED, None, None, 0),
            StepDone(create_seq, create, status, None, reason, 0, fatal),
        ]
    return [
        StepDone(backup_seq, backup, status, None, culprit, 0, fatal),
        *skipped_after_failure([(create_seq, create)]),
    ]
