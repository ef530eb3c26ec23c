"""The stale check: why the actions of a saved plan no longer fit the trees as fresh scans show them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dirkit.core.run.plan import (
    CREATING_KINDS,
    Action,
    ActionKind,
    Plan,
    entry_after_metadata,
    entry_matches,
    tree_digest,
)
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import ROOT, RelPath, is_inside, parent_path


def find_stale_actions(
    plan: Plan,
    source_entries: Mapping[RelPath, Entry],
    target_entries: Mapping[RelPath, Entry],
    target_snapshot_entries: Iterable[Entry] = (),
) -> list[str]:
    """Return why each action of plan no longer fits the trees as they are now (empty: still valid).

    A path that a plan creates must still be absent unless an earlier action moved it away; a path it
    replaces must still hold what it held; a directory it moves away must hold the same things below.
    """
    reasons: list[str] = []
    removed: set[RelPath] = set()
    below: dict[RelPath, list[Entry]] = {}
    tops = {
        action.path
        for action in plan.actions
        if action.kind is ActionKind.BACKUP
        and action.expected is not None
        and action.expected.tree_digest is not None
    }
    moved_away = {
        action.source_path
        for action in plan.actions
        if action.kind is ActionKind.RENAME and action.source_path is not None
    }
    if tops:
        for entry in target_snapshot_entries:
            if moved_away and any(is_inside(entry.path, away) for away in moved_away):
                continue
            parent = parent_path(entry.path)
            while True:
                if parent in tops:
                    below.setdefault(parent, []).append(entry)
                if parent == ROOT:
                    break
                parent = parent_path(parent)
    metadata_set: dict[RelPath, list[Action]] = {}
    for action in plan.actions:
        path = action.path
        current = target_entries.get(path)
        if removed and _lies_in_any(path, removed):
            current = None
        if action.kind in (ActionKind.SET_MTIME, ActionKind.SET_MODE):
            if action.expected is not None and not entry_matches(action.expected, current):
                reasons.append(f"{path}: {_what_happened('target', current)} since the plan was made")
            metadata_set.setdefault(path, []).append(action)
            continue
        if action.kind in CREATING_KINDS:
            if current is not None:
                reasons.append(f"{path}: now exists in the target; the plan expected nothing there")
        elif action.expected is None or not entry_matches(action.expected, current):
            reasons.append(f"{path}: {_what_happened('target', current)} since the plan was made")
        elif (
            action.expected.tree_digest is not None
            and tree_digest(below.get(path, []), path) != action.expected.tree_digest
        ):
            reasons.append(f"{path}: something below this directory changed since the plan was made")
        if action.kind in (ActionKind.BACKUP, ActionKind.REMOVE):
            removed.add(path)
        if action.kind is ActionKind.RENAME and action.source_path is not None:
            moved = target_entries.get(action.source_path)
            if moved is not None and action.source_path in metadata_set:
                moved = entry_after_metadata(moved, metadata_set[action.source_path])
            if action.source_expected is not None and not entry_matches(action.source_expected, moved):
                what = _what_happened("target", moved)
                reasons.append(f"{action.source_path}: {what} since the plan was made")
        if action.kind is ActionKind.COPY_FILE and action.source_expected is not None:
            source_path = action.source_path or path
            source = source_entries.get(source_path)
            if not entry_matches(action.source_expected, source):
                reasons.append(f"{source_path}: {_what_happened('source', source)} since the plan was made")
    return reasons


def _what_happened(side: str, current: object | None) -> str:
    """Say how a path of one side no longer fits the plan: it was deleted, or it changed."""
    return f"was deleted from the {side}" if current is None else f"changed in the {side}"


def _lies_in_any(path: RelPath, tops: set[RelPath]) -> bool:
    """Tell whether path or one of its ancestors is in tops."""
    while True:
        if path in tops:
            return True
        if path == ROOT:
            return False
        path = parent_path(path)
