"""Whether a plan's new bytes fit in the free space a target reports: the check made before any step."""

from __future__ import annotations

from dirkit.core.run.plan import ActionKind, Plan

BLOCK_BYTES = 4096
"""The allocation unit each copied file is rounded up to (a typical filesystem block)."""
MARGIN_BYTES = 64 * 1024 * 1024
"""Space kept free on top of what the plan writes (journal, temporary names, other writers)."""
MARGIN_SHARE = 20
"""On a small filesystem the margin is at most 1/MARGIN_SHARE of its free space."""


def bytes_needed(plan: Plan) -> int:
    """Return the bytes the plan's copies take on the target, each file rounded up to whole blocks.

    Replaced files keep their old bytes in the backup folder until pruned, and deleted ones are
    moved there, so neither frees anything during the run.
    """
    blocks = 0
    for action in plan.actions:
        if action.kind is ActionKind.COPY_FILE:
            blocks += -(-max(action.size, 1) // BLOCK_BYTES)
    return blocks * BLOCK_BYTES


def margin_for(free: int) -> int:
    """Return the space to keep free on a filesystem with this much free (64 MiB, less when small)."""
    return min(MARGIN_BYTES, max(0, free) // MARGIN_SHARE)


def space_violation(plan: Plan, free: int | None, force: bool) -> str | None:
    """Return why the plan does not fit in free bytes (None: it fits, free is unknown, or forced)."""
    if force or free is None:
        return None
    need = bytes_needed(plan)
    if need == 0 or need <= free - margin_for(free):
        return None
    files = sum(1 for action in plan.actions if action.kind is ActionKind.COPY_FILE)
    counted = f"{files} file{'' if files == 1 else 's'}"
    return (
        f"not enough free space: the plan copies {counted} needing {_size(need)} "
        f"and the target has {_size(free)} free, less a margin of {_size(margin_for(free))} "
        f"(free some space, or use --force to try anyway)"
    )


def _size(count: int) -> str:
    """Return a byte count with a binary unit, exact below 1 KiB."""
    if count < 1024:
        return f"{count} B"
    value = float(count)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}"
    return f"{count} B"
