"""`dirkit undo DST`: revert the last run on DST (or --run ID) from its journal and backups."""

from __future__ import annotations

import argparse

from dirkit.backends.protocol import Backend
from dirkit.backends.trees import open_tree
from dirkit.cli.common import add_output_options, jobs_from_args
from dirkit.cli.remote_options import add_remote_options, remote_options_from_args
from dirkit.cli.runs import add_run_options, executing, journaled, print_plan, report_run
from dirkit.errors import EXIT_OK
from dirkit.ops.run.undo import plan_undo_run, undo_run
from dirkit.ops.sync.undo import sync_runs_of, undo_sync
from dirkit.state.journal import Journal

DESCRIPTION = """\
Revert a run on DST: the last one, or the one named by --run (see 'dirkit backups DST').
Files and directories the run replaced or deleted come back from its backup folder, with
their bytes, modification times and permission bits; files and links the run created are
moved aside into the undo's own backup folder; directories it created are removed when
empty; directory modes and mtimes it changed are set back.

A sync run is undone on both of its trees, and the sync base is put back as it was before.

Undo never removes or overwrites a path that changed after the run: such paths are reported
as conflicts and left alone. An interrupted run (crash, kill -9, Ctrl-C) can be undone too.
An undo that stopped (interrupted, disk full, failed steps) is finished by the next
'dirkit undo DST', never reverted. Undo is itself a journaled run, so 'dirkit undo DST'
right after an undo that finished redoes the run.
"""

EPILOG = """\
exit status:
  0   the run was reverted
  1   reverted, except for conflicts or failed items, which are listed
  2   error: no such run, its backups were pruned, or DST is missing
  130 interrupted (SIGINT or SIGTERM) after finishing and journaling the current steps

examples:
  dirkit undo --dry-run /mnt/backup/photos
  dirkit undo /mnt/backup/photos
  dirkit undo --run 20260101T120000.000000Z-1a2b /mnt/backup/photos
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the undo command."""
    parser = commands.add_parser(
        "undo",
        help="revert the last run on a tree (or --run ID)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("target", metavar="DST", help="the tree a run changed")
    parser.add_argument(
        "--run", dest="run_id", metavar="ID", help="the run to revert (default: the last run on DST)"
    )
    add_run_options(parser)
    add_output_options(parser)
    add_remote_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Plan the undo, then print it or execute it; return the exit code."""
    jobs = jobs_from_args(args)
    target = open_tree(args.target, remote=remote_options_from_args(args))
    try:
        with journaled() as journal:
            if args.dry_run:
                print_plan(plan_undo_run(journal, target, args.run_id), args)
                return EXIT_OK
            if sync_runs_of(journal, target, args.run_id) is not None:
                return undo_both_sides(args, journal, target, jobs)
            with executing(args, jobs=jobs, fsync=args.fsync) as execute:
                result = undo_run(journal, target, args.run_id, execute)
            return report_run(result, args)
    finally:
        target.close()


def undo_both_sides(args: argparse.Namespace, journal: Journal, target: Backend, jobs: int) -> int:
    """Revert a sync on both of its trees and put its base back; return the worst exit code."""
    remote = remote_options_from_args(args)
    with executing(args, jobs=jobs, fsync=args.fsync) as execute:
        results = undo_sync(
            journal, target, args.run_id, lambda where: open_tree(where, remote=remote), execute
        )
    return max(report_run(result, args) for result in results)
