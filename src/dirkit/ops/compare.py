"""Compare two trees: scan both at once, pair, settle content questions, build the Diff."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from dirkit.backends.protocol import Backend
from dirkit.core.diff import Diff, build_diff, content_candidates, pair_snapshots
from dirkit.core.sameness import NS_PER_SECOND, SamenessPolicy
from dirkit.core.snapshot import Snapshot
from dirkit.ops.content import compare_contents
from dirkit.ops.scan import ScanOptions, scan_tree


@dataclass(frozen=True, slots=True)
class CompareOptions:
    """How to compare two trees."""

    scan: ScanOptions = field(default_factory=ScanOptions)
    content: bool = False
    modify_window_ns: int = 0
    normalize_unicode: bool = False
    jobs: int = 8


def scan_both(left: Backend, right: Backend, options: ScanOptions) -> tuple[Snapshot, Snapshot]:
    """Scan two trees concurrently (scandir and stat release the GIL) and return both snapshots."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="dirkit-scan") as pool:
        left_future = pool.submit(scan_tree, left, options)
        right_future = pool.submit(scan_tree, right, options)
        return left_future.result(), right_future.result()


def policy_for(left: Snapshot, right: Snapshot, options: CompareOptions) -> SamenessPolicy:
    """Return the sameness policy for two snapshots: the coarser resolution of the two wins."""
    return SamenessPolicy(
        content=options.content,
        modify_window_ns=options.modify_window_ns,
        mtime_resolution_ns=max(left.mtime_resolution_ns, right.mtime_resolution_ns),
    )


def compare_snapshots(
    left_backend: Backend,
    right_backend: Backend,
    left: Snapshot,
    right: Snapshot,
    options: CompareOptions,
) -> Diff:
    """Return the diff of two snapshots, reading bytes where the policy asks for content."""
    pairings = pair_snapshots(left, right, policy_for(left, right, options), options.normalize_unicode)
    candidates = content_candidates(pairings)
    results = compare_contents(left_backend, right_backend, candidates, options.jobs)
    return build_diff(pairings, results)


def compare_trees(left: Backend, right: Backend, options: CompareOptions | None = None) -> Diff:
    """Return how the right tree differs from the left one."""
    chosen = options or CompareOptions()
    left_snapshot, right_snapshot = scan_both(left, right, chosen.scan)
    return compare_snapshots(left, right, left_snapshot, right_snapshot, chosen)


def seconds_to_ns(seconds: float) -> int:
    """Return a duration in seconds as whole nanoseconds."""
    return round(seconds * NS_PER_SECOND)
