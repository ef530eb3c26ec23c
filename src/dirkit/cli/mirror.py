"""`dirkit mirror SRC DST`: make DST an exact copy of SRC, with backups of everything replaced or deleted."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from dirkit.backends.local_files import local_files
from dirkit.backends.trees import open_mirror_target, open_tree
from dirkit.cli.common import (
    add_filter_options,
    add_guard_options,
    add_html_options,
    add_keep_backups_option,
    add_modify_window_option,
    add_output_options,
    exclude_patterns_from_args,
    guards_from_args,
    jobs_from_args,
    modify_window_ns_from_args,
)
from dirkit.cli.html_report import check_html_args, write_html_report
from dirkit.cli.remote_options import add_remote_options, remote_options_from_args
from dirkit.cli.runs import (
    add_run_options,
    executing,
    hold_if_asked,
    journaled,
    print_plan,
    report_run,
    write_plan_file,
)
from dirkit.core.tree.paths import ROOT
from dirkit.errors import EXIT_OK, UsageError
from dirkit.ops.run.backups import DEFAULT_KEEP
from dirkit.ops.run.mirror import (
    MirrorOptions,
    backup_dir_from_user,
    check_mirror_options,
    check_separate_trees,
    plan_mirror_trees,
    refuse_if_guarded,
    run_plan,
)
from dirkit.ops.run.recovery import claim_tree

DESCRIPTION = """\
Make DST an exact copy of SRC: new and changed files are copied, files and directories that
are only in DST are removed (--no-delete keeps them), symlinks are copied as links, and
modification times (to the nanosecond) and permission bits are preserved.

Nothing is lost. Every file or directory that is replaced or deleted is first moved (renamed,
not copied) into DST/.dirkit/backups/RUN-ID/, and new content is written under a temporary
name and renamed into place, so no file is ever seen half-written under its own name. Every
step is journaled in the state database; 'dirkit undo DST' reverts the whole run. After a
crash or kill -9, the next run notices the interrupted run, removes its temporary files, and
a rerun converges.

The plan comes first: --dry-run prints it and changes nothing; --save-plan FILE writes it,
and 'dirkit apply FILE' applies exactly that plan later.

Guards (on by default): mirror refuses when SRC is empty while DST is not, when the plan
would delete more than half of DST's files, or when its copies do not fit in DST's free
space (local disk, SFTP); --max-delete and --force override them.
"""

EPILOG = """\
exit status:
  0   DST is now a copy of SRC (or the dry run / saved plan succeeded)
  1   finished, but some items failed or were left alone (conflicts); they are listed
  2   error: a tree is missing, a guard refused, a bad option, or the run was stopped
      by an error such as a full disk
  130 interrupted (SIGINT or SIGTERM): the current steps were finished and journaled

examples:
  dirkit mirror --dry-run ~/photos /mnt/backup/photos
  dirkit mirror ~/photos /mnt/backup/photos
  dirkit mirror --exclude '*.tmp' --content src/ dst/
  dirkit mirror --save-plan plan.jsonl src dst && less plan.jsonl && dirkit apply plan.jsonl
  dirkit undo /mnt/backup/photos
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the mirror command."""
    parser = commands.add_parser(
        "mirror",
        help="make DST an exact copy of SRC (with backups and undo)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", metavar="SRC", help="the tree to copy from (a directory)")
    parser.add_argument("target", metavar="DST", help="the tree to make a copy (created if missing)")
    how = parser.add_argument_group("what to copy")
    how.add_argument(
        "--no-delete", action="store_true", help="keep files and directories that are only in DST"
    )
    how.add_argument(
        "--content",
        action="store_true",
        help="decide 'changed' by comparing bytes of files of equal size (slower, as in compare)",
    )
    add_modify_window_option(how, "treat modification times this far apart as equal (e.g. 2 for FAT)")
    how.add_argument(
        "--no-moves",
        action="store_true",
        help="do not turn renamed files and folders into renames on DST (copy and delete instead)",
    )
    add_run_options(parser)
    plans = parser.add_argument_group("plans, backups and guards")
    plans.add_argument(
        "--save-plan", metavar="FILE", help="write the plan to FILE (JSON Lines) and change nothing"
    )
    plans.add_argument(
        "--backup-dir",
        metavar="DIR",
        help="where to move replaced and deleted items: a folder inside DST (default: .dirkit/backups)",
    )
    add_keep_backups_option(
        plans, "keep the backups of the last N runs, prune older ones (default: %(default)s)", DEFAULT_KEEP
    )
    add_guard_options(plans, force_help="turn every guard off")
    add_html_options(plans, "the plan (with --dry-run or --save-plan)")
    add_filter_options(parser)
    add_output_options(parser)
    add_remote_options(parser)
    parser.set_defaults(run=run)


def mirror_options_from_args(args: argparse.Namespace, target_root: str | None) -> MirrorOptions:
    """Return the mirror options the user asked for."""
    options = MirrorOptions(
        exclude=exclude_patterns_from_args(args),
        gitignore=args.gitignore,
        follow_symlinks=args.follow_symlinks,
        content=args.content,
        modify_window_ns=modify_window_ns_from_args(args),
        delete=not args.no_delete,
        guards=guards_from_args(args),
        jobs=jobs_from_args(args),
        keep_backups=args.keep_backups,
        detect_moves=not args.no_moves,
    )
    if args.backup_dir:
        options = replace(options, backup_dir=backup_dir_from_user(args.backup_dir, target_root))
    return options


def run(args: argparse.Namespace) -> int:
    """Plan the mirror, then print it, save it, or execute it; return the exit code."""
    jobs_from_args(args)  # a bad --jobs is refused before any tree is opened
    check_html_args(args)
    planning_only = args.dry_run or args.save_plan is not None
    if args.html and not planning_only:
        raise UsageError("--html writes the plan: add --dry-run (or --save-plan FILE)")
    source = open_tree(args.source, remote=remote_options_from_args(args))
    target = open_mirror_target(args.target, create=not planning_only, remote=remote_options_from_args(args))
    try:
        local = local_files(target)
        options = mirror_options_from_args(args, local.os_path(ROOT) if local is not None else None)
        check_mirror_options(target, options)
        with journaled() as journal:
            if planning_only:
                planning = plan_mirror_trees(source, target, options)
                if args.save_plan is not None:
                    write_plan_file(planning.plan, args.save_plan)
                if args.dry_run:
                    print_plan(planning.plan, args)
                if args.html:
                    from dirkit.report.html_rows import plan_report

                    write_html_report(args, plan_report(planning.plan))
                for violation in planning.violations:
                    print(f"dirkit: note: a real run would refuse: {violation}", file=sys.stderr)
                return EXIT_OK
            check_separate_trees(source, target)
            with claim_tree(journal, target, "mirror") as claim:
                hold_if_asked()
                planning = plan_mirror_trees(source, target, options)
                refuse_if_guarded(planning)
                with executing(args, fsync=args.fsync, run_id=claim.run_id) as execute:
                    result = run_plan(planning.plan, source, target, journal, options, execute)
            return report_run(result, args)
    finally:
        source.close()
        target.close()
