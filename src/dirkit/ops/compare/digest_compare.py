"""Content compare and rename detection through the digest engine (and its cache)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from dirkit.backends.local_files import local_files
from dirkit.backends.protocol import Backend
from dirkit.core.checksums.digest import DigestAlgorithm
from dirkit.core.compare.diff import Diff
from dirkit.core.compare.moves import SideDigests, detect_moves, move_candidates
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath

if TYPE_CHECKING:  # the digest engine (hashlib, blake3, sqlite3) loads when a digest is first needed
    from dirkit.ops.checksums.digests import DigestOptions, DigestResults


def digests_worth_using(left: Backend, right: Backend) -> bool:
    """Tell whether content compare should go through digests: both trees local, so the cache works.

    On a warm cache a pair costs no reads at all; on a cold one it reads what byte comparison reads
    and fills the cache for next time. Remote trees keep byte comparison (it can stop at the first
    difference and no cache can be trusted there).
    """
    return local_files(left) is not None and local_files(right) is not None


def digest_side(backend: Backend, entries: Sequence[Entry], options: DigestOptions) -> DigestResults:
    """Return the digests of entries of one tree, through its engine and cache."""
    from dirkit.ops.checksums.digests import DigestResults, open_digest_engine

    if not entries:
        return DigestResults()
    with open_digest_engine(backend, options) as engine:
        return engine.digest_entries(entries)


def compare_contents_by_digest(
    left: Backend,
    right: Backend,
    pairs: Sequence[tuple[Entry, Entry]],
    options: DigestOptions,
) -> dict[RelPath, bool | str]:
    """Return each pair's content verdict keyed by left path, deciding by BLAKE3 digests."""
    if not pairs:
        return {}
    left_results = digest_side(left, [pair[0] for pair in pairs], options)
    right_results = digest_side(right, [pair[1] for pair in pairs], options)
    verdicts: dict[RelPath, bool | str] = {}
    for left_entry, right_entry in pairs:
        left_digest = left_results.digests.get(left_entry.path)
        right_digest = right_results.digests.get(right_entry.path)
        if left_digest is None:
            reason = left_results.failures.get(left_entry.path, "unreadable")
            verdicts[left_entry.path] = f"left side unreadable: {reason}"
        elif right_digest is None:
            reason = right_results.failures.get(right_entry.path, "unreadable")
            verdicts[left_entry.path] = f"right side unreadable: {reason}"
        else:
            verdicts[left_entry.path] = left_digest == right_digest
    return verdicts


def find_moves(left: Backend, right: Backend, diff: Diff, use_cache: bool, jobs: int) -> Diff:
    """Return diff with renamed files and folders as moves, hashing only same-size one-sided files.

    A remote tree's files are read only where no digest recorded when dirkit uploaded them still fits.
    """
    candidates = move_candidates(diff)
    if not candidates.left or not candidates.right:
        return diff
    trusting = replace(compare_digest_options(use_cache, jobs), trust_written=True)
    left_results = digest_side(left, candidates.left, trusting)
    right_results = digest_side(right, candidates.right, trusting)
    return detect_moves(diff, SideDigests(left_results.digests, right_results.digests))


def compare_digest_options(use_cache: bool, jobs: int) -> DigestOptions:
    """Return the digest options compare uses: BLAKE3, the cache as asked."""
    from dirkit.ops.checksums.digests import DigestOptions

    return DigestOptions(DigestAlgorithm.BLAKE3, use_cache=use_cache, jobs=jobs)
