"""Groups of identical files, and the pure choice of what to keep and what to link or remove."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import NamedTuple

from dirkit.core.tree.paths import RelPath, sort_key


class KeepRule(enum.Enum):
    """Which file of a group of duplicates stays as it is."""

    OLDEST = "oldest"
    NEWEST = "newest"
    SHORTEST_PATH = "shortest-path"
    FIRST_ROOT = "first-root"


class DupeAction(enum.Enum):
    """What to do with the duplicates that are not kept."""

    LINK = "link"
    """Replace the duplicate by a hard link to the kept file."""
    REMOVE = "remove"
    """Delete the duplicate."""


class DupeFile(NamedTuple):
    """One file of a group: which root it was found under, where, when modified, and its inode."""

    root_index: int
    path: RelPath
    mtime_ns: int | None = None
    dev: int = 0
    ino: int = 0


class DupeGroup(NamedTuple):
    """Files of one size with the same content digest, in root order then path order."""

    size: int
    digest: str
    files: tuple[DupeFile, ...]


class DupeStep(NamedTuple):
    """One action of a dedupe plan: do action to target, keeping keeper; skipped says why not."""

    action: DupeAction
    target: DupeFile
    keeper: DupeFile
    skipped: str | None = None


def _position_key(item: DupeFile) -> tuple[int, str]:
    return item.root_index, sort_key(item.path)


def choose_keeper(group: DupeGroup, rule: KeepRule) -> DupeFile:
    """Return the file of the group that the rule keeps; ties go to the first in root and path order."""
    files = group.files
    if rule is KeepRule.FIRST_ROOT:
        return min(files, key=_position_key)
    if rule is KeepRule.SHORTEST_PATH:
        return min(files, key=lambda item: (len(item.path), _position_key(item)))
    known = [item for item in files if item.mtime_ns is not None]
    if not known:
        return min(files, key=_position_key)
    if rule is KeepRule.OLDEST:
        return min(known, key=lambda item: (item.mtime_ns, _position_key(item)))
    return min(known, key=lambda item: (-(item.mtime_ns or 0), _position_key(item)))


def plan_dupe_actions(groups: Sequence[DupeGroup], action: DupeAction, rule: KeepRule) -> list[DupeStep]:
    """Return the steps that leave one file per group (hard links cannot cross filesystems)."""
    steps: list[DupeStep] = []
    for group in groups:
        keeper = choose_keeper(group, rule)
        for item in sorted(group.files, key=_position_key):
            if item == keeper:
                continue
            skipped = None
            if action is DupeAction.LINK and item.dev != keeper.dev:
                skipped = "on another filesystem than the kept file, cannot hard link"
            steps.append(DupeStep(action, item, keeper, skipped))
    return steps
