"""`dirkit pack ROOT ARCHIVE`: write a tree into a zip or tar archive, reproducibly if asked."""

from __future__ import annotations

import argparse
import os
import sys
import time

from dirkit.cli.common import add_filter_options, add_summary_options, scan_options_from_args, write_lines
from dirkit.cli.remote_options import add_remote_options, remote_options_from_args
from dirkit.core.archive.formats import SUPPORTED_SUFFIXES
from dirkit.core.tree.paths import display_path
from dirkit.errors import EXIT_DIFFERENCES, EXIT_OK, UsageError
from dirkit.ops.archive.pack import FIXED_MTIME, PackOptions, PackProgress, pack_tree
from dirkit.report.archive import pack_json, pack_text

DESCRIPTION = f"""\
Pack the tree at ROOT into ARCHIVE. The format comes from ARCHIVE's name:
{SUPPORTED_SUFFIXES}. Paths inside the archive are relative to ROOT, which may be
an ftp://, ftps:// or sftp:// URL (docs/remote.md).

Files, directories and symlinks (as links, never followed unless --follow-symlinks) are
packed with their permission bits and modification times; owners are not recorded.
Sockets, fifos and devices are left out and reported. The filters are those of compare
(--exclude, --exclude-from, --gitignore); dirkit's own .dirkit/ folders are never packed.

--reproducible makes the same tree give the same bytes: entries are sorted, every time is
set to 1980-01-01 (or $SOURCE_DATE_EPOCH), owners are 0 and compressors store no time.
The archive is written under a temporary name and renamed into place when complete; an
existing ARCHIVE is never replaced without --force. Progress shows on a terminal.
"""

EPILOG = """\
exit status:
  0   every path was packed
  1   the archive was written, but some paths were left out (unreadable or special files)
  2   error (ROOT missing, unknown format, ARCHIVE exists)
  130 interrupted (no archive is left behind)

examples:
  dirkit pack photos photos.tar.zst
  dirkit pack --reproducible --gitignore src release.tar.gz
  dirkit pack --exclude '*.tmp' --exclude cache/ project project.zip
  dirkit pack sftp://web.example.org/var/www/site site.tar.zst
"""

PROGRESS_INTERVAL_SECONDS = 0.2


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the pack command."""
    parser = commands.add_parser(
        "pack",
        help="pack a tree into a zip or tar archive",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("root", metavar="ROOT", help="the tree to pack (a directory or URL)")
    parser.add_argument("archive", metavar="ARCHIVE", help=f"the archive to write ({SUPPORTED_SUFFIXES})")
    parser.add_argument(
        "--reproducible",
        action="store_true",
        help="same tree, same bytes: sorted entries, fixed times ($SOURCE_DATE_EPOCH or 1980) and owners",
    )
    parser.add_argument("-f", "--force", action="store_true", help="replace ARCHIVE if it exists")
    add_filter_options(parser)
    add_summary_options(parser)
    add_remote_options(parser)
    parser.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="show progress on standard error (default: auto, only on a terminal)",
    )
    parser.set_defaults(run=run)


def fixed_mtime_from_environment() -> int:
    """Return $SOURCE_DATE_EPOCH when set (the reproducible-builds convention), else 1980-01-01."""
    value = os.environ.get("SOURCE_DATE_EPOCH")
    if not value:
        return FIXED_MTIME
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds") from None


class ProgressLine:
    """Rewrites one line on standard error with how far packing has come, a few times a second."""

    def __init__(self) -> None:
        self.shown_at = 0.0
        self.shown = False

    def __call__(self, progress: PackProgress) -> None:
        now = time.monotonic()
        if now - self.shown_at < PROGRESS_INTERVAL_SECONDS and progress.files_done < progress.files_total:
            return
        self.shown_at = now
        self.shown = True
        share = 100 * progress.bytes_done // max(progress.bytes_total, 1)
        sys.stderr.write(
            f"\rpacking: {progress.files_done}/{progress.files_total} files, "
            f"{progress.bytes_done >> 20}/{progress.bytes_total >> 20} MiB ({share}%)\x1b[K"
        )
        sys.stderr.flush()

    def end(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


def run(args: argparse.Namespace) -> int:
    """Pack the tree and report the result; return the exit code."""
    options = PackOptions(
        scan=scan_options_from_args(args),
        reproducible=args.reproducible,
        fixed_mtime=fixed_mtime_from_environment(),
        force=args.force,
        remote=remote_options_from_args(args),
    )
    show = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty() and not args.quiet)
    progress = ProgressLine() if show else None
    try:
        result = pack_tree(args.root, args.archive, options, progress)
    finally:
        if progress is not None:
            progress.end()
    if not args.quiet:
        for path, reason in result.skipped:
            sys.stderr.write(f"dirkit: {display_path(path)}: left out: {reason}\n")
        write_lines([pack_json(result) if args.json else pack_text(result)])
    return EXIT_DIFFERENCES if result.skipped else EXIT_OK
