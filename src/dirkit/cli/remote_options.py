"""The options for remote trees (ftp://, ftps://, sftp://), defined once, and their RemoteOptions."""

from __future__ import annotations

import argparse
import os
import sys

from dirkit.backends.recorded_times import WrittenFiles
from dirkit.backends.trees import DEFAULT_CONNECTIONS, RemoteOptions
from dirkit.errors import UsageError

ENVIRONMENT_DEFAULTS = {
    "ca_file": "DIRKIT_CA_FILE",
    "insecure": "DIRKIT_INSECURE_TLS",
    "implicit_tls": "DIRKIT_IMPLICIT_TLS",
    "connections": "DIRKIT_CONNECTIONS",
}
"""The environment variable that gives each option its default when the flag is not used."""


def add_remote_options(parser: argparse.ArgumentParser) -> None:
    """Add the options that say how ftp://, ftps:// and sftp:// trees are reached."""
    group = parser.add_argument_group("remote trees (ftp://, ftps://, sftp://; see docs/remote.md)")
    group.add_argument(
        "--connections",
        metavar="N",
        type=int,
        default=None,
        help=f"open at most N connections per remote tree (default {DEFAULT_CONNECTIONS}, "
        "or $DIRKIT_CONNECTIONS; a server's 421 'too many connections' lowers it)",
    )
    group.add_argument(
        "--ca-file",
        metavar="FILE",
        default=None,
        help="trust the certificates in this PEM file for FTPS (a self-signed server); "
        "default $DIRKIT_CA_FILE, else the system's store",
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        default=None,
        help="FTPS: do not check the server's certificate or host name (still encrypted, but anyone "
        "on the path can pose as the server); also $DIRKIT_INSECURE_TLS=1",
    )
    group.add_argument(
        "--implicit-tls",
        action="store_true",
        default=None,
        help="FTPS: speak TLS from the first byte (implicit FTPS; the default on port 990); "
        "also $DIRKIT_IMPLICIT_TLS=1",
    )
    group.add_argument(
        "--accept-new-host-key",
        action="store_true",
        help="SFTP: trust and add to ~/.ssh/known_hosts the key of a host not seen before, like "
        "ssh's StrictHostKeyChecking=accept-new (a changed key is still refused)",
    )


def remote_options_from_args(args: argparse.Namespace) -> RemoteOptions:
    """Return the RemoteOptions the flags (or, without a flag, the environment) ask for."""
    connections = getattr(args, "connections", None)
    if connections is None:
        text = os.environ.get(ENVIRONMENT_DEFAULTS["connections"], "")
        if text and not text.isdigit():
            raise UsageError(f"DIRKIT_CONNECTIONS={text!r}: not a whole number")
        connections = int(text) if text else DEFAULT_CONNECTIONS
    if connections < 1:
        raise UsageError(f"--connections {connections}: must be at least 1")
    ca_file = getattr(args, "ca_file", None) or os.environ.get(ENVIRONMENT_DEFAULTS["ca_file"]) or None
    insecure = getattr(args, "insecure", None)
    implicit_tls = getattr(args, "implicit_tls", None)
    return RemoteOptions(
        ca_file=ca_file,
        insecure=bool(insecure) or os.environ.get(ENVIRONMENT_DEFAULTS["insecure"]) == "1",
        implicit_tls=bool(implicit_tls) or os.environ.get(ENVIRONMENT_DEFAULTS["implicit_tls"]) == "1",
        connections=connections,
        accept_new_host_keys=bool(getattr(args, "accept_new_host_key", False)),
        on_warning=print_warning,
        written_files=open_written_files,
    )


def print_warning(text: str) -> None:
    """Print one warning about how a tree was opened to stderr."""
    print(f"dirkit: warning: {text}", file=sys.stderr)


def open_written_files() -> WrittenFiles:
    """Return the state database's record of uploads to servers that cannot set file times."""
    from dirkit.state.written_files import StateWrittenFiles

    return StateWrittenFiles()
