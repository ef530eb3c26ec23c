"""Undoing a sync: revert its run on each side, then put back the base rows it replaced."""

from __future__ import annotations

from collections.abc import Callable

from dirkit.backends.protocol import Backend
from dirkit.core.tree.paths import display_path
from dirkit.errors import UsageError
from dirkit.ops.run.execute import ExecuteOptions, RunResult
from dirkit.ops.run.recovery import identify_tree, identity_of_location
from dirkit.ops.run.undo import choose_run, undo_run
from dirkit.state.journal import Journal
from dirkit.state.sync_base import restore_saved_base, runs_of_sync

TreeOpener = Callable[[str], Backend]
"""Opens the other side of a sync from the location its run recorded (a path or URL)."""


def sync_runs_of(journal: Journal, target: Backend, run_id: str | None) -> list[str] | None:
    """Return every run of the sync that made the run to undo on target (None: not a sync's run)."""
    run = choose_run(journal, target, run_id)
    if run.operation != "sync":
        return None
    found = runs_of_sync(journal.connection, run.run_id)
    return None if found is None else found[1]


def undo_sync(
    journal: Journal,
    target: Backend,
    run_id: str | None,
    open_other: TreeOpener,
    execute: ExecuteOptions | None = None,
) -> list[RunResult]:
    """Revert a sync on both sides (its run on target, and the other side's), then restore its base.

    Each side's undo is a journaled run that never overwrites a path changed after the sync (such
    paths are conflicts, left alone). The base rows the sync replaced come back, so the next sync
    sees both sides as they were before it: nothing is lost, no delete is brought back.
    """
    run = choose_run(journal, target, run_id)
    found = runs_of_sync(journal.connection, run.run_id)
    if run.operation != "sync" or found is None:
        raise UsageError(f"{display_path(target.description)}: run {run.run_id} is not a sync")
    sync_id, run_ids = found
    own = identify_tree(target).key
    results = []
    try:
        for each in run_ids:
            record = journal.run(each)
            if record is None:
                continue
            identity = identity_of_location(record.target)
            if identity is not None and identity.key == own:
                results.append(undo_run(journal, target, each, execute))
                continue
            other = open_other(record.target)
            try:
                results.append(undo_run(journal, other, each, execute))
            finally:
                other.close()
    finally:
        # also when one side could not be undone (unplugged, locked): a base left as the sync made it
        # would take the side already reverted for deletions and edits to carry over to the other
        restore_saved_base(journal.connection, sync_id)
    return results
