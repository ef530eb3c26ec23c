"""Planning a sync: scan both sides, stream the base, digest the few suspect files, reconcile, guard."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dirkit.backends.local_files import local_files
from dirkit.backends.protocol import Backend
from dirkit.core.checksums.digest import DigestAlgorithm
from dirkit.core.compare.sameness import SamenessPolicy
from dirkit.core.run.guards import GuardOptions
from dirkit.core.run.plan import JsonValue, Plan, make_plan
from dirkit.core.sync.base import Side
from dirkit.core.sync.guards import sync_guard_violations
from dirkit.core.sync.merge import DigestKey, SyncRow, digest_requests, merge_changed
from dirkit.core.sync.moves import find_moves, move_digest_requests
from dirkit.core.sync.plan import BaseChange, Prefer, SyncPlan, SyncPolicy
from dirkit.core.sync.reconcile import reconcile
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.filters import make_filter
from dirkit.core.tree.snapshot import Snapshot
from dirkit.errors import UsageError
from dirkit.ops.checksums.digests import DigestEngine, DigestOptions
from dirkit.ops.compare.trees import CompareOptions, policy_for
from dirkit.ops.run.backups import DEFAULT_KEEP
from dirkit.ops.run.clock import utc_now
from dirkit.ops.run.mirror import check_separate_trees
from dirkit.ops.run.recovery import identify_tree
from dirkit.ops.tree.forked_scan import scan_two_trees
from dirkit.ops.tree.gcpause import paused_gc
from dirkit.ops.tree.scan import ScanOptions
from dirkit.state.journal import Journal
from dirkit.state.sync_base import SyncBase

DIGEST_ALGORITHM = DigestAlgorithm.SHA256
"""How suspect files are digested (the base keeps these digests, prefixed with the name)."""
FORK_HASHING_FILES = 20_000
"""Below this many suspect local files a side hashes in this process: a child forked from a process
holding both listings would double its resident memory (100k paths: 130 -> 255 MB) to save tens of ms."""


@dataclass(frozen=True, slots=True)
class SyncOptions:
    """How to sync: filters, conflict policy, guards, backups and parallelism."""

    exclude: tuple[str, ...] = ()
    gitignore: bool = False
    prefer: Prefer = Prefer.NONE
    keep_both: bool = False
    modify_window_ns: int = 0
    guards: GuardOptions = field(default_factory=GuardOptions)
    jobs: int = 8
    keep_backups: int = DEFAULT_KEEP

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> SyncOptions:
        """Return the options a saved plan remembers (to_json's); the others keep their defaults."""
        exclude = data.get("exclude", [])
        prefer = data.get("prefer", Prefer.NONE.value)
        window = data.get("modify_window_ns", 0)
        try:
            chosen = Prefer(prefer)
        except ValueError as error:
            raise UsageError(f"bad sync plan options: prefer {prefer!r}") from error
        if not isinstance(exclude, list) or not all(isinstance(item, str) for item in exclude):
            raise UsageError("bad sync plan options: exclude must be a list of patterns")
        if not isinstance(window, int) or isinstance(window, bool) or window < 0:
            raise UsageError("bad sync plan options: modify_window_ns must be a whole number")
        patterns = tuple(str(item) for item in exclude)
        gitignore, keep_both = data.get("gitignore") is True, data.get("keep_both") is True
        return cls(
            exclude=patterns, gitignore=gitignore, prefer=chosen, keep_both=keep_both, modify_window_ns=window
        )

    def to_json(self) -> dict[str, JsonValue]:
        """Return what the plans remember of the options."""
        return {
            "exclude": list(self.exclude),
            "gitignore": self.gitignore,
            "prefer": self.prefer.value,
            "keep_both": self.keep_both,
            "modify_window_ns": self.modify_window_ns,
        }


@dataclass(frozen=True, slots=True)
class SyncPlanning:
    """A sync plan, the executor plans for each side, what the guards say, and the pair's base."""

    plan: SyncPlan
    a_plan: Plan
    b_plan: Plan
    violations: tuple[str, ...]
    base: SyncBase
    first_sync: bool
    digests_read: int
    """Files whose content was read to tell how they changed (0 when nothing is suspect)."""
    stamp: str = ""
    """The date and time that names kept conflict copies in this plan."""

    def plan_on(self, side: Side) -> Plan:
        """Return the executor plan of side."""
        return self.a_plan if side is Side.A else self.b_plan


def conflict_stamp(now: datetime.datetime) -> str:
    """Return the date and time that names kept conflict copies."""
    return now.strftime("%Y%m%d-%H%M%S")


def scan_sides(a: Backend, b: Backend, options: SyncOptions) -> tuple[Snapshot, Snapshot]:
    """Scan both sides at once, with the same filters."""
    scan = ScanOptions(make_filter(list(options.exclude), options.gitignore))
    return scan_two_trees(a, b, scan, scan)


def read_digests(
    a: Backend, b: Backend, requests: Iterable[DigestKey], rows: Iterable[SyncRow], jobs: int = 8
) -> dict[DigestKey, str]:
    """Return the digests asked for (a file that cannot be read gets none: it counts as changed).

    Each side's files are read by the digest engine at once (local small files with three system
    calls each, in this process below FORK_HASHING_FILES, else with a hashing child; remote ones over
    parallel connections), never from the digest cache: the sync judges the bytes there now.
    """
    wanted = set(requests)
    files: dict[Side, list[Entry]] = {Side.A: [], Side.B: []}
    for row in rows:
        for side, entry in ((Side.A, row.a), (Side.B, row.b)):
            if entry is not None and entry.kind is EntryKind.FILE and (side, row.path) in wanted:
                files[side].append(entry)
    found: dict[DigestKey, str] = {}
    for side, backend in ((Side.A, a), (Side.B, b)):
        if not files[side]:
            continue
        local = local_files(backend) is not None
        side_jobs = 1 if local and len(files[side]) < FORK_HASHING_FILES else jobs
        options = DigestOptions(algorithm=DIGEST_ALGORITHM, use_cache=False, jobs=side_jobs)
        results = DigestEngine(backend, options).digest_entries(files[side])
        for path, hex_digest in results.digests.items():
            found[(side, path)] = f"{DIGEST_ALGORITHM.value}:{hex_digest}"
    return found


def sync_policy(
    a: Backend,
    b: Backend,
    snapshots: tuple[Snapshot, Snapshot],
    options: SyncOptions,
    stamp: str | None = None,
) -> SyncPolicy:
    """Return the reconciliation policy: the user's choices and both sides' capabilities."""
    compare = CompareOptions(modify_window_ns=options.modify_window_ns)
    sameness: SamenessPolicy = policy_for(*snapshots, compare)
    return SyncPolicy(
        prefer=options.prefer,
        keep_both=options.keep_both,
        stamp=stamp or conflict_stamp(datetime.datetime.now(datetime.UTC)),
        sameness=sameness,
        a_sets_modes=a.capabilities.can_set_mode,
        b_sets_modes=b.capabilities.can_set_mode,
        a_sets_mtimes=a.capabilities.can_set_mtime,
        b_sets_mtimes=b.capabilities.can_set_mtime,
    )


def check_sync_options(options: SyncOptions) -> None:
    """Raise UsageError for options that cannot work."""
    if options.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if options.keep_backups < 1:
        raise UsageError("--keep-backups must be at least 1 (undo restores from the backups of the last run)")


def plan_sync(
    a: Backend,
    b: Backend,
    journal: Journal,
    options: SyncOptions | None = None,
    stamp: str | None = None,
) -> SyncPlanning:
    """Scan both sides and return the plan that brings them in step, with the guards' verdicts.

    One pass over the merged listings keeps only the rows where a side may differ from the base, so
    memory grows with the changes, not the trees. A no-change sync reads no file contents: only
    files whose size stayed but whose mtime moved (or that both sides changed to the same size) are
    digested. stamp names kept conflict copies (default: now; a saved plan's own when applied).
    """
    chosen = options or SyncOptions()
    check_sync_options(chosen)
    check_separate_trees(a, b)
    # Both listings and the base are hundreds of thousands of acyclic tuples: a collection would walk
    # them all (0.1-0.2 s at 100k paths). The snapshots are freed when planned_sync returns, before
    # the collector runs again.
    with paused_gc():
        return planned_sync(a, b, journal, chosen, stamp)


def planned_sync(
    a: Backend, b: Backend, journal: Journal, chosen: SyncOptions, stamp: str | None
) -> SyncPlanning:
    """Return plan_sync's planning (the work of plan_sync, its options checked)."""
    base = SyncBase(journal.connection, identify_tree(a).key, identify_tree(b).key)
    snapshots = scan_sides(a, b, chosen)
    snap_a, snap_b = snapshots
    policy = sync_policy(a, b, snapshots, chosen, stamp)
    rows = list(merge_changed(base.records(), snap_a, snap_b, policy))
    requests = dict.fromkeys((*digest_requests(rows, policy), *move_digest_requests(rows, policy)))
    digests = read_digests(a, b, requests, rows, chosen.jobs)
    plan = reconcile(rows, policy, digests, find_moves(rows, policy, digests))
    base_paths = base.count()
    entries = {Side.A: len(snap_a), Side.B: len(snap_b)}
    # the deletion guard weighs a side's deletes against its files: count them only where it deletes
    files = {
        side: sum(1 for entry in snapshot if entry.kind is EntryKind.FILE) if plan.deleted_on(side) else 0
        for side, snapshot in ((Side.A, snap_a), (Side.B, snap_b))
    }
    violations = sync_guard_violations(plan, entries, files, base_paths, chosen.guards)
    created = utc_now()
    side_plans = {
        side: make_plan(
            "sync",
            target.description,
            [step.action for step in plan.steps_on(side)],
            source=source.description,
            skipped=plan.skipped if side is Side.A else (),
            options={**chosen.to_json(), "side": side.value},
            deleted_files=plan.deleted_on(side),
            created=created,
        )
        for side, target, source in ((Side.A, a, b), (Side.B, b, a))
    }
    return SyncPlanning(
        plan,
        side_plans[Side.A],
        side_plans[Side.B],
        tuple(violations),
        base,
        base_paths == 0,
        len(digests),
        policy.stamp,
    )


def base_changes_by_step(plan: SyncPlan, side: Side) -> dict[int, tuple[BaseChange, ...]]:
    """Return the base changes each step of side brings, by the step's position in side's plan."""
    return {seq: step.base_changes for seq, step in enumerate(plan.steps_on(side)) if step.base_changes}
