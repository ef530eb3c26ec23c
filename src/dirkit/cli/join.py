"""`dirkit join PARTS`: put split parts back together, checking each part and the whole."""

from __future__ import annotations

import argparse

from dirkit.cli.common import add_summary_options, write_lines
from dirkit.errors import EXIT_OK
from dirkit.ops.files.join import JoinOptions, join_parts
from dirkit.report.files import join_json, join_text

DESCRIPTION = """\
Join the parts made by `dirkit split` back into the original file. PARTS is the folder
that holds them or the NAME.parts.json manifest itself.

Before writing anything, join checks that every part named by the manifest is there and
of the recorded size; while copying it checks each part's BLAKE3 digest, and at the end
the digest of the whole. The first missing, truncated, reordered or corrupt part is named
in the error. The result is written under a temporary name and renamed into place only
when it is complete and correct, then given the original's mode and modification time
(without setuid, setgid and other-write unless --keep-modes).
An existing file is never replaced without --force.

A folder without a manifest is joined as plain parts (as made by coreutils `split`): every
visible file in it, in name order (numbers compared by value), to the file named by -o.
Plain parts cannot be checked.
"""

EPILOG = """\
exit status:
  0   the file was joined (and matched the manifest)
  2   error: a part is missing, truncated, reordered or corrupt; the output exists; bad manifest
  130 interrupted (nothing is left under the output's name)

examples:
  dirkit join /media/usb/big.iso.parts.json -o ~/big.iso
  dirkit join parts/                 # writes the original's name in the current folder
  split -b 1M data.bin x. && mkdir p && mv x.* p/ && dirkit join p -o data.bin
"""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the join command."""
    parser = commands.add_parser(
        "join",
        help="join split parts back into one file, checking every part",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("parts", metavar="PARTS", help="the folder of parts, or the parts manifest")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the file to write, or a folder to write the original's name in (default: current folder)",
    )
    parser.add_argument("-f", "--force", action="store_true", help="replace the output if it exists")
    parser.add_argument(
        "--keep-modes",
        action="store_true",
        help="apply the manifest's mode as it is, setuid, setgid and other-write included",
    )
    add_summary_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Join the parts and report the result; return the exit code."""
    result = join_parts(
        args.parts, JoinOptions(output=args.output, force=args.force, keep_modes=args.keep_modes)
    )
    if args.quiet:
        return EXIT_OK
    write_lines([join_json(result) if args.json else join_text(result)])
    return EXIT_OK
