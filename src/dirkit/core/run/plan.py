"""The plan model: action kinds, actions, fingerprints of what a path held, plans and their totals."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from dirkit.core.compare.sameness import SamenessPolicy, mtimes_equal
from dirkit.core.tree.entry import Entry, EntryKind, safe_mode
from dirkit.core.tree.paths import RelPath

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


class ActionKind(enum.Enum):
    """What one step of a plan does to the target tree."""

    MAKE_DIR = "make_dir"
    COPY_FILE = "copy_file"
    """Copy source_path of the source tree to path (temporary name, then rename into place)."""
    MAKE_SYMLINK = "make_symlink"
    HARD_LINK = "hard_link"
    """Make path a hard link to source_path, an existing file of the target tree."""
    BACKUP = "backup"
    """Move path (a file, link or whole directory) aside into the run's backup folder by renaming."""
    REMOVE = "remove"
    """Remove a non-directory, or an empty directory, for good (no backup)."""
    RENAME = "rename"
    """Rename source_path of the target tree to path."""
    SET_MTIME = "set_mtime"
    SET_MODE = "set_mode"


CREATING_KINDS = frozenset(
    {
        ActionKind.MAKE_DIR,
        ActionKind.COPY_FILE,
        ActionKind.MAKE_SYMLINK,
        ActionKind.HARD_LINK,
        ActionKind.RENAME,
    }
)
"""Kinds that create path, which must be absent when they run."""


class Fingerprint(NamedTuple):
    """What a path held when a plan was made, enough to notice that it changed since."""

    kind: EntryKind
    size: int = 0
    mtime_ns: int | None = None
    mode: int | None = None
    target: str | None = None
    tree_digest: str | None = None
    """For a directory: a digest of everything below it (what a whole-directory backup takes)."""


def fingerprint_of(entry: Entry, tree_digest: str | None = None) -> Fingerprint:
    """Return the fingerprint of an entry."""
    return Fingerprint(entry.kind, entry.size, entry.mtime_ns, entry.mode, entry.target, tree_digest)


def entry_matches(expected: Fingerprint, actual: Entry | None, resolution_ns: int | None = 1) -> bool:
    """Tell whether a path still holds what was expected (directories: kind only, not their contents).

    Without usable mtimes (resolution None, or a side that gives none) only the size can be checked.
    """
    if actual is None or actual.kind is not expected.kind:
        return False
    if expected.kind is EntryKind.FILE:
        if actual.size != expected.size:
            return False
        if resolution_ns is None or expected.mtime_ns is None or actual.mtime_ns is None:
            return True
        policy = SamenessPolicy(mtime_resolution_ns=resolution_ns)
        return mtimes_equal(expected.mtime_ns, actual.mtime_ns, policy)
    if expected.kind is EntryKind.SYMLINK:
        return actual.target == expected.target
    return True


def tree_digest(entries: Iterable[Entry], top: RelPath) -> str:
    """Return a digest of the entries below top (paths relative to top, kinds, sizes, file mtimes)."""
    digest = hashlib.sha256()
    cut = len(top) + 1
    for entry in sorted(entries, key=lambda item: item.path):
        mtime = entry.mtime_ns if entry.kind is EntryKind.FILE else None
        line = f"{entry.path[cut:]}\0{entry.kind.value}\0{entry.size}\0{mtime}\0{entry.target}\n"
        digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


class Action(NamedTuple):
    """One step of a plan, on path of the target tree.

    expected is what path held when the plan was made (None: it must be absent); source_expected is
    what source_path held (in the source tree for copy_file, in the target tree for rename and
    hard_link). optional steps are skipped quietly when their expectation fails (undo of a step an
    interrupted run may never have taken).
    """

    kind: ActionKind
    path: RelPath
    source_path: RelPath | None = None
    size: int = 0
    mtime_ns: int | None = None
    mode: int | None = None
    link_target: str | None = None
    expected: Fingerprint | None = None
    source_expected: Fingerprint | None = None
    optional: bool = False


class SkippedPath(NamedTuple):
    """A path the planner left alone, and why."""

    path: RelPath
    reason: str


@dataclass(frozen=True, slots=True)
class PlanTotals:
    """What a plan will do, counted up front (for guards, progress and summaries)."""

    actions: int = 0
    files: int = 0
    """Files to copy."""
    bytes: int = 0
    """Bytes to copy."""
    dirs: int = 0
    links: int = 0
    backups: int = 0
    deleted_files: int = 0
    """Files of the target that will be gone after the plan (moved to backups), not counting replaced ones."""
    removals: int = 0
    metadata: int = 0


@dataclass(frozen=True, slots=True)
class Plan:
    """An ordered list of actions that would make a target tree what was asked, with its totals."""

    operation: str
    target: str
    actions: tuple[Action, ...]
    totals: PlanTotals
    source: str | None = None
    skipped: tuple[SkippedPath, ...] = ()
    options: Mapping[str, JsonValue] = field(default_factory=dict)
    """What the plan was made with (filters, content mode, run undone), so apply can re-check it."""
    created: str = ""

    @property
    def is_empty(self) -> bool:
        """Tell whether the plan has nothing to do."""
        return not self.actions


def count_totals(actions: Iterable[Action], deleted_files: int = 0) -> PlanTotals:
    """Return the totals of a list of actions."""
    counts = dict.fromkeys(ActionKind, 0)
    copied_bytes = 0
    total = 0
    for action in actions:
        total += 1
        counts[action.kind] += 1
        if action.kind is ActionKind.COPY_FILE:
            copied_bytes += action.size
    return PlanTotals(
        actions=total,
        files=counts[ActionKind.COPY_FILE],
        bytes=copied_bytes,
        dirs=counts[ActionKind.MAKE_DIR],
        links=counts[ActionKind.MAKE_SYMLINK] + counts[ActionKind.HARD_LINK],
        backups=counts[ActionKind.BACKUP],
        deleted_files=deleted_files,
        removals=counts[ActionKind.REMOVE],
        metadata=counts[ActionKind.SET_MTIME] + counts[ActionKind.SET_MODE],
    )


def make_plan(
    operation: str,
    target: str,
    actions: Iterable[Action],
    source: str | None = None,
    skipped: Iterable[SkippedPath] = (),
    options: Mapping[str, JsonValue] | None = None,
    deleted_files: int = 0,
    created: str = "",
) -> Plan:
    """Return a plan with its totals counted."""
    ordered = tuple(actions)
    return Plan(
        operation=operation,
        target=target,
        actions=ordered,
        totals=count_totals(ordered, deleted_files),
        source=source,
        skipped=tuple(skipped),
        options=dict(options or {}),
        created=created,
    )


def plan_with_safe_modes(plan: Plan) -> Plan:
    """Return plan with setuid, setgid and other-write taken out of every mode it would set."""
    actions = tuple(
        action if action.mode is None else action._replace(mode=safe_mode(action.mode))
        for action in plan.actions
    )
    return replace(plan, actions=actions)


def entry_after_metadata(entry: Entry, actions: Iterable[Action]) -> Entry:
    """Return entry as it will be once the given set_mode and set_mtime steps are done."""
    for action in actions:
        if action.kind is ActionKind.SET_MODE and action.mode is not None:
            entry = entry._replace(mode=action.mode)
        elif action.kind is ActionKind.SET_MTIME and action.mtime_ns is not None:
            entry = entry._replace(mtime_ns=action.mtime_ns)
    return entry
