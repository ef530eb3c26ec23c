"""Compare two snapshots that are already scanned: settle content questions, build the Diff."""

from __future__ import annotations

from dataclasses import dataclass, field

from dirkit.backends.protocol import Backend, coarser_resolution
from dirkit.core.compare.diff import Diff, build_diff, content_candidates, pair_snapshots
from dirkit.core.compare.sameness import SamenessPolicy
from dirkit.core.tree.snapshot import Snapshot
from dirkit.ops.compare.content import compare_contents
from dirkit.ops.compare.digest_compare import (
    compare_contents_by_digest,
    compare_digest_options,
    digests_worth_using,
    find_moves,
)
from dirkit.ops.compare.local_bytes import compare_local_bytes, local_roots
from dirkit.ops.tree.scan import ScanOptions


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
    detect_moves: bool = True
    """Report renamed files and folders as moved (hashes one-sided files whose size matches one opposite)."""
    digest_cache: bool = True
    """Serve and fill the digest cache when digests are computed (local trees only)."""


def policy_for(left: Snapshot, right: Snapshot, options: CompareOptions) -> SamenessPolicy:
    """Return the sameness policy for two snapshots, from both trees' capabilities.

    The coarser mtime resolution of the two wins (no usable mtimes on either side: mtimes never
    prove sameness); modes are compared only when both trees keep them.
    """
    return SamenessPolicy(
        content=options.content,
        modify_window_ns=options.modify_window_ns,
        mtime_resolution_ns=coarser_resolution(left.mtime_resolution_ns, right.mtime_resolution_ns),
        compare_modes=left.keeps_modes and right.keeps_modes,
    )


def compare_snapshots(
    left_backend: Backend,
    right_backend: Backend,
    left: Snapshot,
    right: Snapshot,
    options: CompareOptions,
) -> Diff:
    """Return the diff of two snapshots, reading bytes where the policy asks for content."""
    policy = policy_for(left, right, options)
    pairings = pair_snapshots(left, right, policy, options.normalize_unicode)
    candidates = content_candidates(pairings)
    roots = local_roots(left_backend, right_backend) if candidates and not options.digest_cache else None
    if roots is not None:
        results = compare_local_bytes(*roots, candidates)  # no cache to fill: bytes are cheaper than digests
    elif candidates and digests_worth_using(left_backend, right_backend):
        digest_options = compare_digest_options(options.digest_cache, options.jobs)
        results = compare_contents_by_digest(left_backend, right_backend, candidates, digest_options)
    else:
        results = compare_contents(left_backend, right_backend, candidates, options.jobs)
    diff = build_diff(pairings, results, policy)
    if options.detect_moves:
        diff = find_moves(left_backend, right_backend, diff, options.digest_cache, options.jobs)
    return diff
