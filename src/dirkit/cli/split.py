"""`dirkit split FILE`: cut a file (or standard input) into numbered parts plus a parts manifest."""

from __future__ import annotations

import argparse
import sys

from dirkit.cli.common import add_summary_options, write_lines
from dirkit.core.sizes import parse_byte_count
from dirkit.errors import EXIT_OK
from dirkit.ops.files.split import SplitOptions, split_file
from dirkit.report.files import split_json, split_text

DESCRIPTION = """\
Cut FILE into parts NAME.part0001, NAME.part0002, ... (the number grows wider past 9999)
and write a small parts manifest NAME.parts.json beside them: the original's name, size,
mode and modification time, and the BLAKE3 digest of the whole and of every part.
`dirkit join` checks all of these before it puts anything back together.

The file is read once, in constant memory. FILE '-' reads standard input (then only
--size works, and --name names the original). Each part is written under a temporary
name and renamed when complete; existing parts or manifest are never replaced without
--force. If anything fails, the parts written so far are removed.
"""

EPILOG = """\
exit status:
  0   all parts and the manifest were written
  2   error (FILE unreadable, bad size, parts already exist, output folder cannot be made)
  130 interrupted (the parts written so far are removed)

examples:
  dirkit split --size 100M big.iso -o /media/usb
  dirkit split --parts 3 backup.tar
  pg_dump db | dirkit split --size 1G --name db.sql - -o parts/
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the split command."""
    parser = commands.add_parser(
        "split",
        help="cut a file into numbered parts with a checked manifest",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="the file to split, or '-' for standard input")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "-s",
        "--size",
        metavar="SIZE",
        help="bytes per part: 100M, 1.5G, 650MB, 4096 (K/M/G/T are powers of 1024, KB/MB/GB of 1000)",
    )
    how.add_argument("-n", "--parts", metavar="N", type=int, help="cut into N parts of near-equal size")
    parser.add_argument(
        "-o", "--output-dir", metavar="DIR", help="folder for the parts, made if missing (default: FILE's)"
    )
    parser.add_argument("--name", help="the original's name in part names (default: FILE's name)")
    parser.add_argument("-f", "--force", action="store_true", help="replace existing parts and manifest")
    add_summary_options(parser, json_help="print the manifest's path and summary as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Split the file and report where the parts went; return the exit code."""
    options = SplitOptions(
        part_size=parse_byte_count(args.size) if args.size is not None else None,
        part_count=args.parts,
        output_dir=args.output_dir,
        name=args.name,
        force=args.force,
    )
    result = split_file(args.file, options, stdin=sys.stdin.buffer)
    if args.quiet:
        return EXIT_OK
    if args.json:
        write_lines([split_json(result.manifest_path, result.manifest)])
    else:
        write_lines(split_text(result.manifest_path, result.manifest))
    return EXIT_OK
