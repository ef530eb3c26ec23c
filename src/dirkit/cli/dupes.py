"""`dirkit dupes ROOT...`: groups of identical files, and plans to link or remove the extra copies."""

from __future__ import annotations

import argparse
import os
import sys
from typing import BinaryIO

from dirkit.backends.protocol import Backend
from dirkit.backends.trees import open_tree
from dirkit.cli.common import (
    add_dry_run_option,
    add_filter_options,
    add_html_options,
    add_jobs_option,
    add_output_options,
    jobs_from_args,
    scan_options_from_args,
)
from dirkit.cli.html_report import check_html_args, write_html_report
from dirkit.cli.remote_options import add_remote_options, remote_options_from_args
from dirkit.cli.runs import executing, journaled, report_run
from dirkit.core.search.dupes import DupeAction, DupeFile, KeepRule, plan_dupe_actions
from dirkit.core.sizes import parse_byte_count
from dirkit.core.tree.paths import display_path
from dirkit.errors import EXIT_DIFFERENCES, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, UsageError
from dirkit.ops.search.dupes import DupesOptions, find_duplicates
from dirkit.ops.search.dupes_actions import (
    check_separate_roots,
    claim_roots,
    plan_dupe_actions_per_root,
    run_dupe_plans,
)
from dirkit.report.search import dupe_step_json, dupes_group_json, output_bytes

DESCRIPTION = """\
Find files with identical content in one or more trees, like jdupes -r or fdupes -r.

Files are compared by size, then by a BLAKE3 digest of their first 64 KiB, then by the
digest of all their bytes. Several hard links to one file count as one file (the first
path is shown); empty files and symlinks are left out unless --empty or --follow-symlinks.
Each group is printed as its paths, one per line, groups separated by a blank line, in
the order of the roots given and then of sorted paths.

--link (replace each duplicate by a hard link to the kept file) and --remove (delete all
but one) choose the file to keep with --keep. Nothing is lost: each duplicate is first
moved (renamed) into ROOT/.dirkit/backups/RUN-ID/ of its own root, then --link makes the
hard link in its place. There is one journaled run per root, so 'dirkit undo ROOT' puts
the duplicates back byte for byte. Before touching a file the run checks that it still
has the size and modification time seen by the search; a file changed since is left
alone (a conflict). A hard link cannot cross filesystems: such duplicates are skipped
with the reason. The roots must not overlap. --dry-run prints what would be done.
"""

EPILOG = """\
exit status:
  0   no duplicates found (with --link/--remove: every duplicate was dealt with)
  1   duplicates found (with --link/--remove: some were skipped, failed or left alone)
  2   error (bad option, missing or overlapping roots, some files could not be read,
      or a run stopped by an error such as a full disk)
  130 interrupted (with --link/--remove: the steps under way were finished and journaled)

examples:
  dirkit dupes ~/photos /mnt/backup/photos
  dirkit dupes --min-size 1M --json ~/Downloads | jq .size
  dirkit dupes --remove --keep oldest --dry-run ~/music
  dirkit dupes --link --keep oldest ~/music && dirkit undo ~/music
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the dupes command."""
    parser = commands.add_parser(
        "dupes",
        help="find files with identical content",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("roots", metavar="ROOT", nargs="+", help="trees to search")
    what = parser.add_argument_group("what counts")
    what.add_argument(
        "--min-size", metavar="SIZE", default="0", help="ignore files smaller than SIZE (e.g. 4k, 1M)"
    )
    what.add_argument("--empty", action="store_true", help="also group empty files")
    add_jobs_option(what, "workers reading files (default: %(default)s, capped at the cores for local trees)")
    what.add_argument(
        "--no-cache",
        action="store_true",
        help="neither use nor fill the digest cache for full digests (read every candidate)",
    )
    act = parser.add_argument_group("what to do with duplicates")
    actions = act.add_mutually_exclusive_group()
    actions.add_argument(
        "--link",
        action="store_true",
        help="replace each duplicate by a hard link to the kept file (undoable: 'dirkit undo ROOT')",
    )
    actions.add_argument(
        "--remove",
        action="store_true",
        help="move every duplicate but the kept file into ROOT/.dirkit/backups/ (undoable)",
    )
    act.add_argument(
        "--keep",
        choices=[rule.value for rule in KeepRule],
        default=KeepRule.FIRST_ROOT.value,
        help="which file of a group to keep (default: %(default)s, the first in the order of the roots)",
    )
    add_dry_run_option(act, "print what --link/--remove would do and change nothing")
    add_filter_options(parser)
    add_output_options(parser)
    add_remote_options(parser)
    add_html_options(parser, "the groups found")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Find the duplicates and print them (or the plan to deal with them); return the exit code."""
    check_html_args(args)
    action = DupeAction.LINK if args.link else DupeAction.REMOVE if args.remove else None
    if args.html and action is not None and not args.dry_run:
        raise UsageError(f"--html shows the groups found: add --dry-run, or leave out --{action.value}")
    options = DupesOptions(
        jobs=jobs_from_args(args),
        scan=scan_options_from_args(args),
        min_size=parse_byte_count(args.min_size),
        include_empty=args.empty,
        use_cache=not args.no_cache,
    )
    if action is not None and not args.dry_run:
        return _carry_out(args, action, options)
    trees = [(root, open_tree(root, remote=remote_options_from_args(args))) for root in args.roots]
    try:
        result = find_duplicates([backend for _, backend in trees], options)
    finally:
        for _, backend in trees:
            backend.close()
    roots = [root for root, _ in trees]
    if args.html:
        from dirkit.report.html_rows import dupes_report

        write_html_report(args, dupes_report(result.groups, roots))

    def shown(item: DupeFile) -> str:
        return os.path.join(roots[item.root_index], item.path)

    out: BinaryIO = sys.stdout.buffer
    lines: list[str] = []
    if args.quiet:
        pass
    elif action is not None:
        for step in plan_dupe_actions(result.groups, action, KeepRule(args.keep)):
            if args.json:
                lines.append(
                    dupe_step_json(step.action.value, shown(step.target), shown(step.keeper), step.skipped)
                )
            elif step.skipped:
                lines.append(f"skip   {shown(step.target)}: {step.skipped}")
            elif step.action is DupeAction.LINK:
                lines.append(f"link   {shown(step.target)} => {shown(step.keeper)}")
            else:
                lines.append(f"remove {shown(step.target)} (keeping {shown(step.keeper)})")
    else:
        for group in result.groups:
            paths = [shown(item) for item in group.files]
            if args.json:
                lines.append(dupes_group_json(group.size, paths))
                continue
            if args.verbose:
                lines.append(f"# {len(paths)} files of {group.size} bytes, blake3 {group.digest}")
            lines.extend(paths)
            lines.append("")
    out.write(b"".join(output_bytes(line) + b"\n" for line in lines))
    out.flush()
    for failure in result.failures:
        where = os.path.join(roots[failure.root_index], failure.path)
        print(f"dirkit: {display_path(where)}: {failure.reason}", file=sys.stderr)
    if result.failures:
        return EXIT_ERROR
    return EXIT_DIFFERENCES if result.groups else EXIT_OK


def _carry_out(args: argparse.Namespace, action: DupeAction, options: DupesOptions) -> int:
    """Find the duplicates, then link or remove them with one journaled run per root."""
    if options.scan.follow_symlinks:
        raise UsageError(
            f"--follow-symlinks cannot be used with --{action.value}: a file reached through a symlink "
            "may lie outside its root (add --dry-run to see the plan)"
        )
    backends: list[Backend] = []
    try:
        for root in args.roots:
            backends.append(open_tree(root, remote=remote_options_from_args(args)))
        check_separate_roots(backends)
        with journaled() as journal, claim_roots(journal, backends, action.value) as claims:
            found = find_duplicates(backends, options)
            for failure in found.failures:
                where = os.path.join(args.roots[failure.root_index], failure.path)
                print(f"dirkit: {display_path(where)}: {failure.reason}", file=sys.stderr)
            plans = plan_dupe_actions_per_root(found.groups, action, KeepRule(args.keep), backends)
            codes = [EXIT_ERROR if found.failures else EXIT_OK]
            with executing(args) as execute:
                results = run_dupe_plans(plans, backends, journal, options.jobs, execute, claims=claims)
            codes += [report_run(result, args) for result in results]
            if execute.stop is not None and execute.stop.is_set():
                codes.append(EXIT_INTERRUPTED)
    finally:
        for backend in backends:
            backend.close()
    if EXIT_INTERRUPTED in codes:
        return EXIT_INTERRUPTED
    return max(codes)
