"""`dirkit unpack ARCHIVE DEST`: extract an archive safely; `--list` shows it and what would be refused."""

from __future__ import annotations

import argparse

from dirkit.cli.common import add_summary_options, write_lines
from dirkit.cli.remote_options import add_remote_options, remote_options_from_args
from dirkit.cli.runs import journaled, stop_on_signals
from dirkit.core.archive.safety import DEFAULT_MAX_MEMBERS, DEFAULT_MAX_RATIO
from dirkit.core.sizes import parse_byte_count
from dirkit.errors import EXIT_DIFFERENCES, EXIT_OK, UsageError
from dirkit.ops.archive.members import list_archive
from dirkit.ops.archive.unpack import UnpackOptions, unpack_archive
from dirkit.report.archive import member_json, member_text, unpack_json, unpack_text

DESCRIPTION = """\
Extract ARCHIVE (zip, tar, tar.gz, tar.bz2, tar.xz, tar.zst; the format is read from its
first bytes) into DEST, which is created if missing; DEST may be an ftp://, ftps:// or sftp:// URL
(docs/remote.md). With --list, show the members and
what unpack would refuse, and write nothing.

Safe by default. Every member is checked before anything gets its final name, and the whole archive
is refused when a member has an absolute path or '..' in it, is a symlink leading outside
DEST (also through other links), would be written through a symlink, is a device or other
special file, has the setuid or setgid bit, or writes into dirkit's .dirkit/ folder.
Extraction also stops, and removes what it wrote, past --max-size bytes (default: the
free space on DEST's filesystem, where its backend tells it: local disk and SFTP), past
--max-files members, or when the archive expands more than --max-ratio times its own size
(a zip bomb). Every file is written under a temporary name and renamed into place only when
complete; a tar into a new or empty local DEST is read once, into a staging folder inside
DEST whose top-level entries are renamed into place at the end. On a DEST that cannot hold
symlinks (FTP) an archive with symlinks is refused.

Every unpack is journaled as a run on DEST, like a mirror: 'dirkit undo DEST' removes
what it created. Existing files are never replaced unless --overwrite; then each one is
moved to DEST/.dirkit/backups/RUN-ID/ (same relative path) only once its new content is
complete, and undo puts every replaced file back byte for byte, leaving alone (as a
conflict) any file changed since. An unpack that stops once something has its final name
is rolled back and stays in the journal as an interrupted run.
unpack-record.json in the backup folder also lists what was backed up and created.
File modes are restored without setuid/setgid; owners are not.
"""

EPILOG = """\
exit status:
  0   the archive was extracted (or --list: every member is acceptable)
  1   --list only: some members would be refused (they are marked)
  2   error: an unsafe member, a limit reached, an existing file without --overwrite,
      a damaged archive (nothing is left behind)
  130 interrupted (what was written is removed)

examples:
  dirkit unpack --list download.zip
  dirkit unpack release.tar.gz ~/src/release
  dirkit unpack site.tar.gz sftp://web.example.org/var/www/site
  dirkit unpack --overwrite --max-size 20G backup.tar.zst /srv/data
  dirkit undo /srv/data      (after --overwrite: put back what it replaced)
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the unpack command."""
    parser = commands.add_parser(
        "unpack",
        help="extract an archive safely (or --list it)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("archive", metavar="ARCHIVE", help="the archive to read")
    parser.add_argument("dest", metavar="DEST", nargs="?", help="the folder to extract into")
    parser.add_argument("-l", "--list", action="store_true", help="list the members; write nothing")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing files, moving each to DEST/.dirkit/backups/RUN-ID/ first (undoable)",
    )
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--max-size",
        metavar="SIZE",
        help="stop past SIZE bytes written (100M, 20G; default: DEST's free space)",
    )
    limits.add_argument(
        "--max-ratio",
        metavar="N",
        type=float,
        default=DEFAULT_MAX_RATIO,
        help="stop when the archive expands more than N times its size (default: %(default)g)",
    )
    limits.add_argument(
        "--max-files",
        metavar="N",
        type=int,
        default=DEFAULT_MAX_MEMBERS,
        help="stop past N members (default: %(default)s)",
    )
    add_summary_options(parser, json_help="print JSON (one line per member with --list)")
    add_remote_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """List or extract the archive; return the exit code."""
    if args.list:
        if args.dest is not None:
            raise UsageError("--list takes only ARCHIVE")
        return _run_list(args)
    if args.dest is None:
        raise UsageError("name the DEST folder to extract into (or use --list)")
    if args.max_ratio <= 1:
        raise UsageError("--max-ratio must be more than 1")
    if args.max_files < 1:
        raise UsageError("--max-files must be at least 1")
    options = UnpackOptions(
        overwrite=args.overwrite,
        max_total_bytes=parse_byte_count(args.max_size) if args.max_size is not None else None,
        max_ratio=args.max_ratio,
        max_members=args.max_files,
        remote=remote_options_from_args(args),
    )
    with journaled() as journal, stop_on_signals() as stop:
        result = unpack_archive(args.archive, args.dest, options, journal, stop)
    if args.quiet:
        return EXIT_OK
    write_lines([unpack_json(result)] if args.json else unpack_text(result))
    return EXIT_OK


def _run_list(args: argparse.Namespace) -> int:
    refused = 0
    render = member_json if args.json else member_text
    for listed in list_archive(args.archive):
        refused += listed.refusal is not None
        if not args.quiet:
            write_lines([render(listed.member, listed.refusal)])
    return EXIT_DIFFERENCES if refused else EXIT_OK
