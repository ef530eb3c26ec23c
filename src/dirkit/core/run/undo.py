"""The undo planner: from the journal of a run, the plan that puts its target back as it was."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from dirkit.core.run.plan import Action, ActionKind, Fingerprint, JsonValue, Plan, SkippedPath, make_plan
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import RelPath


class StepStatus(enum.Enum):
    """Where one journaled step stands."""

    PENDING = "pending"
    """Recorded before it ran; it may or may not have happened (the run was interrupted)."""
    DONE = "done"
    FAILED = "failed"
    CONFLICT = "conflict"
    """Left alone because the target no longer held what the plan expected."""
    SKIPPED = "skipped"


class JournalStep(NamedTuple):
    """One step of a run as the journal holds it."""

    seq: int
    action: Action
    status: StepStatus
    backup_path: RelPath | None = None
    """Where a backup step moved its path."""
    result: Fingerprint | None = None
    """What path held right after the step, when known."""


def expected_result(step: JournalStep) -> Fingerprint | None:
    """Return what the step left at its path: the recorded result, else what the action says it makes."""
    if step.result is not None:
        return step.result
    action = step.action
    if action.kind is ActionKind.COPY_FILE:
        return Fingerprint(EntryKind.FILE, action.size, action.mtime_ns, action.mode)
    if action.kind is ActionKind.MAKE_SYMLINK:
        return Fingerprint(EntryKind.SYMLINK, target=action.link_target)
    if action.kind is ActionKind.MAKE_DIR:
        return Fingerprint(EntryKind.DIR)
    if action.kind is ActionKind.HARD_LINK and action.source_expected is not None:
        return action.source_expected
    if action.kind is ActionKind.RENAME and action.source_expected is not None:
        return action.source_expected
    return None


def plan_undo(
    run_id: str,
    target: str,
    steps: Iterable[JournalStep],
    options: Mapping[str, JsonValue] | None = None,
    created: str = "",
) -> Plan:
    """Return the plan that reverts the steps of a run, last step first.

    Created files and links are moved to the undo run's own backups (so the undo can be undone),
    backed-up paths are renamed back, created directories removed when empty, and the old modes and
    mtimes of directories are set again at the very end. Steps still pending (an interrupted run) are
    reverted with optional actions, skipped quietly if the step never happened.
    """
    content: list[Action] = []
    metadata: list[Action] = []
    skipped: list[SkippedPath] = []
    ordered = sorted(steps, key=lambda item: item.seq)
    final_modes: dict[RelPath, int] = {}
    final_mtimes: dict[RelPath, int] = {}
    # A pending step may have happened: expect its value (if it did not happen, the path still has
    # the old value and the optional step that sets it back is skipped, which is right either way).
    for step in ordered:
        if step.status not in (StepStatus.DONE, StepStatus.PENDING):
            continue
        if step.action.kind is ActionKind.SET_MODE and step.action.mode is not None:
            final_modes[step.action.path] = step.action.mode
        if step.action.kind is ActionKind.SET_MTIME and step.action.mtime_ns is not None:
            final_mtimes[step.action.path] = step.action.mtime_ns
    for step in reversed(ordered):
        if step.status not in (StepStatus.DONE, StepStatus.PENDING):
            continue
        optional = step.status is StepStatus.PENDING
        action = step.action
        kind = action.kind
        path = action.path
        if kind in (ActionKind.COPY_FILE, ActionKind.MAKE_SYMLINK, ActionKind.HARD_LINK):
            made = expected_result(step)
            if made is not None:
                content.append(Action(ActionKind.BACKUP, path, expected=made, optional=optional))
        elif kind is ActionKind.MAKE_DIR:
            made_dir = Fingerprint(EntryKind.DIR, mtime_ns=final_mtimes.get(path), mode=final_modes.get(path))
            content.append(Action(ActionKind.REMOVE, path, expected=made_dir, optional=optional))
        elif kind is ActionKind.BACKUP:
            if step.backup_path is None:
                skipped.append(SkippedPath(path, "the journal does not say where it was backed up"))
                continue
            content.append(
                Action(
                    ActionKind.RENAME,
                    path,
                    source_path=step.backup_path,
                    source_expected=action.expected,
                    optional=optional,
                )
            )
            before = action.expected
            if before is not None and before.kind is EntryKind.DIR:
                metadata.extend(_old_dir_metadata(path, before))
        elif kind is ActionKind.RENAME and action.source_path is not None:
            content.append(
                Action(
                    ActionKind.RENAME,
                    action.source_path,
                    source_path=path,
                    source_expected=expected_result(step),
                    optional=optional,
                )
            )
        elif kind is ActionKind.REMOVE:
            before = action.expected
            if before is not None and before.kind is EntryKind.DIR:
                content.append(Action(ActionKind.MAKE_DIR, path, optional=optional))
                metadata.extend(_old_dir_metadata(path, before))
            else:
                skipped.append(SkippedPath(path, "removed without a backup; cannot be restored"))
        elif kind in (ActionKind.SET_MODE, ActionKind.SET_MTIME):
            before = action.expected
            if before is None:
                continue
            after = before._replace(
                mtime_ns=final_mtimes.get(path, before.mtime_ns),
                mode=final_modes.get(path, before.mode),
                tree_digest=None,
            )
            if kind is ActionKind.SET_MODE and before.mode is not None:
                metadata.append(Action(kind, path, mode=before.mode, expected=after, optional=True))
            if kind is ActionKind.SET_MTIME and before.mtime_ns is not None:
                metadata.append(Action(kind, path, mtime_ns=before.mtime_ns, expected=after, optional=True))
    chosen_options: dict[str, JsonValue] = {"undoes": run_id}
    chosen_options.update(options or {})
    return make_plan(
        "undo",
        target,
        content + _settle_metadata(metadata),
        skipped=skipped,
        options=chosen_options,
        created=created,
    )


def plan_undo_continuation(
    undo_run_id: str,
    undoes: str,
    target: str,
    actions: Sequence[Action],
    steps: Iterable[JournalStep],
    created: str = "",
) -> Plan:
    """Return the plan that finishes an undo run that stopped: its actions not done yet, in order.

    Steps still pending may have happened, so they become optional; steps that failed, were skipped
    or never started are taken again.
    """
    statuses = {step.seq: step.status for step in steps}
    remaining: list[Action] = []
    for seq, action in enumerate(actions):
        status = statuses.get(seq)
        if status is StepStatus.DONE:
            continue
        remaining.append(action._replace(optional=True) if status is StepStatus.PENDING else action)
    options: dict[str, JsonValue] = {"undoes": undoes, "continues": undo_run_id}
    return make_plan("undo", target, remaining, options=options, created=created)


def _old_dir_metadata(path: RelPath, before: Fingerprint) -> list[Action]:
    """Return the optional steps that give a directory put back its old mode and mtime again.

    Putting things back inside it (or renaming them out of it first) changed its mtime.
    """
    actions: list[Action] = []
    if before.mode is not None:
        actions.append(Action(ActionKind.SET_MODE, path, mode=before.mode, optional=True))
    if before.mtime_ns is not None:
        actions.append(Action(ActionKind.SET_MTIME, path, mtime_ns=before.mtime_ns, optional=True))
    return actions


def _settle_metadata(metadata: list[Action]) -> list[Action]:
    """Keep the earliest value per (kind, path) (the oldest state), deepest paths first."""
    chosen: dict[tuple[ActionKind, RelPath], Action] = {}
    for action in metadata:
        chosen[(action.kind, action.path)] = action
    return sorted(
        chosen.values(), key=lambda action: (-action.path.count("/"), action.path, action.kind.value)
    )
