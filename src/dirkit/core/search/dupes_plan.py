"""Turn the pure choice of what to do with duplicates into one executable Plan per root."""

from __future__ import annotations

from collections.abc import Sequence

from dirkit.core.run.plan import Action, ActionKind, Fingerprint, JsonValue, Plan, SkippedPath, make_plan
from dirkit.core.search.dupes import DupeAction, DupeFile, DupeGroup, KeepRule, plan_dupe_actions
from dirkit.core.tree.entry import EntryKind

OPERATION_BY_ACTION = {DupeAction.LINK: "dupes-link", DupeAction.REMOVE: "dupes-remove"}
"""The operation name a dupes run is journaled under."""


def dupe_fingerprint(item: DupeFile, size: int) -> Fingerprint:
    """Return what a file of a group held when it was found (size and mtime, as the scan saw them)."""
    return Fingerprint(EntryKind.FILE, size, item.mtime_ns)


def native_location(root: str, item: DupeFile) -> str:
    """Return the OS path of a file of a group under its root's OS path."""
    return f"{root.rstrip('/')}/{item.path}" if item.path else root


def plan_dupe_runs(
    groups: Sequence[DupeGroup],
    action: DupeAction,
    rule: KeepRule,
    roots: Sequence[str],
    created: str = "",
) -> list[tuple[int, Plan]]:
    """Return (root index, plan) for every root where something is to be done or was skipped.

    Each duplicate is first moved to its root's backup folder (BACKUP); with LINK a hard link to
    the kept file then takes its place (HARD_LINK, from the same root by path, from another root
    by its OS path in link_target). Both steps carry fingerprints, so a file changed since the
    scan is left alone as a conflict.
    """
    sizes = {item: group.size for group in groups for item in group.files}
    actions: dict[int, list[Action]] = {}
    skipped: dict[int, list[SkippedPath]] = {}
    counts: dict[int, int] = {}
    for step in plan_dupe_actions(groups, action, rule):
        duplicate, keeper = step.target, step.keeper
        index = duplicate.root_index
        if step.skipped is not None:
            skipped.setdefault(index, []).append(SkippedPath(duplicate.path, step.skipped))
            continue
        size = sizes[duplicate]
        steps = actions.setdefault(index, [])
        steps.append(Action(ActionKind.BACKUP, duplicate.path, expected=dupe_fingerprint(duplicate, size)))
        counts[index] = counts.get(index, 0) + 1
        if action is DupeAction.LINK:
            same_root = keeper.root_index == index
            steps.append(
                Action(
                    ActionKind.HARD_LINK,
                    duplicate.path,
                    source_path=keeper.path if same_root else None,
                    link_target=None if same_root else native_location(roots[keeper.root_index], keeper),
                    source_expected=dupe_fingerprint(keeper, sizes[keeper]),
                )
            )
    options: dict[str, JsonValue] = {"dupes": action.value, "keep": rule.value}
    plans: list[tuple[int, Plan]] = []
    for index, root in enumerate(roots):
        if index not in actions and index not in skipped:
            continue
        plans.append(
            (
                index,
                make_plan(
                    OPERATION_BY_ACTION[action],
                    root,
                    actions.get(index, ()),
                    skipped=skipped.get(index, ()),
                    options=options,
                    deleted_files=counts.get(index, 0) if action is DupeAction.REMOVE else 0,
                    created=created,
                ),
            )
        )
    return plans
