"""`dirkit serve [TREE...]`: a local web page to compare trees, review a mirror or sync plan, apply, undo."""

from __future__ import annotations

import argparse
import sys

from dirkit.cli.remote_options import add_remote_options, remote_options_from_args
from dirkit.errors import EXIT_OK, UsageError

DESCRIPTION = """\
Start a small web server on this machine and open its page in a browser. The page lets you
pick two trees (paths or ftp:// and ftps:// URLs; TREE arguments fill them in), see how they
differ (the tree view of the HTML report, with the diffs of changed text files), review the
plan that would mirror the left tree onto the right one, or sync the two both ways (each
conflict listed, never applied), step by step, apply it with a live progress bar, list the runs
on either tree and their backups, undo a run (a sync on both sides), and restore one file from
a run's backups.

Every change goes through the same plan, executor, journal and one-run lock as the command
line: a run started on the page is a run like 'dirkit mirror' or 'dirkit sync' starts (a sync
plan is applied only if neither tree changed since its review), 'dirkit undo' can revert
it, and a second run on the same tree is refused with the same message. Work runs in the
background: closing the tab does not stop a run.

The server listens on 127.0.0.1 and a free port by default. It prints its address with a
random token; every request must carry the token (403 otherwise), changes must be POSTs from
the page itself (a CSRF token and the Origin are checked), and the Host header must name the
server (a rebound DNS name is refused). See docs/serve.md for the security model.
Ctrl-C stops the server; a run under way finishes its current steps and is journaled.
"""

EPILOG = """\
exit status:
  0   never (the server runs until stopped)
  2   error: the address cannot be bound, or a bad option
  130 stopped (SIGINT or SIGTERM)

examples:
  dirkit serve
  dirkit serve ~/photos /mnt/backup/photos
  dirkit serve --no-open --port 8765 ~/photos /mnt/backup/photos
"""

LOOPBACK = "127.0.0.1"
WILDCARDS = ("", "0.0.0.0", "::")
"""Addresses that listen everywhere: refused, since requests must name the one address served."""


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the serve command."""
    parser = commands.add_parser(
        "serve",
        help="a local web page: compare, review and apply a plan, undo",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("trees", metavar="TREE", nargs="*", help="trees to fill in: the left, then the right")
    parser.add_argument(
        "--bind",
        metavar="ADDR",
        default=LOOPBACK,
        help="the address to listen on (default %(default)s; anything else is reachable by other "
        "machines and is warned about)",
    )
    parser.add_argument(
        "--port", metavar="N", type=int, default=0, help="the port to listen on (default: a free one)"
    )
    parser.add_argument("--no-open", action="store_true", help="print the address but open no browser")
    add_remote_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve the page until interrupted (KeyboardInterrupt reaches main, which exits 130)."""
    from dirkit.web.server import serve_until_stopped, start_server

    if len(args.trees) > 2:
        raise UsageError("serve takes at most two trees: the left, then the right")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: not a port number (0 to 65535; 0 picks a free one)")

    def warn(text: str) -> None:
        print(f"dirkit: warning: {text}", file=sys.stderr)

    if args.bind in WILDCARDS:
        raise UsageError(
            f"--bind {args.bind}: give the one address the page will be opened at "
            "(the Host header of every request is checked against it)"
        )
    remote = remote_options_from_args(args)
    try:
        server = start_server(args.trees, remote, args.bind, args.port)
    except OSError as error:
        raise UsageError(
            f"{args.bind}:{args.port}: cannot listen there: {error.strerror or error}"
        ) from error
    if args.bind not in (LOOPBACK, "localhost", "::1"):
        warn(f"--bind {args.bind}: other machines can reach this server; only the token keeps them out")
    url = server.url()
    print(f"dirkit serve: {url}", flush=True)
    print("Ctrl-C stops the server", file=sys.stderr, flush=True)
    if not args.no_open:
        import webbrowser

        webbrowser.open(url)
    serve_until_stopped(server)
    return EXIT_OK
