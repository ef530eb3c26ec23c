"""Compare two trees: scan both, pair, settle content questions, build the Diff."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from dirkit.backends.local import LocalBackend
from dirkit.backends.protocol import Backend
from dirkit.core.compare.diff import Diff, Status
from dirkit.core.tree.snapshot import Snapshot
from dirkit.ops.compare.pairing import CompareOptions, compare_snapshots, policy_for
from dirkit.ops.compare.partition import can_partition, compare_partitioned
from dirkit.ops.tree.gcpause import paused_gc
from dirkit.ops.tree.scan import ScanOptions, scan_tree

__all__ = ["CompareOptions", "compare_snapshots", "compare_trees", "policy_for", "scan_both"]


def scan_both(left: Backend, right: Backend, options: ScanOptions) -> tuple[Snapshot, Snapshot]:
    """Scan two trees concurrently (remote backends wait on the network) and return both."""
    with paused_gc(), ThreadPoolExecutor(max_workers=2, thread_name_prefix="dirkit-scan") as pool:
        left_future = pool.submit(scan_tree, left, options)
        right_future = pool.submit(scan_tree, right, options)
        return left_future.result(), right_future.result()


def compare_trees(left: Backend, right: Backend, options: CompareOptions | None = None) -> Diff:
    """Return how the right tree differs from the left one."""
    chosen = options or CompareOptions()
    if can_partition(left, right, chosen):
        assert isinstance(left, LocalBackend) and isinstance(right, LocalBackend)
        return compare_partitioned(left, right, chosen)
    left_snapshot, right_snapshot = scan_both(left, right, chosen.scan)
    with paused_gc():
        diff = compare_snapshots(left, right, left_snapshot, right_snapshot, chosen)
    if chosen.keep_same:
        return diff
    kept = tuple(change for change in diff.changes if change.status is not Status.SAME)
    return Diff(kept, omitted_same=len(diff.changes) - len(kept), moved_contents=diff.moved_contents)
