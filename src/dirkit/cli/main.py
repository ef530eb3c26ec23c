"""The `dirkit` entry point: builds the parser from each command's module and maps errors to exits."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from dirkit import __version__
from dirkit.cli import apply, backups, compare, demo, mirror, undo
from dirkit.errors import EXIT_ERROR, EXIT_INTERRUPTED, DirkitError
from dirkit.report.messages import describe_error

COMMAND_MODULES = (compare, demo, mirror, apply, undo, backups)

DESCRIPTION = """\
dirkit works on whole directory trees: compare them, and (in later versions) mirror, sync,
search, verify, split and pack them. Every command that changes anything shows its plan first.
"""

EPILOG = """\
exit status: 0 ok; 1 differences found (compare) or finished with item failures; 2 error;
130 interrupted. Run 'dirkit COMMAND --help' for the options of one command.
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every command registered."""
    parser = argparse.ArgumentParser(
        prog="dirkit",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dirkit {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run dirkit with argv (default: the process arguments) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return run(args)
    except DirkitError as error:
        print(f"dirkit: {describe_error(error)}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("dirkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        sys.stderr.close()
        return EXIT_ERROR
    except OSError as error:
        print(f"dirkit: {describe_error(error)}", file=sys.stderr)
        return EXIT_ERROR
