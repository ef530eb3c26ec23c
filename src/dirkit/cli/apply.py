"""`dirkit apply FILE`: apply exactly a plan saved by `dirkit mirror --save-plan` (or sync's)."""

from __future__ import annotations

import argparse

from dirkit.backends.trees import open_tree
from dirkit.cli.apply_sync import is_sync_plan_file, run_sync_plan
from dirkit.cli.common import (
    add_guard_options,
    add_keep_backups_option,
    add_output_options,
    guards_from_args,
    jobs_from_args,
)
from dirkit.cli.remote_options import add_remote_options, remote_options_from_args
from dirkit.cli.runs import add_run_options, executing, journaled, print_plan, report_run
from dirkit.core.run.plan import plan_with_safe_modes
from dirkit.errors import EXIT_OK, StalePlanError, UsageError
from dirkit.ops.run.backups import DEFAULT_KEEP
from dirkit.ops.run.mirror import apply_saved_plan, read_plan_file, stale_reasons

DESCRIPTION = """\
Apply exactly the plan saved in FILE (by 'dirkit mirror --save-plan FILE'): the same
actions, in the same order, on the same trees, with the same backups and journal as mirror.
A plan saved by 'dirkit sync --save-plan FILE' is applied the same way, on both trees:
apply plans the sync afresh from both trees and their base, runs it only if it is exactly
the saved plan, and otherwise refuses, changing nothing, naming the path that changed.

Before changing anything, apply rescans both trees and refuses, changing nothing, if any
path the plan touches changed since the plan was made: a file it copies changed in SRC,
a path it replaces or deletes changed in DST, something appeared where it creates a path,
or anything changed below a directory it deletes. Changes elsewhere do not matter.

A plan file is input anyone may have edited: the modes it sets lose setuid, setgid and
other-write unless --keep-modes.
"""

EPILOG = """\
exit status:
  0   the plan was applied
  1   applied, but some items failed or were left alone (conflicts); they are listed
  2   error: the plan is stale or unreadable, a tree is missing, or a guard refused
  130 interrupted (SIGINT or SIGTERM) after finishing and journaling the current steps

examples:
  dirkit mirror --save-plan plan.jsonl ~/photos /mnt/backup/photos
  dirkit apply --dry-run plan.jsonl      # show it, and check it still fits
  dirkit apply plan.jsonl
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the apply command."""
    parser = commands.add_parser(
        "apply",
        help="apply a saved plan exactly, if the trees still fit it",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "plan",
        metavar="FILE",
        help="a plan written by 'dirkit mirror --save-plan' or 'dirkit sync --save-plan'",
    )
    add_run_options(parser)
    guards = parser.add_argument_group("guards and backups")
    add_guard_options(guards, force_help="turn the deletion guard off")
    guards.add_argument(
        "--keep-modes",
        action="store_true",
        help="set the plan's modes as they are, setuid, setgid and other-write included",
    )
    add_keep_backups_option(
        guards, "keep the backups of the last N runs (default: %(default)s)", DEFAULT_KEEP
    )
    add_output_options(parser)
    add_remote_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check the saved plan against the trees and apply it; return the exit code."""
    jobs = jobs_from_args(args)
    if is_sync_plan_file(args.plan):
        return run_sync_plan(args)
    plan = read_plan_file(args.plan)
    if not args.keep_modes:
        plan = plan_with_safe_modes(plan)
    if plan.operation != "mirror" or plan.source is None:
        raise UsageError(f"{args.plan}: apply runs mirror plans; this one is a {plan.operation!r} plan")
    source = open_tree(plan.source, remote=remote_options_from_args(args))
    target = open_tree(plan.target, remote=remote_options_from_args(args))
    try:
        with journaled() as journal:
            if args.dry_run:
                print_plan(plan, args)
                reasons = stale_reasons(plan, source, target)
                if reasons:
                    raise StalePlanError(f"{plan.target}: the plan is stale: " + "; ".join(reasons[:5]))
                return EXIT_OK
            guards = guards_from_args(args)
            with executing(args, fsync=args.fsync) as execute:
                result = apply_saved_plan(
                    plan, source, target, journal, guards, jobs, args.keep_backups, execute
                )
            return report_run(result, args)
    finally:
        source.close()
        target.close()
