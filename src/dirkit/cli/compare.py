"""`dirkit compare LEFT RIGHT`: how two trees differ."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from dirkit.backends.trees import open_tree
from dirkit.cli.common import (
    add_filter_options,
    add_html_options,
    add_jobs_option,
    add_modify_window_option,
    add_output_options,
    jobs_from_args,
    modify_window_ns_from_args,
    scan_options_from_args,
    style_for,
    write_lines,
)
from dirkit.cli.html_report import check_html_args, write_html_report
from dirkit.cli.remote_options import add_remote_options, remote_options_from_args
from dirkit.core.compare.diff import changed_file_pairs
from dirkit.errors import EXIT_DIFFERENCES, EXIT_ERROR, EXIT_OK
from dirkit.ops.compare.trees import CompareOptions, compare_trees
from dirkit.report.compare import render_json_lines, render_text, summary_line

if TYPE_CHECKING:
    from dirkit.core.compare.textdiff import TextDiff

DESCRIPTION = """\
Compare two directory trees and list every path that differs.

Quick mode (the default) judges files by kind, size and modification time, with times
equal within the coarser resolution of the two sides (widen it with --modify-window), and
directories by their modification time. Both modes report permission bits that differ
(as 'mode 0644 -> 4777', the left's then the right's): what mirror sets, compare checks.
--content also compares the contents of files of equal size, which finds files changed
without any change of size or time. Between local trees it compares BLAKE3 digests kept in
a cache (a file whose device, inode, size, mtime and ctime are unchanged is not read again;
--no-cache turns that off and compares the bytes); other trees are compared byte by byte.

Renames (shown by default, as mirror does them; --no-moves turns it off): a file only on
the left and a file only on the right with the same size and content are one moved path,
and a renamed folder whose files all match is one moved folder. Only one-sided files whose
size matches a one-sided file opposite are hashed. A file moved and also changed is not a
move.

Paths whose names differ only by Unicode normalization (NFC/NFD) or by letter case are
reported as such; --normalize-unicode treats NFC and NFD spellings as the same name.
"""

EPILOG = """\
exit status:
  0   the trees are the same
  1   the trees differ
  2   error (a root is missing, bad option, or some paths could not be read)
  130 interrupted

examples:
  dirkit compare photos /mnt/backup/photos
  dirkit compare --content --exclude '*.tmp' src dst
  dirkit compare --json a b | jq -r 'select(.status=="changed") | .path'
  dirkit compare --json a b | jq -r 'select(.status=="moved") | "\\(.from) -> \\(.path)"'
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the compare command."""
    parser = commands.add_parser(
        "compare",
        help="show how two trees differ",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("left", help="the left tree (a directory)")
    parser.add_argument("right", help="the right tree (a directory)")
    how = parser.add_argument_group("how to compare")
    how.add_argument(
        "--content",
        action="store_true",
        help="compare the bytes of files of equal size (slower, finds silent changes)",
    )
    how.add_argument(
        "--no-moves",
        action="store_true",
        help="report renamed files and folders as deleted and added, not as moved",
    )
    how.add_argument(
        "--detect-moves",
        action="store_true",
        help="accepted for older scripts; moves are detected by default",
    )
    how.add_argument(
        "--no-cache",
        action="store_true",
        help="neither use nor fill the digest cache (compare the bytes of every pair)",
    )
    add_modify_window_option(
        how, "treat modification times this far apart as equal (like rsync; e.g. 2 for FAT)"
    )
    how.add_argument(
        "--normalize-unicode",
        action="store_true",
        help="treat NFC and NFD spellings of a name as the same path",
    )
    add_jobs_option(how, "files compared at once with --content (default: %(default)s)")
    add_filter_options(parser)
    add_output_options(parser)
    add_remote_options(parser)
    shown = parser.add_argument_group("what to show")
    shown.add_argument("--all", action="store_true", help="also list paths that are the same")
    shown.add_argument("--stat", action="store_true", help="print only the counts of each status")
    shown.add_argument(
        "--diff",
        action="store_true",
        help="show a unified diff of each changed text file (capped at 1 MiB and 400 lines)",
    )
    add_html_options(shown, "the comparison, with the diffs of changed text files,")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Compare the two trees and print the result; return the exit code."""
    check_html_args(args)
    modify_window_ns = modify_window_ns_from_args(args)
    jobs = jobs_from_args(args)
    left = open_tree(args.left, remote=remote_options_from_args(args))
    right = open_tree(args.right, remote=remote_options_from_args(args))
    options = CompareOptions(
        scan=scan_options_from_args(args),
        content=args.content,
        modify_window_ns=modify_window_ns,
        normalize_unicode=args.normalize_unicode,
        jobs=jobs,
        keep_same=args.all,
        detect_moves=not args.no_moves,
        digest_cache=not args.no_cache,
    )
    try:
        diff = compare_trees(left, right, options)
        if args.html:
            from dirkit.ops.compare.capped_diffs import capped_text_diffs  # loads multiprocessing
            from dirkit.report.html_rows import compare_report

            report = compare_report(
                diff, args.left, args.right, capped_text_diffs(left, right, diff), show_same=args.all
            )
            write_html_report(args, report)
        if args.quiet:
            pass
        elif args.json:
            write_lines(render_json_lines(diff, show_same=args.all))
        elif args.stat:
            write_lines([summary_line(diff)])
        else:
            text_diffs: list[TextDiff] = []
            if args.diff:
                from dirkit.ops.compare.textdiff import unified_diff_of  # loads difflib

                text_diffs = [
                    unified_diff_of(left, right, left_entry, right_entry)
                    for _, left_entry, right_entry in changed_file_pairs(diff.changes)
                ]
            style = style_for(sys.stdout, args.color)
            write_lines(render_text(diff, style, show_same=args.all, text_diffs=text_diffs))
    finally:
        left.close()
        right.close()
    if diff.has_errors:
        return EXIT_ERROR
    return EXIT_DIFFERENCES if diff.has_differences else EXIT_OK
