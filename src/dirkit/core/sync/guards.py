"""Guards that refuse a sync likely to be a mistake: a side that looks empty or unmounted, mass deletion."""

from __future__ import annotations

from dirkit.core.run.guards import GuardOptions
from dirkit.core.sync.base import Side
from dirkit.core.sync.plan import SyncPlan


def sync_guard_violations(
    plan: SyncPlan,
    entries: dict[Side, int],
    files: dict[Side, int],
    base_paths: int,
    options: GuardOptions,
) -> list[str]:
    """Return why the plan should not run unforced (empty: it may run).

    entries and files count what each side holds now (files: at least on each side the plan deletes
    on); base_paths what both held at the last sync.
    """
    if options.force:
        return []
    reasons: list[str] = []
    for side in Side:
        other = side.other
        if base_paths and entries[side] == 0 and entries[other] > 0:
            reasons.append(
                f"side {side.value} is empty (is it unmounted?) while {base_paths} paths were in step at "
                f"the last sync; syncing would delete them on side {other.value} (--force to do it anyway)"
            )
    if reasons:
        return reasons
    limit = options.max_delete
    for side in Side:
        deleted = plan.deleted_on(side)
        if deleted and not limit.allows(deleted, files[side]):
            share = 100.0 * deleted / files[side] if files[side] else 100.0
            reasons.append(
                f"the plan would delete {deleted} of side {side.value}'s {files[side]} files ({share:.0f}%), "
                f"more than --max-delete {limit.describe()} allows; review it with --dry-run, then raise "
                f"--max-delete or use --force"
            )
    return reasons
