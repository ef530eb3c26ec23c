"""`dirkit find ROOT...`: the paths of trees that meet criteria on name, kind, size, time and depth."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from typing import TYPE_CHECKING, BinaryIO

from dirkit.cli.common import add_filter_options, add_output_options, scan_options_from_args, style_for
from dirkit.cli.remote_options import add_remote_options, remote_options_from_args
from dirkit.core.search.criteria import FindCriteria, compile_name_globs, compile_name_regex, parse_kinds
from dirkit.core.sizes import moment_to_ns, parse_moment, parse_size_bound
from dirkit.core.tree.filters import glob_problem
from dirkit.core.tree.paths import display_path
from dirkit.errors import EXIT_DIFFERENCES, EXIT_OK, UsageError

if TYPE_CHECKING:
    from dirkit.ops.tree.scan import ScanOptions

SIZE_OR_NUMBER = re.compile(r"^-(?!0$)\d+(?:\.\d+)?[a-zA-Z]*$")
"""Arguments such as '-10k' are values (for --size), not options; '-0' stays an option."""
MAX_WALKERS = 4
"""Processes walking one local tree at most (one per core below that)."""

DESCRIPTION = """\
List the paths of one or more trees that meet every criterion given, like find(1) or fd.

Paths are printed as ROOT/relative/path in the trees' sorted order, the root itself
included when it meets the criteria (as find does). Criteria combine with AND; several
--name globs combine with OR. Symlinks are listed, not followed, unless --follow-symlinks.

Sizes: +N means more than N, -N less than N, N exactly N bytes; units k, M, G, T are
binary (1k = 1024), kB, MB, GB decimal; a size test matches regular files only.
Times: --newer/--older take a duration before now (30s, 15m, 2h, 2d, 1w, 1h30m) or a
date in local time (2026-01-31, 2026-01-31T08:00, or ISO 8601 with a zone).
"""

EPILOG = """\
exit status:
  0   the trees were searched (whether or not anything was found)
  1   some directories could not be read (the list may be incomplete)
  2   error (bad option, bad pattern, or a root is missing)
  130 interrupted

examples:
  dirkit find . --name '*.py'
  dirkit find ~/photos --iname '*.jpg' --size +5M --older 2026-01-01
  dirkit find src --type d --max-depth 2 --gitignore
  dirkit find logs --newer 2d --long
  dirkit find . --name '*.tmp' -0 | xargs -0 rm --
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the find command."""
    parser = commands.add_parser(
        "find",
        help="list the paths that meet criteria on name, kind, size and time",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser._negative_number_matcher = SIZE_OR_NUMBER
    parser.add_argument("roots", metavar="ROOT", nargs="+", help="trees to search")
    what = parser.add_argument_group("what to find")
    what.add_argument(
        "--name",
        metavar="GLOB",
        action="append",
        default=[],
        help="base name matches GLOB ('*.py'); repeatable",
    )
    what.add_argument(
        "--iname", metavar="GLOB", action="append", default=[], help="like --name, ignoring letter case"
    )
    what.add_argument("--regex", metavar="REGEX", help="base name contains a match of REGEX (Python syntax)")
    what.add_argument(
        "--type", metavar="f|d|l", action="append", default=[], help="kind: f file, d dir, l symlink"
    )
    what.add_argument(
        "--size", metavar="[+|-]N[UNIT]", help="file size: +1M more than, -10k less than, 4096 exactly"
    )
    what.add_argument("--newer", metavar="DATE|DURATION", help="modified after DATE, or within DURATION (2d)")
    what.add_argument(
        "--older", metavar="DATE|DURATION", help="modified before DATE, or more than DURATION ago"
    )
    what.add_argument(
        "--min-depth", metavar="N", type=int, default=0, help="only paths at least N levels down"
    )
    what.add_argument(
        "--max-depth", metavar="N", type=int, help="only paths at most N levels down (1: children)"
    )
    add_filter_options(parser)
    add_output_options(parser)
    add_remote_options(parser)
    shown = parser.add_argument_group("how to print")
    shown._negative_number_matcher = SIZE_OR_NUMBER
    shown.add_argument(
        "-0", "--print0", action="store_true", help="end each path with NUL, not newline (xargs -0)"
    )
    shown.add_argument("-l", "--long", action="store_true", help="print kind, size, mtime and path")
    parser.set_defaults(run=run)


def criteria_from_args(args: argparse.Namespace, now_ns: int) -> FindCriteria:
    """Return the find criteria the user asked for, or raise UsageError."""
    if args.min_depth < 0 or (args.max_depth is not None and args.max_depth < 0):
        raise UsageError("--min-depth and --max-depth must not be negative")
    if args.name and args.iname:
        raise UsageError("use either --name or --iname, not both")
    globs = args.name or args.iname
    for glob in globs:
        problem = glob_problem(glob)
        if problem is not None:
            option = "--iname" if args.iname else "--name"
            raise UsageError(f"bad {option} glob {glob!r}: {problem}")
    return FindCriteria(
        name_pattern=compile_name_globs(globs, ignore_case=bool(args.iname)),
        name_regex=compile_name_regex(args.regex),
        kinds=parse_kinds(args.type),
        size=parse_size_bound(args.size) if args.size is not None else None,
        newer_than_ns=moment_to_ns(parse_moment(args.newer), now_ns) if args.newer else None,
        older_than_ns=moment_to_ns(parse_moment(args.older), now_ns) if args.older else None,
        min_depth=args.min_depth,
        max_depth=args.max_depth,
    )


def run(args: argparse.Namespace) -> int:
    """Walk the trees and print what meets the criteria; return the exit code."""
    if args.print0 and (args.json or args.long):
        raise UsageError("--print0 cannot be combined with --json or --long")
    criteria = criteria_from_args(args, time.time_ns())
    scan = scan_options_from_args(args)
    if _walks_locally(args, criteria, scan):
        return _run_local(args, criteria)
    return _run_through_backends(args, criteria, scan)


def _walks_locally(args: argparse.Namespace, criteria: FindCriteria, scan: ScanOptions) -> bool:
    """Tell whether the lean local walk (ops/search/find_local.py) can do this search exactly."""
    return (
        criteria.name_regex is None
        and not criteria.needs_metadata
        and scan.tree_filter.is_trivial
        and not scan.follow_symlinks
        and not (args.json or args.long or args.quiet)
        and not style_for(sys.stdout, args.color).enabled
        and all(not _looks_like_url(root) and os.path.isdir(root) for root in args.roots)
    )


def _looks_like_url(root: str) -> bool:
    return "://" in root.split("/", 1)[0] + "/"


def _run_local(args: argparse.Namespace, criteria: FindCriteria) -> int:
    """Print what the lean local walk finds in each tree, in order; return the exit code."""
    from dirkit.ops.search.find_local import FAILED, LocalFind, failure_of, find_local

    remote_options_from_args(args)  # its options are checked even when no tree is remote
    out: BinaryIO = sys.stdout.buffer
    failed = False
    try:
        for root in args.roots:
            spec = LocalFind(
                root,
                name_pattern=criteria.name_pattern,
                kinds=criteria.kinds,
                min_depth=criteria.min_depth,
                max_depth=criteria.max_depth,
                ending="\0" if args.print0 else "\n",
                workers=min(MAX_WALKERS, os.cpu_count() or 1),
            )
            for kind, payload in find_local(spec):
                if kind == FAILED:
                    failed = True
                    out.flush()
                    shown, reason = failure_of(payload)
                    print(f"dirkit: {display_path(shown)}: {reason}", file=sys.stderr)
                else:
                    out.write(payload)
    finally:
        out.flush()
    return EXIT_DIFFERENCES if failed else EXIT_OK


def _run_through_backends(args: argparse.Namespace, criteria: FindCriteria, scan: ScanOptions) -> int:
    """Walk the trees through their backends and print what meets the criteria; return the exit code."""
    from dirkit.backends.trees import open_tree
    from dirkit.ops.search.find import FindOptions, find_entries
    from dirkit.report.search import find_json, find_long_text, output_bytes

    trees = [(root, open_tree(root, remote=remote_options_from_args(args))) for root in args.roots]
    out: BinaryIO = sys.stdout.buffer
    style = style_for(sys.stdout, args.color)
    ending = b"\0" if args.print0 else b"\n"
    failed = False
    try:
        for root, backend in trees:
            options = FindOptions(
                criteria=criteria,
                scan=scan,
                with_metadata=args.json or args.long,
                root_name=os.path.basename(os.path.normpath(root)),
            )
            pending: list[bytes] = []
            for entry in find_entries(backend, options):
                shown = os.path.join(root, entry.path) if entry.path else root
                if entry.error is not None:
                    failed = True
                    out.write(b"".join(pending))
                    pending.clear()
                    out.flush()
                    print(f"dirkit: {display_path(shown)}: {entry.error}", file=sys.stderr)
                    continue
                if args.quiet:
                    continue
                if args.json:
                    text = find_json(shown, entry)
                elif args.long:
                    text = find_long_text(shown, entry)
                else:
                    text = style.paint(shown, "blue") if entry.is_dir else shown
                pending.append(output_bytes(text) + ending)
                if len(pending) >= 512:
                    out.write(b"".join(pending))
                    pending.clear()
            out.write(b"".join(pending))
    finally:
        out.flush()
        for _, backend in trees:
            backend.close()
    return EXIT_DIFFERENCES if failed else EXIT_OK
