"""Compare two snapshots that are already scanned: settle content questions, build the Diff."""

from __future__ import annotations

from dataclasses import dataclass, field

from dirkit.backends.protocol import Backend
from dirkit.core.diff import Diff, build_diff, content_candidates, pair_snapshots
from dirkit.core.sameness import SamenessPolicy
from dirkit.core.snapshot import Snapshot
from dirkit.ops.content import compare_contents
from dirkit.ops.scan import ScanOptions


@dataclass(frozen=True, slots=True)
class CompareOptions:
    """How to compare two trees."""

    scan: ScanOptions = field(default_factory=ScanOptions)
    content: bool = False
    modify_window_ns: int = 0
    normalize_unicode: bool = False
    jobs: int = 8
    keep_same: bool = True
    """Keep 'same' changes in the Diff; without it they are only counted (faster, less memory)."""


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
