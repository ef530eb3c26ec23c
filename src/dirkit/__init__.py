"""dirkit: compare, mirror, sync, search, verify, split and pack whole directory trees.

Library entry points (imported lazily, so `import dirkit` stays cheap): plan_mirror, mirror,
apply and undo. They never print; they return values (a Plan, or a RunResult whose failures
list every item that failed or was left alone) and raise dirkit.errors kinds for errors.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dirkit.backends.protocol import Backend
    from dirkit.core.run.plan import Plan
    from dirkit.ops.run.execute import RunResult
    from dirkit.ops.run.mirror import MirrorOptions

__version__ = "0.1.0"


def _open(tree: str | os.PathLike[str] | Backend, create: bool = False) -> Backend:
    from dirkit.backends.protocol import Backend as BackendProtocol
    from dirkit.backends.trees import open_mirror_target, open_tree

    if isinstance(tree, BackendProtocol):
        return tree
    location = os.fspath(tree)
    return open_mirror_target(location, create) if create else open_tree(location)


def _mirror_options(
    delete: bool,
    content: bool,
    exclude: tuple[str, ...] | list[str],
    gitignore: bool,
    follow_symlinks: bool,
    modify_window: float,
    max_delete: str,
    force: bool,
    jobs: int,
    keep_backups: int,
) -> MirrorOptions:
    from dirkit.core.run.guards import GuardOptions, parse_delete_limit
    from dirkit.ops.run.mirror import MirrorOptions

    return MirrorOptions(
        exclude=tuple(exclude),
        gitignore=gitignore,
        follow_symlinks=follow_symlinks,
        content=content,
        modify_window_ns=round(modify_window * 1_000_000_000),
        delete=delete,
        guards=GuardOptions(parse_delete_limit(max_delete), force),
        jobs=jobs,
        keep_backups=keep_backups,
    )


def plan_mirror(
    source: str | os.PathLike[str] | Backend,
    target: str | os.PathLike[str] | Backend,
    *,
    delete: bool = True,
    content: bool = False,
    exclude: tuple[str, ...] | list[str] = (),
    gitignore: bool = False,
    follow_symlinks: bool = False,
    modify_window: float = 0.0,
) -> Plan:
    """Return the plan that would make target an exact copy of source (nothing is changed)."""
    from dirkit.ops.run.mirror import plan_mirror_trees

    options = _mirror_options(
        delete, content, exclude, gitignore, follow_symlinks, modify_window, "100%", True, 8, 20
    )
    return plan_mirror_trees(_open(source), _open(target), options).plan


def mirror(
    source: str | os.PathLike[str] | Backend,
    target: str | os.PathLike[str] | Backend,
    *,
    delete: bool = True,
    content: bool = False,
    exclude: tuple[str, ...] | list[str] = (),
    gitignore: bool = False,
    follow_symlinks: bool = False,
    modify_window: float = 0.0,
    max_delete: str = "50%",
    force: bool = False,
    jobs: int = 8,
    keep_backups: int = 20,
) -> RunResult:
    """Make target an exact copy of source, with backups and a journal; return the run's result."""
    from dirkit.ops.run.mirror import mirror_trees
    from dirkit.state.journal import Journal

    options = _mirror_options(
        delete,
        content,
        exclude,
        gitignore,
        follow_symlinks,
        modify_window,
        max_delete,
        force,
        jobs,
        keep_backups,
    )
    journal = Journal.open()
    try:
        return mirror_trees(_open(source), _open(target, create=True), journal, options)
    finally:
        journal.close()


def apply(plan: Plan | str | os.PathLike[str], *, force: bool = False, jobs: int = 8) -> RunResult:
    """Apply exactly a saved mirror plan (a Plan or its file); raise StalePlanError if it no longer fits."""
    from dirkit.core.run.guards import GuardOptions
    from dirkit.core.run.plan import Plan as PlanValue
    from dirkit.ops.run.mirror import apply_saved_plan, read_plan_file
    from dirkit.state.journal import Journal

    chosen = plan if isinstance(plan, PlanValue) else read_plan_file(os.fspath(plan))
    source = _open(chosen.source) if chosen.source is not None else None
    journal = Journal.open()
    try:
        guards = GuardOptions(force=force)
        return apply_saved_plan(chosen, source, _open(chosen.target), journal, guards, jobs)
    finally:
        journal.close()


def undo(target: str | os.PathLike[str] | Backend, *, run_id: str | None = None, jobs: int = 8) -> RunResult:
    """Revert the last run on target (or run_id); conflicts are left alone and listed in the result."""
    from dirkit.ops.run.execute import ExecuteOptions
    from dirkit.ops.run.undo import undo_run
    from dirkit.state.journal import Journal

    journal = Journal.open()
    try:
        return undo_run(journal, _open(target), run_id, ExecuteOptions(jobs=jobs))
    finally:
        journal.close()
