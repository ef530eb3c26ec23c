"""`dirkit sync A B`: keep two trees in step both ways, never overwriting a conflict, with backups."""

from __future__ import annotations

import argparse
import sys

from dirkit.backends.trees import open_mirror_target, open_tree
from dirkit.cli.common import (
    add_filter_options,
    add_guard_options,
    add_keep_backups_option,
    add_modify_window_option,
    add_output_options,
    exclude_patterns_from_args,
    guards_from_args,
    jobs_from_args,
    modify_window_ns_from_args,
    style_for,
    write_lines,
)
from dirkit.cli.remote_options import add_remote_options, remote_options_from_args
from dirkit.cli.runs import add_run_options, executing, hold_if_asked, journaled
from dirkit.core.sync.plan import Prefer
from dirkit.core.sync.saved_plan import check_lines, header_line
from dirkit.core.tree.paths import display_path
from dirkit.errors import EXIT_DIFFERENCES, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, UsageError
from dirkit.ops.run.backups import DEFAULT_KEEP
from dirkit.ops.run.mirror import check_separate_trees
from dirkit.ops.sync.planning import SyncOptions, SyncPlanning, check_sync_options, plan_sync
from dirkit.ops.sync.run import SyncResult, claim_pair, execute_sync, refuse_if_guarded
from dirkit.report.run import run_json_lines
from dirkit.report.sync import render_sync_text, sync_json_lines

DESCRIPTION = """\
Bring trees A and B in step both ways. What changed on one side since the last sync is carried
to the other: new, changed and deleted files, folders, symlinks, kind changes and permission
bits. What both sides changed the same way settles silently. What both sides changed in
different ways is a conflict: it is listed and neither side is touched, unless --prefer picks
a winner (the loser goes to that side's backups, or with --keep-both stays beside the winner
as NAME.conflict-SIDE-DATE.EXT on both sides). A delete on one side against an edit on the
other keeps the edit.

dirkit remembers, per pair of trees, what both sides last agreed on (the base, in the state
database). The first sync has no base: it copies what is on one side only, never deletes, and
lists files present on both sides with different content as conflicts.

Nothing is lost. Every replaced or deleted file goes to its side's .dirkit/backups/RUN-ID/;
each side's steps are one journaled run ('dirkit undo A', 'dirkit undo B' revert them). A
path's base changes in the same transaction that marks its step done, so after a crash or
kill -9 the next sync neither loses an edit nor brings back a delete; no --resync is needed.

A sync that finds nothing changed reads no file contents (sizes and mtimes tell). A file
whose size stayed but whose mtime moved is read to tell whether its bytes changed.

Guards (on by default): sync refuses when a side is empty while the base is not (unmounted?)
and when it would delete more than half of either side's files; --max-delete and --force
override them.
"""

EPILOG = """\
exit status:
  0   both sides are in step (or the dry run found nothing left alone)
  1   finished, but conflicts were left alone, or items failed or were skipped; all listed
  2   error: a tree is missing, a guard refused, the trees are busy, a bad option, or a
      run was stopped by an error such as a full disk
  130 interrupted (SIGINT or SIGTERM): the current steps were finished and journaled

examples:
  dirkit sync --dry-run ~/notes /media/usb/notes
  dirkit sync ~/notes /media/usb/notes
  dirkit sync --prefer newer --keep-both ~/notes /media/usb/notes
  dirkit sync --exclude '*.tmp' --exclude 'build/' ~/src /mnt/server/src
"""

PREFER_CHOICES = {
    "A": Prefer.A,
    "B": Prefer.B,
    "newer": Prefer.NEWER,
    "older": Prefer.OLDER,
    "larger": Prefer.LARGER,
}


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the sync command."""
    parser = commands.add_parser(
        "sync",
        help="keep two trees in step both ways, conflicts never overwritten",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("a", metavar="A", help="one tree (a directory)")
    parser.add_argument("b", metavar="B", help="the other tree (created if missing)")
    conflicts = parser.add_argument_group("conflicts")
    conflicts.add_argument(
        "--prefer",
        choices=list(PREFER_CHOICES),
        help="settle conflicts: keep A's or B's version, the newer, the older or the larger one "
        "(a tie stays a conflict); the loser goes to its side's backups",
    )
    conflicts.add_argument(
        "--keep-both",
        action="store_true",
        help="keep the losing version of a conflict beside the winner as NAME.conflict-SIDE-DATE.EXT "
        "(on both sides); without --prefer the newer version wins",
    )
    add_modify_window_option(conflicts, "treat modification times this far apart as equal (e.g. 2 for FAT)")
    add_run_options(parser)
    plans = parser.add_argument_group("plans, backups and guards")
    plans.add_argument(
        "--save-plan",
        metavar="FILE",
        help="write what the sync would do to FILE (JSON Lines) and change nothing; 'dirkit apply "
        "FILE' runs it later, if both trees still fit it",
    )
    add_keep_backups_option(
        plans, "keep the backups of the last N runs on each side (default: %(default)s)", DEFAULT_KEEP
    )
    add_guard_options(plans, force_help="turn every guard off")
    add_filter_options(parser)
    add_output_options(parser)
    add_remote_options(parser)
    parser.set_defaults(run=run)


def sync_options_from_args(args: argparse.Namespace) -> SyncOptions:
    """Return the sync options the user asked for."""
    if args.follow_symlinks:
        raise UsageError("--follow-symlinks: sync carries symlinks as links and never follows them")
    prefer = PREFER_CHOICES[args.prefer] if args.prefer else Prefer.NONE
    options = SyncOptions(
        exclude=exclude_patterns_from_args(args),
        gitignore=args.gitignore,
        prefer=prefer,
        keep_both=args.keep_both,
        modify_window_ns=modify_window_ns_from_args(args),
        guards=guards_from_args(args),
        jobs=jobs_from_args(args),
        keep_backups=args.keep_backups,
    )
    check_sync_options(options)
    return options


def print_planning(planning: SyncPlanning, args: argparse.Namespace) -> None:
    """Print what the sync does (or would do), as text or JSON Lines."""
    a_name, b_name = planning.a_plan.target, planning.b_plan.target
    if args.json:
        write_lines(sync_json_lines(planning.plan, a_name, b_name))
    elif not args.quiet:
        write_lines(render_sync_text(planning.plan, a_name, b_name, style_for(sys.stdout, args.color)))


def run(args: argparse.Namespace) -> int:
    """Plan the sync, then print it, save it, or carry it out on both sides; return the exit code."""
    options = sync_options_from_args(args)
    planning_only = args.dry_run or args.save_plan is not None
    remote = remote_options_from_args(args)
    a = open_tree(args.a, remote=remote)
    try:
        b = open_mirror_target(args.b, create=not planning_only, remote=remote)
    except BaseException:
        a.close()
        raise
    try:
        check_separate_trees(a, b)
        with journaled() as journal:
            if planning_only:
                planning = plan_sync(a, b, journal, options)
                if args.save_plan is not None:
                    save_plan(planning, options, args.save_plan)
                if args.dry_run:
                    print_planning(planning, args)
                for violation in planning.violations:
                    print(f"dirkit: note: a real run would refuse: {violation}", file=sys.stderr)
                return EXIT_DIFFERENCES if planning.plan.unresolved else EXIT_OK
            with claim_pair(journal, a, b) as claims:
                hold_if_asked()
                planning = plan_sync(a, b, journal, options)
                refuse_if_guarded(planning)
                print_planning(planning, args)
                with executing(args, fsync=args.fsync) as execute:
                    result = execute_sync(planning, a, b, journal, claims, options, execute)
            return report_sync(result, args)
    finally:
        a.close()
        b.close()


def save_plan(planning: SyncPlanning, options: SyncOptions, path: str) -> None:
    """Write the sync plan to a file as JSON Lines: a header, the review records, the checks."""
    a_name, b_name = planning.a_plan.target, planning.b_plan.target
    try:
        with open(path, "w", encoding="utf-8") as stream:
            write_lines([header_line(a_name, b_name, options.to_json(), planning.stamp)], stream)
            write_lines(sync_json_lines(planning.plan, a_name, b_name), stream)
            write_lines(check_lines(planning.plan), stream)
    except OSError as error:
        raise UsageError(f"{path}: cannot write plan: {error.strerror}") from error


def report_sync(result: SyncResult, args: argparse.Namespace) -> int:
    """Print how each side's run went (failures, notes) and return the exit code."""
    for run_result in result.runs:
        if args.json:
            write_lines(run_json_lines(run_result))
            continue
        for failure in run_result.failures:
            word = "conflict" if failure.conflict else "failed"
            print(f"dirkit: {word}: {display_path(failure.reason)}", file=sys.stderr)
        for note in run_result.notes:
            print(f"dirkit: note: {display_path(note)}", file=sys.stderr)
        if not args.quiet:
            print(
                f"sync run {run_result.run_id} on {display_path(run_result.target)}: "
                f"{run_result.steps_done} steps done, {run_result.files_copied} files copied "
                f"in {run_result.seconds:.1f}s"
                + (f", {len(run_result.failures)} failed or left alone" if run_result.failures else "")
            )
    for run_result in result.runs:
        if run_result.interrupted:
            print(
                f"dirkit: interrupted; run {run_result.run_id} stopped after its current steps "
                f"(run the sync again to finish)",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        if run_result.stopped_by is not None:
            print(
                f"dirkit: run {run_result.run_id} stopped: {display_path(run_result.stopped_by)} "
                f"(run the sync again to finish)",
                file=sys.stderr,
            )
            return EXIT_ERROR
    plan = result.planning.plan
    if result.conflicts:
        print(
            f"dirkit: {len(result.conflicts)} conflicts left alone on both sides "
            f"(edit one side, or use --prefer / --keep-both)",
            file=sys.stderr,
        )
    if result.conflicts or plan.skipped or any(run.failures for run in result.runs):
        return EXIT_DIFFERENCES
    return EXIT_OK
