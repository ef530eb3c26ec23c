"""The `dirkit` entry point: builds the parser from each command's module and maps errors to exits."""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType

from dirkit import __version__
from dirkit.errors import EXIT_ERROR, EXIT_INTERRUPTED, DirkitError
from dirkit.report.messages import describe_error

COMMANDS: dict[str, tuple[str, str]] = {
    "compare": ("dirkit.cli.compare", "show how two trees differ"),
    "mirror": ("dirkit.cli.mirror", "make DST an exact copy of SRC (with backups and undo)"),
    "sync": ("dirkit.cli.sync", "keep two trees in step both ways, conflicts never overwritten"),
    "apply": ("dirkit.cli.apply", "apply a saved plan exactly, if the trees still fit it"),
    "undo": ("dirkit.cli.undo", "revert the last run on a tree (or --run ID)"),
    "backups": ("dirkit.cli.backups", "list the backups of the runs on a tree, or prune old ones"),
    "find": ("dirkit.cli.find", "list the paths that meet criteria on name, kind, size and time"),
    "grep": ("dirkit.cli.grep", "find the lines of files that match a pattern"),
    "dupes": ("dirkit.cli.dupes", "find files with identical content"),
    "manifest": ("dirkit.cli.manifest", "write a b3sum/sha256sum checksum file of a tree"),
    "verify": (
        "dirkit.cli.verify",
        "check a tree against a checksum file (b3sum, sha256sum, md5sum, sha1sum)",
    ),
    "split": ("dirkit.cli.split", "cut a file into numbered parts with a checked manifest"),
    "join": ("dirkit.cli.join", "join split parts back into one file, checking every part"),
    "pack": ("dirkit.cli.pack", "pack a tree into a zip or tar archive"),
    "unpack": ("dirkit.cli.unpack", "extract an archive safely (or --list it)"),
    "regress": ("dirkit.cli.regress", "check scripts' output and written trees against saved results"),
    "serve": ("dirkit.cli.serve", "a local web page: compare, review and apply a plan, undo"),
    "demo": ("dirkit.cli.demo", "make two sample trees and compare them"),
}
"""Each command's module (with add_parser and run) and its one-line help, in help order.

Only the module of the command being run is imported, so startup stays fast as commands grow.
"""

DESCRIPTION = """\
dirkit works on whole directory trees: compare them, mirror one onto another without losing a
byte (every run is planned, journaled, backed up and undoable), search them, check them against
checksum manifests, split and join files, and pack trees into archives safely.
"""

EPILOG = """\
exit status: 0 ok; 1 differences found (compare) or finished with item failures; 2 error;
130 interrupted; 141 output cut off (the reader of a pipe went away, as with `| head`).
Run 'dirkit COMMAND --help' for the options of one command.
"""


EXIT_BROKEN_PIPE = 128 + 13
"""The status a shell reports for a command killed by SIGPIPE (13): output was cut off by its reader."""


def chosen_command(argv: Sequence[str]) -> str | None:
    """Return the command named in argv (the first word that is not an option), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Return the argument parser; the full options of the command named in argv (or all)."""
    chosen = chosen_command(argv) if argv is not None else None
    every = argv is None
    """Without argv, every command's full parser; with argv but no command (--help, --version), the
    summaries in COMMANDS are all that is shown, so no command module is imported."""
    parser = argparse.ArgumentParser(
        prog="dirkit",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"dirkit {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name, (module_name, summary) in COMMANDS.items():
        if every or chosen == name:
            importlib.import_module(module_name).add_parser(commands)
        else:
            commands.add_parser(name, help=summary)
    return parser


def raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into KeyboardInterrupt, so that it stops a command the way Ctrl-C does."""
    raise KeyboardInterrupt


@contextlib.contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM interrupts like Ctrl-C (clean-up runs, exit status 130)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Run dirkit with argv (default: the process arguments) and return the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    collecting = gc.isenabled()
    gc.disable()  # start-up builds many objects and no garbage cycles: collections there are waste
    try:
        parser = build_parser(arguments)
        args = parser.parse_args(arguments)
    finally:
        if collecting:
            if argv is None:  # a process of its own (not a call from a program or a test)
                gc.freeze()  # what start-up made lives on: later collections (and forked workers) skip it
            gc.enable()
    args.command_line = tuple(arguments)
    run: Callable[[argparse.Namespace], int] | None = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        with interrupt_on_sigterm():
            code = run(args)
            sys.stdout.flush()  # a closed pipe shows here, not in Python's flush at exit
            return code
    except DirkitError as error:
        print(f"dirkit: {describe_error(error)}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("dirkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly with the status a shell gives a
        # command killed by SIGPIPE, and keep Python's exit-time flush of stdout from failing again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as error:
        print(f"dirkit: {describe_error(error)}", file=sys.stderr)
        return EXIT_ERROR
