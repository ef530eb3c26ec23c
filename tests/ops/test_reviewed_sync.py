"""A reviewed sync plan matches a fresh one when only the time in kept conflict copies' names moved."""

from __future__ import annotations

from dirkit.core.sync.base import SideChange
from dirkit.core.sync.plan import Conflict, ConflictResolution, SyncPlan
from dirkit.core.tree.paths import rel_path
from dirkit.ops.sync.reviewed import same_sync_plan


def kept_both(kept_as: str, path: str = "x.txt") -> SyncPlan:
    """Return a plan with one conflict whose losing version is kept as kept_as."""
    conflict = Conflict(
        rel_path(path),
        SideChange.NEW,
        SideChange.NEW,
        ConflictResolution.KEPT_BOTH,
        "both",
        rel_path(kept_as),
    )
    return SyncPlan(conflicts=[conflict])


def test_only_the_stamp_of_kept_copies_may_differ() -> None:
    reviewed = kept_both("x.conflict-B-20261202-005442.txt")
    assert same_sync_plan(reviewed, kept_both("x.conflict-B-20261202-005442.txt"))
    assert same_sync_plan(reviewed, kept_both("x.conflict-B-20261202-005501.txt"))
    assert not same_sync_plan(reviewed, kept_both("x.conflict-A-20261202-005442.txt"))
    assert not same_sync_plan(reviewed, kept_both("x.conflict-B-20261202-005442.txt", "y.txt"))
    assert not same_sync_plan(reviewed, SyncPlan())
