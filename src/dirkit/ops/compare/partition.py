"""Compare two local trees split by subtree across worker processes, for large trees.

Scanning is mostly Python work that holds the GIL, so threads cannot overlap two scans; a second
process can. The parent lists the top of both trees, cuts the paths into contiguous units in
component order, works on units itself from the end, and starts one helper process (which works
from the front) only when the work takes long enough to pay for it. Each unit's Diff comes back
with 'same' changes dropped unless asked for, so little data crosses processes; concatenating
the units keeps the order.
"""

from __future__ import annotations

import os
import pickle
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from dirkit.backends.local_files import local_files
from dirkit.backends.protocol import Backend
from dirkit.core.compare.diff import (
    Change,
    Diff,
    Pairing,
    Status,
    build_diff,
    content_candidates,
    mark_name_twins,
    pair_snapshots,
)
from dirkit.core.compare.match import match_entries
from dirkit.core.compare.sameness import Verdict
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import ROOT, base_name, sort_key
from dirkit.errors import BackendError
from dirkit.ops.compare.compare_worker import CompareWorker, start_compare_worker
from dirkit.ops.compare.digest_compare import (
    compare_contents_by_digest,
    compare_digest_options,
    find_moves,
)
from dirkit.ops.compare.pairing import CompareOptions, compare_snapshots, policy_for
from dirkit.ops.tree.gcpause import paused_gc
from dirkit.ops.tree.scan import collect_entries, snapshot_of

PARALLEL_AFTER_SECONDS = 0.02
"""Fork the helper process only when the parent has worked this long and work remains (a fork costs
a few milliseconds; tiny trees are done before it would pay)."""
TARGET_UNITS = 48
MAX_EXPAND_DEPTH = 3

Unit = tuple[Entry | None, Entry | None]
"""A path present on either side; a deep unit also covers everything below it."""


@dataclass(frozen=True, slots=True)
class UnitWork:
    """A contiguous run of units, each compared with (deep) or without (shallow) its subtree."""

    units: tuple[tuple[Unit, bool], ...]


def can_partition(left: Backend, right: Backend, options: CompareOptions) -> bool:
    """Tell whether this comparison may be split across processes (both trees offer local fast paths)."""
    scan = options.scan
    return (
        local_files(left) is not None
        and local_files(right) is not None
        and options.jobs > 1
        and (os.cpu_count() or 1) > 1
        and not scan.follow_symlinks
        and not scan.tree_filter.use_gitignore
        and not options.normalize_unicode
    )


def _kept(listing: list[Entry], options: CompareOptions) -> list[Entry]:
    tree_filter = options.scan.tree_filter
    kept = [
        entry
        for entry in listing
        if not tree_filter.excludes(entry.path, base_name(entry.path), entry.is_dir)
    ]
    kept.sort()
    return kept


def _list_pair(left: Backend, right: Backend, unit: Unit, options: CompareOptions) -> list[Unit] | None:
    """Return the paired children of a unit that is a readable dir on both sides, else None."""
    a, b = unit
    if a is None or b is None or not (a.is_dir and b.is_dir) or a.error or b.error:
        return None
    try:
        left_children = _kept(left.list_dir(a.path), options)
        right_children = _kept(right.list_dir(b.path), options)
    except BackendError:
        return None
    return list(match_entries(left_children, right_children))


def plan_units(left: Backend, right: Backend, options: CompareOptions) -> list[tuple[Unit, bool]]:
    """Return the units of work in component order: (unit, deep) pairs."""
    top = _list_pair(left, right, (left.stat(ROOT), right.stat(ROOT)), options) or []
    units: list[tuple[Unit, bool]] = [(unit, True) for unit in top]
    for _ in range(MAX_EXPAND_DEPTH):
        if len(units) >= TARGET_UNITS:
            break
        expanded: list[tuple[Unit, bool]] = []
        for unit, deep in units:
            children = _list_pair(left, right, unit, options) if deep else None
            if children is None:
                expanded.append((unit, deep))
                continue
            expanded.append((unit, False))
            expanded.extend((child, True) for child in children)
        if len(expanded) == len(units):
            break
        units = expanded
    return units


def _side_entries(backend: Backend, entry: Entry | None, deep: bool, options: CompareOptions) -> list[Entry]:
    if entry is None:
        return []
    if not deep or not entry.is_dir or entry.error is not None:
        return [entry]
    try:
        return [entry, *collect_entries(backend, entry.path, options.scan)]
    except BackendError as error:
        return [entry._replace(error=f"cannot list directory: {error.strerror or error}")]


class ChunkResult(NamedTuple):
    """What one chunk found: its changes (no 'same' unless kept), the 'same' count, and the pairs
    whose bytes the parent settles in one digest-cache pass."""

    changes: list[Change]
    same: int
    deferred: list[tuple[Entry, Entry]]


def defers_content(options: CompareOptions) -> bool:
    """Tell whether content questions go to the parent (one cache load per tree, not per chunk)."""
    return options.content and options.digest_cache


def compare_work(left: Backend, right: Backend, work: UnitWork, options: CompareOptions) -> ChunkResult:
    """Compare a run of units; content pairs are left to the parent when it uses the digest cache."""
    left_entries: list[Entry] = []
    right_entries: list[Entry] = []
    for (a, b), deep in work.units:
        left_entries.extend(_side_entries(left, a, deep, options))
        right_entries.extend(_side_entries(right, b, deep, options))
    left_snapshot = snapshot_of(left_entries, left)
    right_snapshot = snapshot_of(right_entries, right)
    deferred: list[tuple[Entry, Entry]] = []
    if defers_content(options):
        policy = policy_for(left_snapshot, right_snapshot, options)
        pairings = pair_snapshots(left_snapshot, right_snapshot, policy, options.normalize_unicode)
        deferred = content_candidates(pairings)
        diff = build_diff((p for p in pairings if p.verdict is not Verdict.NEEDS_CONTENT), policy=policy)
    else:
        chunk_options = replace(options, detect_moves=False)  # moves cross chunks: found after
        diff = compare_snapshots(left, right, left_snapshot, right_snapshot, chunk_options)
    if options.keep_same:
        return ChunkResult(list(diff.changes), 0, deferred)
    kept = [change for change in diff.changes if change.status is not Status.SAME]
    return ChunkResult(kept, len(diff.changes) - len(kept), deferred)


def settle_deferred(
    left: Backend, right: Backend, deferred: list[tuple[Entry, Entry]], options: CompareOptions
) -> ChunkResult:
    """Decide the deferred content pairs through the digest engine, with one cache load per tree."""
    digest_options = compare_digest_options(options.digest_cache, options.jobs)
    results = compare_contents_by_digest(left, right, deferred, digest_options)
    diff = build_diff((Pairing(a, b, Verdict.NEEDS_CONTENT) for a, b in deferred), results)
    if options.keep_same:
        return ChunkResult(list(diff.changes), 0, [])
    kept = [change for change in diff.changes if change.status is not Status.SAME]
    return ChunkResult(kept, len(diff.changes) - len(kept), [])


def _change_key(change: Change) -> str:
    return sort_key(change.path)


def _chunks(units: Sequence[tuple[Unit, bool]], count: int) -> list[UnitWork]:
    size = max(1, -(-len(units) // count))
    return [UnitWork(tuple(units[i : i + size])) for i in range(0, len(units), size)]


class ChunkClaims:
    """Hands out chunk indices from both ends under a lock: the parent takes from the top."""

    def __init__(self, count: int) -> None:
        self.low, self.high = 0, count - 1
        self._lock = threading.Lock()

    def take_high(self) -> int | None:
        """Claim the highest unclaimed index, or None when all are claimed."""
        with self._lock:
            if self.low > self.high:
                return None
            self.high -= 1
            return self.high + 1

    def take_low(self) -> int | None:
        """Claim the lowest unclaimed index, or None when all are claimed."""
        with self._lock:
            if self.low > self.high:
                return None
            self.low += 1
            return self.low - 1

    def remaining(self) -> int:
        """Return how many indices are unclaimed."""
        with self._lock:
            return self.high - self.low + 1


def _serve_worker(
    worker: CompareWorker,
    claims: ChunkClaims,
    results: list[ChunkResult | None],
) -> None:
    """Hand chunk indices to the helper process and store its results; stop quietly if it fails."""
    try:
        while (index := claims.take_low()) is not None:
            result = worker.compare(index)
            if not isinstance(result, ChunkResult):
                return
            results[index] = result
        worker.finish()
    except (OSError, ValueError, EOFError, pickle.UnpicklingError):  # ValueError: pipe closed by a stop
        return


def compare_partitioned(
    left: Backend,
    right: Backend,
    options: CompareOptions,
    parallel_after_seconds: float = PARALLEL_AFTER_SECONDS,
) -> Diff:
    """Return the diff of two local trees, with a helper process when the trees are large.

    The helper (a forked child, compare_worker.py) takes chunks from the front while this process
    takes them from the back; if it fails for any reason, this process does its share.
    """
    with paused_gc():
        units = plan_units(left, right, options)
        chunks = _chunks(units, TARGET_UNITS)
        results: list[ChunkResult | None] = [None] * len(chunks)
        claims = ChunkClaims(len(chunks))
        started = time.monotonic()
        worker: CompareWorker | None = None
        server: threading.Thread | None = None
        tried_worker = False
        try:
            while (index := claims.take_high()) is not None:
                results[index] = compare_work(left, right, chunks[index], options)
                if (
                    not tried_worker
                    and claims.remaining() >= 2
                    and time.monotonic() - started >= parallel_after_seconds
                ):
                    tried_worker = True
                    worker = start_compare_worker(
                        lambda number: compare_work(left, right, chunks[number], options)
                    )
                    if worker is not None:
                        server = threading.Thread(
                            target=_serve_worker,
                            args=(worker, claims, results),
                            name="dirkit-compare-worker",
                            daemon=True,
                        )
                        server.start()
            if server is not None:
                server.join()
        finally:
            if worker is not None:
                worker.stop(kill=server is not None and server.is_alive())
        changes: list[Change] = []
        same = 0
        deferred: list[tuple[Entry, Entry]] = []
        for index, result in enumerate(results):
            found = result if result is not None else compare_work(left, right, chunks[index], options)
            changes.extend(found.changes)
            same += found.same
            deferred.extend(found.deferred)
        if deferred:
            settled = settle_deferred(left, right, deferred, options)
            changes.extend(settled.changes)
            same += settled.same
            changes.sort(key=_change_key)
        diff = Diff(tuple(mark_name_twins(changes)), omitted_same=same)
        if options.detect_moves:
            diff = find_moves(left, right, diff, options.digest_cache, options.jobs)
        return diff
