"""Compare two trees: scan both, pair, settle content questions, build the Diff."""

from __future__ import annotations

from dirkit.backends.protocol import Backend
from dirkit.core.compare.diff import Diff, Status
from dirkit.core.tree.snapshot import Snapshot
from dirkit.ops.compare.pairing import CompareOptions, compare_snapshots, policy_for
from dirkit.ops.compare.partition import can_partition, compare_partitioned
from dirkit.ops.tree.forked_scan import scan_two_trees
from dirkit.ops.tree.gcpause import paused_gc
from dirkit.ops.tree.scan import ScanOptions

__all__ = ["CompareOptions", "compare_snapshots", "compare_trees", "policy_for", "scan_both"]


def scan_both(left: Backend, right: Backend, options: ScanOptions) -> tuple[Snapshot, Snapshot]:
    """Scan two trees at once, with the same options, and return both."""
    return scan_two_trees(left, right, options, options)


def compare_trees(left: Backend, right: Backend, options: CompareOptions | None = None) -> Diff:
    """Return how the right tree differs from the left one."""
    chosen = options or CompareOptions()
    if can_partition(left, right, chosen):
        return compare_partitioned(left, right, chosen)
    left_snapshot, right_snapshot = scan_both(left, right, chosen.scan)
    with paused_gc():
        diff = compare_snapshots(left, right, left_snapshot, right_snapshot, chosen)
    if chosen.keep_same:
        return diff
    kept = tuple(change for change in diff.changes if change.status is not Status.SAME)
    return Diff(kept, omitted_same=len(diff.changes) - len(kept), moved_contents=diff.moved_contents)
