"""Mirror one tree onto another: plan from fresh scans, guard, execute; and apply a saved plan."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from dirkit.backends.free_space import free_bytes_of
from dirkit.backends.local_files import local_files, paths_overlap
from dirkit.backends.protocol import Backend
from dirkit.core.run.free_space import space_violation
from dirkit.core.run.guards import GuardOptions, guard_violations
from dirkit.core.run.mirror_plan import MirrorPolicy, plan_mirror, unrenameable_moves
from dirkit.core.run.names import BACKUP_ROOT
from dirkit.core.run.plan import JsonValue, Plan
from dirkit.core.run.plan_json import plan_from_json_lines
from dirkit.core.run.stale import find_stale_actions
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.filters import RESERVED_DIR_NAME, make_filter
from dirkit.core.tree.paths import ROOT, RelPath, display_path, is_inside, rel_path
from dirkit.core.tree.snapshot import Snapshot
from dirkit.errors import (
    BackendError,
    RefusedError,
    StalePlanError,
    UsageError,
)
from dirkit.ops.compare.trees import CompareOptions, compare_snapshots, policy_for
from dirkit.ops.run.backups import DEFAULT_KEEP, BackupFolder, prune_backups
from dirkit.ops.run.clock import utc_now
from dirkit.ops.run.execute import ExecuteOptions, RunResult, execute_plan, first_non_directory
from dirkit.ops.run.recovery import claim_tree
from dirkit.ops.tree.forked_scan import scan_two_trees
from dirkit.ops.tree.scan import ScanOptions, scan_tree
from dirkit.state.journal import Journal

STALE_REASONS_SHOWN = 5
log = logging.getLogger("dirkit")


@dataclass(frozen=True, slots=True)
class MirrorOptions:
    """How to mirror: filters, sameness, deletions, guards, backups and parallelism."""

    exclude: tuple[str, ...] = ()
    gitignore: bool = False
    follow_symlinks: bool = False
    content: bool = False
    modify_window_ns: int = 0
    delete: bool = True
    guards: GuardOptions = field(default_factory=GuardOptions)
    jobs: int = 8
    backup_dir: RelPath = BACKUP_ROOT
    keep_backups: int = DEFAULT_KEEP
    detect_moves: bool = True
    """Carry out renames found by content (same size and digest) as renames on the target."""

    def to_json(self) -> dict[str, JsonValue]:
        """Return what a saved plan must remember to be re-checked (filters and sameness)."""
        return {
            "exclude": list(self.exclude),
            "gitignore": self.gitignore,
            "follow_symlinks": self.follow_symlinks,
            "content": self.content,
            "modify_window_ns": self.modify_window_ns,
            "delete": self.delete,
            "backup_dir": self.backup_dir,
            "detect_moves": self.detect_moves,
        }

    @classmethod
    def from_json(cls, data: dict[str, JsonValue]) -> MirrorOptions:
        """Return the options a saved plan was made with."""
        exclude = data.get("exclude") or []
        window = data.get("modify_window_ns", 0)
        return cls(
            exclude=tuple(str(pattern) for pattern in exclude) if isinstance(exclude, list) else (),
            gitignore=bool(data.get("gitignore", False)),
            follow_symlinks=bool(data.get("follow_symlinks", False)),
            content=bool(data.get("content", False)),
            modify_window_ns=window if isinstance(window, int) else 0,
            delete=bool(data.get("delete", True)),
            backup_dir=rel_path(str(data.get("backup_dir", BACKUP_ROOT))),
            detect_moves=bool(data.get("detect_moves", True)),
        )


@dataclass(frozen=True, slots=True)
class MirrorPlanning:
    """A mirror plan with what the guards say of it, and the snapshots it came from."""

    plan: Plan
    violations: tuple[str, ...]
    source: Snapshot
    target: Snapshot


def backup_dir_from_user(text: str, target_root: str | None) -> RelPath:
    """Return a --backup-dir as a path inside the target tree (it must lie on the target's filesystem)."""
    if os.path.isabs(text):
        if target_root is None:
            raise UsageError(f"{text}: an absolute --backup-dir needs a local target")
        relative = os.path.relpath(os.path.abspath(text), target_root)
        if relative.startswith(".."):
            raise UsageError(
                f"{text}: --backup-dir must lie inside the target tree, so that backups are renames "
                f"on the same filesystem"
            )
        text = relative
    chosen = rel_path(text)
    if not chosen:
        raise UsageError("--backup-dir cannot be the target tree itself")
    return chosen


def check_backup_dir(target: Backend, backup_dir: RelPath) -> None:
    """Raise UsageError if a backup folder cannot be one: a file, a symlink or another kind on its way."""
    _, blocking = first_non_directory(target, backup_dir)
    if blocking is not None:
        built, entry = blocking
        what = "a symlink" if entry.kind is EntryKind.SYMLINK else f"a {entry.kind.value}, not a folder"
        local = local_files(target)
        shown = local.os_path(built) if local is not None else built
        raise UsageError(f"{display_path(shown)}: cannot keep backups there: it is {what}")


def check_mirror_options(target: Backend, options: MirrorOptions) -> None:
    """Raise UsageError for options that cannot work on target, before anything starts."""
    if options.keep_backups < 1:
        raise UsageError(
            "--keep-backups must be at least 1 (undo restores from the backups of the last run; "
            "'dirkit backups --prune --keep 0 DST' deletes them all)"
        )
    if options.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    check_backup_dir(target, options.backup_dir)


def scan_options_for(options: MirrorOptions, backup_excluded: bool) -> ScanOptions:
    """Return the scan options of a mirror (the target's also leave out a custom backup folder)."""
    patterns = list(options.exclude)
    if backup_excluded and not is_inside(options.backup_dir, RelPath(RESERVED_DIR_NAME)):
        patterns.append(f"/{options.backup_dir}/")
    return ScanOptions(make_filter(patterns, options.gitignore), options.follow_symlinks)


def scan_pair(source: Backend, target: Backend, options: MirrorOptions) -> tuple[Snapshot, Snapshot]:
    """Scan the source and target trees at once (the target without dirkit's own folders)."""
    source_options = scan_options_for(options, backup_excluded=False)
    target_options = scan_options_for(options, backup_excluded=True)
    return scan_two_trees(source, target, source_options, target_options)


def check_links_between_trees(
    source: Backend, target: Backend, source_snapshot: Snapshot, target_snapshot: Snapshot
) -> None:
    """Raise UsageError if a symlink followed in one tree reaches the root of the other."""
    source_local, target_local = local_files(source), local_files(target)
    if source_local is None or target_local is None:
        return
    source_root, target_root = source_local.os_path(ROOT), target_local.os_path(ROOT)
    for snapshot, other_local, other_root, other_name in (
        (source_snapshot, target_local, target_root, "target"),
        (target_snapshot, source_local, source_root, "source"),
    ):
        try:
            other = other_local.stat_os_path(other_root)
        except BackendError:
            continue
        for entry in snapshot:
            if entry.kind is EntryKind.DIR and (entry.dev, entry.ino) == (other.dev, other.ino):
                raise UsageError(
                    f"{display_path(entry.path)}: a symlink followed here reaches the {other_name} tree "
                    f"{display_path(other_root)}; the source and target trees must be separate "
                    f"(exclude it, or mirror without --follow-symlinks)"
                )


def check_separate_trees(source: Backend, target: Backend) -> None:
    """Raise UsageError if the two trees are one, or one lies inside the other."""
    source_local, target_local = local_files(source), local_files(target)
    if source_local is None or target_local is None:
        return
    source_root, target_root = source_local.os_path(ROOT), target_local.os_path(ROOT)
    if paths_overlap(source_local.real_root(), target_local.real_root()):
        raise UsageError(
            f"{display_path(target_root)}: the source and target trees must be separate "
            f"(one is {display_path(source_root)} or lies inside it, or the other way round)"
        )


def plan_mirror_trees(
    source: Backend, target: Backend, options: MirrorOptions | None = None
) -> MirrorPlanning:
    """Scan both trees and return the plan that makes target a copy of source, with guard verdicts."""
    chosen = options or MirrorOptions()
    check_separate_trees(source, target)
    source_snapshot, target_snapshot = scan_pair(source, target, chosen)
    if chosen.follow_symlinks:
        check_links_between_trees(source, target, source_snapshot, target_snapshot)
    compare_options = CompareOptions(
        content=chosen.content,
        modify_window_ns=chosen.modify_window_ns,
        jobs=chosen.jobs,
        detect_moves=chosen.detect_moves,
    )
    diff = compare_snapshots(source, target, source_snapshot, target_snapshot, compare_options)
    if chosen.detect_moves and unrenameable_moves(diff):
        compare_options = replace(compare_options, detect_moves=False)
        diff = compare_snapshots(source, target, source_snapshot, target_snapshot, compare_options)
    policy = MirrorPolicy(
        delete=chosen.delete,
        sameness=policy_for(source_snapshot, target_snapshot, compare_options),
        set_dir_times=target.capabilities.can_set_mtime,
        set_modes=target.capabilities.can_set_mode,
        symlinks=target.capabilities.symlinks,
        case_sensitive=target.capabilities.case_sensitive,
    )
    plan = plan_mirror(
        diff,
        policy,
        source=source.description,
        target=target.description,
        options=chosen.to_json(),
        created=utc_now(),
    )
    target_files = sum(1 for entry in target_snapshot if entry.kind is EntryKind.FILE)
    violations = guard_violations(
        plan, len(source_snapshot), len(target_snapshot), target_files, chosen.guards
    )
    violations.extend(_no_room(plan, target, chosen.guards))
    return MirrorPlanning(plan, tuple(violations), source_snapshot, target_snapshot)


def refuse_if_guarded(planning: MirrorPlanning) -> None:
    """Raise RefusedError naming the target and what would have happened, if a guard objects."""
    if planning.violations:
        target = display_path(planning.plan.target)
        raise RefusedError(f"{target}: refusing to mirror: " + "; ".join(planning.violations))


def mirror_trees(
    source: Backend,
    target: Backend,
    journal: Journal,
    options: MirrorOptions | None = None,
    execute: ExecuteOptions | None = None,
    on_planned: Callable[[Plan], None] | None = None,
) -> RunResult:
    """Make target an exact copy of source: claim it, plan, guard, execute, prune backups.

    The tree's one-run lock is taken before scanning and held to the end (RefusedError if taken).
    """
    chosen = options or MirrorOptions()
    check_mirror_options(target, chosen)
    check_separate_trees(source, target)
    with claim_tree(journal, target, "mirror") as claim:
        planning = plan_mirror_trees(source, target, chosen)
        refuse_if_guarded(planning)
        if on_planned is not None:
            on_planned(planning.plan)
        claimed = replace(execute or ExecuteOptions(), run_id=claim.run_id)
        return run_plan(planning.plan, source, target, journal, chosen, claimed)


def run_plan(
    plan: Plan,
    source: Backend | None,
    target: Backend,
    journal: Journal,
    options: MirrorOptions,
    execute: ExecuteOptions | None,
) -> RunResult:
    """Execute a plan with the mirror's backup folder and jobs, then apply the backup retention.

    An empty plan is not journaled as a run (so 'undo' still reverts the last run that did something).
    """
    if plan.is_empty:
        return RunResult("", plan.operation, target.description, options.backup_dir, plan)
    chosen = replace(execute or ExecuteOptions(), jobs=options.jobs, backup_root=options.backup_dir)
    result = execute_plan(plan, target, journal, source, chosen)
    if result.ok and options.backup_dir == BACKUP_ROOT:
        prune_backups(target, journal, max(1, options.keep_backups), on_failure=log_prune_failure)
    return result


def log_prune_failure(folder: BackupFolder, error: BackendError) -> None:
    """Log that an old backup folder could not be pruned (the run itself succeeded)."""
    log.warning("cannot prune the backups of run %s (%s): %s", folder.run_id, folder.path, error)


def read_plan_file(path: str) -> Plan:
    """Return the plan saved in a file, or raise UsageError if it cannot be read or is not a plan."""
    try:
        with open(path, encoding="utf-8") as stream:
            return plan_from_json_lines(stream)
    except OSError as error:
        raise UsageError(f"{path}: cannot read plan: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise UsageError(f"{path}: not a dirkit plan (not UTF-8 text)") from error


def stale_reasons(plan: Plan, source: Backend | None, target: Backend) -> list[str]:
    """Rescan the trees a saved plan was made from and return why it no longer fits (empty: it fits)."""
    options = MirrorOptions.from_json(dict(plan.options))
    target_snapshot = scan_tree(target, scan_options_for(options, backup_excluded=True))
    source_entries = {}
    if source is not None:
        source_entries = scan_tree(source, scan_options_for(options, backup_excluded=False)).by_path()
    return find_stale_actions(plan, source_entries, target_snapshot.by_path(), target_snapshot.entries)


def apply_saved_plan(
    plan: Plan,
    source: Backend | None,
    target: Backend,
    journal: Journal,
    guards: GuardOptions | None = None,
    jobs: int = 8,
    keep_backups: int = DEFAULT_KEEP,
    execute: ExecuteOptions | None = None,
) -> RunResult:
    """Apply exactly a saved plan, refusing (changing nothing) if the trees changed where it acts."""
    if keep_backups < 1:
        raise UsageError("--keep-backups must be at least 1")
    with claim_tree(journal, target, "apply") as claim:
        claimed = replace(execute or ExecuteOptions(), run_id=claim.run_id)
        return _apply_claimed(plan, source, target, journal, guards, jobs, keep_backups, claimed)


def _apply_claimed(
    plan: Plan,
    source: Backend | None,
    target: Backend,
    journal: Journal,
    guards: GuardOptions | None,
    jobs: int,
    keep_backups: int,
    execute: ExecuteOptions,
) -> RunResult:
    reasons = stale_reasons(plan, source, target)
    if reasons:
        shown = "; ".join(reasons[:STALE_REASONS_SHOWN])
        more = len(reasons) - STALE_REASONS_SHOWN
        extra = f"; and {more} more" if more > 0 else ""
        raise StalePlanError(
            f"{display_path(plan.target)}: refusing to apply a stale plan (nothing was changed; "
            f"make a new plan): {shown}{extra}"
        )
    chosen_guards = guards or GuardOptions()
    for violation in _no_room(plan, target, chosen_guards):
        raise RefusedError(f"{display_path(plan.target)}: refusing to apply: {violation}")
    if not chosen_guards.force and plan.totals.deleted_files:
        target_snapshot = scan_tree(target, ScanOptions())
        files = sum(1 for entry in target_snapshot if entry.kind is EntryKind.FILE)
        violations = guard_violations(plan, 1, len(target_snapshot), files, chosen_guards)
        if violations:
            raise RefusedError(f"{display_path(plan.target)}: refusing to apply: " + "; ".join(violations))
    options = replace(MirrorOptions.from_json(dict(plan.options)), jobs=jobs, keep_backups=keep_backups)
    return run_plan(plan, source, target, journal, options, execute)


def _no_room(plan: Plan, target: Backend, guards: GuardOptions) -> list[str]:
    """Return why the plan's copies do not fit in the target's free space, when its backend says."""
    if guards.force or plan.totals.files == 0:
        return []
    violation = space_violation(plan, free_bytes_of(target), guards.force)
    return [] if violation is None else [violation]
