"""Options shared by several commands, each defined once here, and turning them into ops values."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

from dirkit.core.compare.sameness import NS_PER_SECOND
from dirkit.core.tree.filters import TreeFilter, make_filter
from dirkit.errors import UsageError
from dirkit.ops.tree.scan import ScanOptions
from dirkit.report.style import Style

if TYPE_CHECKING:
    from dirkit.core.run.guards import GuardOptions

ArgumentGroup = argparse._ActionsContainer
"""Where an option goes: a parser, or one of its help groups."""

QUIET_HELP = "print nothing; use the exit code"


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    """Add --exclude, --exclude-from, --gitignore and --follow-symlinks."""
    group = parser.add_argument_group("what to leave out")
    group.add_argument(
        "--exclude",
        metavar="PATTERN",
        action="append",
        default=[],
        help="leave out paths matching PATTERN (gitignore syntax: '*.tmp', 'build/', '/top'); repeatable",
    )
    group.add_argument(
        "--exclude-from",
        metavar="FILE",
        action="append",
        default=[],
        help="read exclude patterns from FILE, one per line ('#' starts a comment)",
    )
    group.add_argument(
        "--gitignore",
        action="store_true",
        help="honour .gitignore files inside the trees (git's rules) and skip .git/ folders",
    )
    group.add_argument(
        "--follow-symlinks",
        action="store_true",
        help="follow symlinks to files and directories (loops are detected and reported)",
    )


def add_json_option(group: ArgumentGroup, help: str = "print JSON Lines for scripts") -> None:
    """Add --json."""
    group.add_argument("--json", action="store_true", help=help)


def add_quiet_option(group: ArgumentGroup, help: str = QUIET_HELP) -> None:
    """Add -q/--quiet."""
    group.add_argument("-q", "--quiet", action="store_true", help=help)


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """Add --json, --color, -q and -v."""
    group = parser.add_argument_group("output")
    add_json_option(group)
    group.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text output (default: auto, only on a terminal)",
    )
    add_quiet_option(group)
    group.add_argument("-v", "--verbose", action="count", default=0, help="say more")


def add_summary_options(parser: argparse.ArgumentParser, json_help: str = "print the result as JSON") -> None:
    """Add --json and -q for a command that prints one summary of what it did."""
    add_json_option(parser, json_help)
    add_quiet_option(parser)


def add_jobs_option(group: ArgumentGroup, help: str, default: int | None = None) -> None:
    """Add -j/--jobs, defaulting to default (else default_jobs()); read it with jobs_from_args."""
    chosen = default_jobs() if default is None else default
    group.add_argument("-j", "--jobs", type=int, default=chosen, help=help)


def jobs_from_args(args: argparse.Namespace) -> int:
    """Return the --jobs asked for, or raise UsageError for one below 1."""
    jobs: int = args.jobs
    if jobs < 1:
        raise UsageError("--jobs must be at least 1")
    return jobs


def add_dry_run_option(group: ArgumentGroup, help: str = "print the plan and change nothing") -> None:
    """Add -n/--dry-run."""
    group.add_argument("-n", "--dry-run", action="store_true", help=help)


def add_guard_options(group: ArgumentGroup, force_help: str) -> None:
    """Add --max-delete and --force; read them with guards_from_args."""
    group.add_argument(
        "--max-delete",
        metavar="N|PCT",
        default="50%",
        help="refuse if the plan deletes more than N files or PCT%% of DST's files (default: 50%%)",
    )
    group.add_argument("--force", action="store_true", help=force_help)


def guards_from_args(args: argparse.Namespace) -> GuardOptions:
    """Return the guards asked for, or raise UsageError for a bad --max-delete."""
    from dirkit.core.run.guards import GuardOptions, parse_delete_limit  # only the commands that write

    return GuardOptions(parse_delete_limit(args.max_delete), args.force)


def add_keep_backups_option(group: ArgumentGroup, help: str, default: int) -> None:
    """Add --keep-backups N."""
    group.add_argument("--keep-backups", metavar="N", type=int, default=default, help=help)


def add_modify_window_option(group: ArgumentGroup, help: str) -> None:
    """Add --modify-window SECONDS; read it with modify_window_ns_from_args."""
    group.add_argument("--modify-window", metavar="SECONDS", type=float, default=0.0, help=help)


def modify_window_ns_from_args(args: argparse.Namespace) -> int:
    """Return --modify-window in whole nanoseconds, or raise UsageError for a negative one."""
    seconds: float = args.modify_window
    if seconds < 0:
        raise UsageError("--modify-window must not be negative")
    return round(seconds * NS_PER_SECOND)


def read_exclude_files(paths: list[str]) -> list[str]:
    """Return the patterns of every exclude file, or raise UsageError naming an unreadable one."""
    patterns: list[str] = []
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as stream:
                patterns.extend(line.rstrip("\n") for line in stream)
        except OSError as error:
            raise UsageError(f"{path}: cannot read exclude file: {error.strerror}") from error
    return patterns


def exclude_patterns_from_args(args: argparse.Namespace) -> tuple[str, ...]:
    """Return the --exclude patterns, then those of every --exclude-from file."""
    return tuple(args.exclude) + tuple(read_exclude_files(args.exclude_from))


def filter_from_args(args: argparse.Namespace) -> TreeFilter:
    """Return the tree filter the user asked for."""
    return make_filter(exclude_patterns_from_args(args), use_gitignore=args.gitignore)


def scan_options_from_args(args: argparse.Namespace) -> ScanOptions:
    """Return the scan options the user asked for."""
    return ScanOptions(tree_filter=filter_from_args(args), follow_symlinks=args.follow_symlinks)


def style_for(stream: TextIO, choice: str) -> Style:
    """Return colour on when asked, or when auto and stream is a terminal without NO_COLOR."""
    if choice == "always":
        return Style(True)
    if choice == "never" or os.environ.get("NO_COLOR"):
        return Style(False)
    return Style(stream.isatty())


def default_jobs() -> int:
    """Return the default number of parallel workers for I/O-bound work."""
    return max(4, min(16, (os.cpu_count() or 2) * 4))


def write_lines(lines: Iterable[str], stream: TextIO | None = None) -> None:
    """Write each line to stream (standard output by default)."""
    target = stream or sys.stdout
    for line in lines:
        target.write(f"{line}\n")


def add_html_options(group: ArgumentGroup, what: str) -> None:
    """Add --html FILE and --open; write the page with cli.html_report.write_html_report."""
    group.add_argument(
        "--html",
        metavar="FILE",
        help=f"also write {what} as one self-contained HTML page to FILE (see docs/html-report.md)",
    )
    group.add_argument("--open", action="store_true", help="open the --html page in a web browser")
