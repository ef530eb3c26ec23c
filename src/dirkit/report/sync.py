"""A sync plan and its conflicts as text lines (what went where) and JSON Lines records."""

from __future__ import annotations

import json
from collections.abc import Iterator

from dirkit.core.run.plan import ActionKind
from dirkit.core.sync.base import Side
from dirkit.core.sync.plan import ConflictResolution, SyncPlan
from dirkit.core.tree.paths import display_path
from dirkit.report.plan import describe_action, human_bytes
from dirkit.report.style import Style

STEP_WORDS = {
    ActionKind.COPY_FILE: "copy",
    ActionKind.MAKE_DIR: "mkdir",
    ActionKind.MAKE_SYMLINK: "link",
    ActionKind.BACKUP: "backup",
    ActionKind.REMOVE: "remove",
    ActionKind.RENAME: "rename",
    ActionKind.SET_MODE: "chmod",
    ActionKind.SET_MTIME: "touch",
    ActionKind.HARD_LINK: "link",
}


def direction(side: Side, kind: ActionKind) -> str:
    """Return where a step's content comes from and goes, as 'A -> B', or the side alone."""
    if kind in (ActionKind.COPY_FILE, ActionKind.MAKE_DIR, ActionKind.MAKE_SYMLINK):
        return f"{side.other.value} -> {side.value}"
    if kind in (ActionKind.SET_MODE, ActionKind.SET_MTIME):
        return f"{side.other.value} => {side.value}"
    return f"     {side.value}"


def render_sync_text(plan: SyncPlan, a_name: str, b_name: str, style: Style) -> Iterator[str]:
    """Yield what the sync does on each side, each conflict and skipped path, then a summary line."""
    yield f"A = {display_path(a_name)}"
    yield f"B = {display_path(b_name)}"
    for side in Side:
        for step in plan.steps_on(side):
            action = step.action
            word = STEP_WORDS.get(action.kind, action.kind.value)
            yield f"  {direction(side, action.kind)}  {word:<7}{describe_action(action)}"
    for conflict in plan.conflicts:
        label = "conflict" if conflict.resolution is ConflictResolution.LEFT_ALONE else "resolved"
        colour = "red" if conflict.resolution is ConflictResolution.LEFT_ALONE else "yellow"
        kept = f" (the other version kept as {display_path(conflict.kept_as)})" if conflict.kept_as else ""
        yield (
            f"{style.paint(f'{label:<9}', colour)} {display_path(conflict.path)}: {conflict.reason} "
            f"(A {conflict.a_change.value}, B {conflict.b_change.value}): {conflict.resolution.value}{kept}"
        )
    for skipped in plan.skipped:
        yield f"{style.paint('skip     ', 'red')} {display_path(skipped.path)}: {skipped.reason}"
    yield summary_line(plan)


def summary_line(plan: SyncPlan) -> str:
    """Return what the plan does, counted, as one sentence."""
    if plan.is_empty and not plan.conflicts:
        return "sync: nothing to do, both sides are in step"
    parts = []
    for side in Side:
        steps = plan.steps_on(side)
        copies = [s.action for s in steps if s.action.kind is ActionKind.COPY_FILE]
        size = sum(action.size for action in copies)
        parts.append(f"{len(copies)} files to {side.value} ({human_bytes(size)})")
        renamed = sum(1 for step in steps if step.action.kind is ActionKind.RENAME)
        if renamed:
            parts.append(f"{renamed} renamed on {side.value}")
        if plan.deleted_on(side):
            parts.append(f"{plan.deleted_on(side)} deleted on {side.value} (to its backups)")
    left = len(plan.unresolved)
    if left:
        parts.append(f"{left} conflicts left alone")
    resolved = len(plan.conflicts) - left
    if resolved:
        parts.append(f"{resolved} conflicts resolved")
    return "sync: " + ", ".join(parts)


def sync_json_lines(plan: SyncPlan, a_name: str, b_name: str) -> Iterator[str]:
    """Yield a summary record, then one record per step and one per conflict."""
    yield json.dumps(
        {
            "type": "sync",
            "a": a_name,
            "b": b_name,
            "steps_on_a": len(plan.a_steps),
            "steps_on_b": len(plan.b_steps),
            "deleted_on_a": plan.a_deleted_files,
            "deleted_on_b": plan.b_deleted_files,
            "conflicts": len(plan.unresolved),
            "resolved": len(plan.conflicts) - len(plan.unresolved),
            "skipped": len(plan.skipped),
        }
    )
    for side in Side:
        for step in plan.steps_on(side):
            action = step.action
            yield json.dumps(
                {
                    "type": "step",
                    "side": side.value,
                    "action": action.kind.value,
                    "path": action.path,
                    "source_path": action.source_path,
                    "size": action.size,
                }
            )
    for conflict in plan.conflicts:
        yield json.dumps(
            {
                "type": "conflict",
                "path": conflict.path,
                "a": conflict.a_change.value,
                "b": conflict.b_change.value,
                "resolution": conflict.resolution.value,
                "reason": conflict.reason,
                "kept_as": conflict.kept_as,
                "left_alone": list(conflict.left_alone),
            }
        )
    for skipped in plan.skipped:
        yield json.dumps({"type": "skipped", "path": skipped.path, "reason": skipped.reason})
