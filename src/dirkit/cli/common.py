"""Options shared by several commands, and turning them into ops values."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from typing import TextIO

from dirkit.core.tree.filters import TreeFilter, make_filter
from dirkit.errors import UsageError
from dirkit.ops.tree.scan import ScanOptions
from dirkit.report.style import Style


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


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """Add --json, --color, -q and -v."""
    group = parser.add_argument_group("output")
    group.add_argument("--json", action="store_true", help="print JSON Lines for scripts")
    group.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text output (default: auto, only on a terminal)",
    )
    group.add_argument("-q", "--quiet", action="store_true", help="print nothing; use the exit code")
    group.add_argument("-v", "--verbose", action="count", default=0, help="say more")


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


def filter_from_args(args: argparse.Namespace) -> TreeFilter:
    """Return the tree filter the user asked for."""
    patterns = list(args.exclude) + read_exclude_files(args.exclude_from)
    return make_filter(patterns, use_gitignore=args.gitignore)


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
