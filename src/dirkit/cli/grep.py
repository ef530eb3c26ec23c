"""`dirkit grep PATTERN ROOT...`: the lines of a tree's files that match a pattern."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import BinaryIO

from dirkit.backends.trees import open_tree
from dirkit.cli.common import (
    add_filter_options,
    add_jobs_option,
    add_output_options,
    jobs_from_args,
    scan_options_from_args,
    style_for,
)
from dirkit.cli.remote_options import add_remote_options, remote_options_from_args
from dirkit.core.search.grep import ByteMatcher, GrepPattern, compile_globs, compile_matcher, match_spans
from dirkit.core.tree.filters import glob_problem
from dirkit.core.tree.paths import RelPath, display_path
from dirkit.errors import EXIT_DIFFERENCES, EXIT_ERROR, EXIT_OK, UsageError
from dirkit.ops.search.grep import FileMatches, GrepMode, GrepOptions, grep_files, grep_tree
from dirkit.report.search import (
    grep_count_json,
    grep_line_json,
    grep_line_text,
    grep_lines_plain,
    output_bytes,
    path_json,
)

DESCRIPTION = """\
Search the files of one or more trees for lines matching PATTERN, like 'grep -rn' or 'rg'.

PATTERN is a regular expression (Python syntax, close to grep -E) unless -F makes it a
fixed string. Files are searched as bytes, so any encoding works; lines are decoded for
display with undecodable bytes replaced. A file with a NUL byte in its first 64 KiB is
binary and skipped unless --binary text. Files are searched in parallel; huge files and
very long lines are read in bounded memory. Results come in the trees' sorted order.

Output is 'path:text', or 'path:line:text' with -n; context lines use '-' instead of
':' and groups are separated by '--'. The same filters as every dirkit command apply
(--exclude, --gitignore), plus --glob to pick the files to search.
"""

EPILOG = """\
exit status:
  0   at least one line matched
  1   nothing matched
  2   error (bad pattern or option, missing root, or some files could not be read)
  130 interrupted

examples:
  dirkit grep -n TODO src
  dirkit grep -F -i 'connection refused' /var/log
  dirkit grep -w -C 2 --glob '*.py' --gitignore parse_args .
  dirkit grep -l --glob '!*.min.js' 'fetch\\(' web
  dirkit grep --json -n 'err(or|no)[0-9]+' logs | jq -r .path
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the grep command."""
    parser = commands.add_parser(
        "grep",
        help="find the lines of files that match a pattern",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("pattern", metavar="PATTERN", help="regular expression (or fixed string with -F)")
    parser.add_argument("roots", metavar="ROOT", nargs="+", help="trees (or single files) to search")
    how = parser.add_argument_group("how to match")
    how.add_argument("-F", "--fixed-strings", action="store_true", help="PATTERN is a plain string")
    how.add_argument(
        "-E", "--extended-regexp", action="store_true", help="PATTERN is a regular expression (the default)"
    )
    how.add_argument("-i", "--ignore-case", action="store_true", help="ignore letter case")
    how.add_argument(
        "-w", "--word-regexp", action="store_true", help="match whole words only (not inside longer words)"
    )
    how.add_argument(
        "--binary",
        choices=("skip", "text"),
        default="skip",
        help="what to do with binary files: skip them (default) or search them as text",
    )
    how.add_argument("-a", "--text", action="store_true", help="same as --binary text")
    how.add_argument(
        "--glob",
        metavar="GLOB",
        action="append",
        default=[],
        help="search only files matching GLOB ('*.py', 'src/**/*.c'); '!GLOB' leaves files out; repeatable",
    )
    add_jobs_option(
        how, "workers searching files (default: %(default)s; one process per core at most on local trees)"
    )
    shown = parser.add_argument_group("what to show")
    shown.add_argument(
        "-l", "--files-with-matches", action="store_true", help="print only names of files that match"
    )
    shown.add_argument("-c", "--count", action="store_true", help="print each file's count of matching lines")
    shown.add_argument("-n", "--line-number", action="store_true", help="print the line number of each line")
    shown.add_argument(
        "-A", "--after-context", metavar="NUM", type=int, default=0, help="print NUM lines after"
    )
    shown.add_argument(
        "-B", "--before-context", metavar="NUM", type=int, default=0, help="print NUM lines before"
    )
    shown.add_argument("-C", "--context", metavar="NUM", type=int, help="print NUM lines before and after")
    add_filter_options(parser)
    add_output_options(parser)
    add_remote_options(parser)
    parser.set_defaults(run=run)


def options_from_args(args: argparse.Namespace) -> GrepOptions:
    """Return the grep options the user asked for, or raise UsageError."""
    if args.files_with_matches and args.count:
        raise UsageError("-l and -c cannot be used together")
    before = args.before_context if args.context is None else args.context
    after = args.after_context if args.context is None else args.context
    if min(before, after) < 0:
        raise UsageError("context line counts must not be negative")
    jobs = jobs_from_args(args)
    mode = GrepMode.LINES
    if args.files_with_matches:
        mode = GrepMode.FILES
    elif args.count:
        mode = GrepMode.COUNT
    for glob in args.glob:
        problem = glob_problem(glob[1:] if glob.startswith("!") else glob, backslash_escapes=True)
        if problem is not None:
            raise UsageError(f"bad --glob pattern {glob!r}: {problem}")
    pattern = GrepPattern(
        args.pattern,
        fixed=args.fixed_strings,
        ignore_case=args.ignore_case,
        whole_word=args.word_regexp,
    )
    return GrepOptions(
        pattern=pattern,
        mode=mode,
        before=before,
        after=after,
        search_binary=args.text or args.binary == "text",
        globs=compile_globs(args.glob),
        scan=scan_options_from_args(args),
        jobs=jobs,
    )


def run(args: argparse.Namespace) -> int:
    """Search the trees and print the results; return the exit code."""
    options = options_from_args(args)
    matcher = compile_matcher(options.pattern)
    if _greps_locally(args, options):
        return _run_local(args, options)
    return _run_through_backends(args, options, matcher)


def is_remote_url(location: str) -> bool:
    """Tell whether location names a remote tree by URL (the URL parser is imported only for one)."""
    if "://" not in location:
        return False
    from dirkit.backends.urls import is_remote_url as names_remote_tree

    return names_remote_tree(location)


def _greps_locally(args: argparse.Namespace, options: GrepOptions) -> bool:
    """Tell whether the forked local search (ops/search/grep_local.py) gives this output exactly."""
    return (
        options.before == 0
        and options.after == 0
        and options.scan.tree_filter.is_trivial
        and not options.scan.follow_symlinks
        and not (args.json or args.quiet)
        and not style_for(sys.stdout, args.color).enabled
        and all(not is_remote_url(root) and os.path.isdir(root) for root in args.roots)
    )


def plain_renderer(root: str, mode: GrepMode, line_number: bool) -> Callable[[FileMatches], bytes]:
    """Return the uncoloured text output of one file's result, for the tree typed as root."""

    def render(result: FileMatches) -> bytes:
        if result.binary and mode is not GrepMode.COUNT:
            return b""
        shown = os.path.join(root, result.path)
        if mode is GrepMode.FILES:
            return output_bytes(shown) + b"\n" if result.match_count else b""
        if mode is GrepMode.COUNT:
            return output_bytes(f"{shown}:{result.match_count}") + b"\n"
        return grep_lines_plain(shown, result.lines, line_number)

    return render


def _run_local(args: argparse.Namespace, options: GrepOptions) -> int:
    """Search local trees in forked workers and print their output in order; return the exit code."""
    from dirkit.ops.search.find_local import FAILED, failure_of
    from dirkit.ops.search.grep_local import MATCHED, LocalGrep, grep_local

    remote_options_from_args(args)  # its options are checked even when no tree is remote
    out: BinaryIO = sys.stdout.buffer
    matched = failed = False
    workers = min(options.jobs, os.cpu_count() or 1)
    try:
        for root in args.roots:
            spec = LocalGrep(root, options, plain_renderer(root, options.mode, args.line_number), workers)
            for kind, payload in grep_local(spec):
                if kind == MATCHED:
                    matched = True
                elif kind == FAILED:
                    failed = True
                    out.flush()
                    shown, reason = failure_of(payload)
                    print(f"dirkit: {display_path(shown)}: {reason}", file=sys.stderr)
                else:
                    out.write(payload)
    finally:
        out.flush()
    if failed:
        return EXIT_ERROR
    return EXIT_OK if matched else EXIT_DIFFERENCES


def _run_through_backends(args: argparse.Namespace, options: GrepOptions, matcher: ByteMatcher) -> int:
    """Search the trees (or files) through their backends and print the results; return the exit code."""
    trees = [
        (
            root,
            open_tree(
                root
                if os.path.isdir(root) or is_remote_url(root)
                else os.path.dirname(os.path.realpath(root)),
                remote=remote_options_from_args(args),
            ),
        )
        for root in args.roots
    ]
    out: BinaryIO = sys.stdout.buffer
    style = style_for(sys.stdout, args.color)
    paint_matches = style.enabled and options.mode is GrepMode.LINES
    context = options.before > 0 or options.after > 0
    matched = False
    failed = False
    last_shown: str | None = None
    try:
        for root, backend in trees:
            whole_tree = os.path.isdir(root) or is_remote_url(root)
            results = grep_tree(backend, options)
            if not whole_tree:
                name = RelPath(os.path.basename(os.path.realpath(root)))
                results = grep_files(backend, [name], options)
            for result in results:
                if result.error is not None:
                    failed = True
                    shown = display_path(os.path.join(root, result.path) if whole_tree else root)
                    sys.stdout.flush()
                    out.flush()
                    print(f"dirkit: {shown}: {result.error}", file=sys.stderr)
                    continue
                if result.match_count:
                    matched = True
                    if args.quiet:
                        return EXIT_OK
                if args.quiet or (result.binary and options.mode is not GrepMode.COUNT):
                    continue
                shown_path = os.path.join(root, result.path) if whole_tree else root
                if options.mode is GrepMode.FILES:
                    if not result.match_count:
                        continue
                    text = path_json(shown_path) if args.json else style.paint(shown_path, "magenta")
                    out.write(output_bytes(text) + b"\n")
                elif options.mode is GrepMode.COUNT:
                    text = (
                        grep_count_json(shown_path, result.match_count)
                        if args.json
                        else f"{shown_path}:{result.match_count}"
                    )
                    out.write(output_bytes(text) + b"\n")
                else:
                    if context and last_shown not in (None, result.path) and result.lines and not args.json:
                        out.write(output_bytes(style.paint("--", "cyan")) + b"\n")
                    if result.lines:
                        last_shown = result.path
                    if not args.json and not style.enabled:
                        out.write(grep_lines_plain(shown_path, result.lines, args.line_number))
                        continue
                    pieces: list[str] = []
                    for line in result.lines:
                        if args.json:
                            if line.number:
                                pieces.append(grep_line_json(shown_path, line))
                            continue
                        spans = match_spans(matcher, line.text) if paint_matches else ()
                        pieces.append(grep_line_text(shown_path, line, args.line_number, style, spans))
                    out.write(output_bytes("\n".join(pieces)) + b"\n" if pieces else b"")
    finally:
        out.flush()
        for _, backend in trees:
            backend.close()
    if failed:
        return EXIT_ERROR
    return EXIT_OK if matched else EXIT_DIFFERENCES
