"""Open a tree from what the user typed: a local path, or an ftp:// or ftps:// URL."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from dirkit.backends.local import LocalBackend
from dirkit.backends.protocol import Backend
from dirkit.errors import NotFoundError, UsageError, translate_os_error

REMOTE_SCHEMES = ("ftp://", "ftps://", "sftp://")
FTP_SCHEMES = ("ftp://", "ftps://")
_warning_sinks: list[Callable[[str], None]] = []


def send_warnings_to(sink: Callable[[str], None]) -> None:
    """Give warnings about how a tree was opened (a password in its URL) to sink; the CLI prints them."""
    _warning_sinks[:] = [sink]


def open_tree(location: str, must_exist: bool = True, create: bool = False) -> Backend:
    """Return a backend for a path or URL; raise TreeNotFoundError if a required root is missing.

    With create, a missing root folder on a server is made (local roots are made by their caller).
    """
    if location.lower().startswith(FTP_SCHEMES):
        return open_ftp_tree(location, create)
    if location.startswith(REMOTE_SCHEMES):
        scheme = location.split(":", 1)[0]
        raise UsageError(f"{location}: {scheme}:// trees are not supported by this version yet")
    if "://" in location.split("/", 1)[0] + "/":
        raise UsageError(f"{location}: unknown URL scheme")
    return LocalBackend(location, must_exist=must_exist)


def open_ftp_tree(location: str, create: bool = False) -> Backend:
    """Return the FTP backend for an ftp:// or ftps:// URL, logged in with the credentials found for it.

    TLS options come from DIRKIT_CA_FILE, DIRKIT_INSECURE_TLS=1 and DIRKIT_IMPLICIT_TLS=1; the pool
    size from DIRKIT_CONNECTIONS.
    """
    from dirkit.backends.ftp import FtpBackend
    from dirkit.backends.ftp_session import DEFAULT_CONNECTIONS, TlsOptions
    from dirkit.backends.urls import find_login, parse_remote_url

    parsed = parse_remote_url(location)
    import getpass

    prompt = getpass.getpass if sys.stdin.isatty() else None
    login = find_login(parsed, os.environ, prompt)
    tls = TlsOptions(
        ca_file=os.environ.get("DIRKIT_CA_FILE") or None,
        insecure=os.environ.get("DIRKIT_INSECURE_TLS") == "1",
        implicit=os.environ.get("DIRKIT_IMPLICIT_TLS") == "1",
    )
    connections = os.environ.get("DIRKIT_CONNECTIONS", "")
    size = int(connections) if connections.isdigit() and int(connections) > 0 else DEFAULT_CONNECTIONS
    backend = FtpBackend(parsed, login, tls=tls, connections=size, create=create)
    for warning in login.warnings:
        for sink in _warning_sinks:
            sink(warning)
    return backend


def open_mirror_target(location: str, create: bool) -> Backend:
    """Return the target tree; a missing directory is created when create, else planned as empty."""
    if location.startswith(REMOTE_SCHEMES):
        return open_tree(location, create=create)
    if os.path.isdir(location):
        return open_tree(location)
    if os.path.lexists(location):
        return open_tree(location)
    if not create:
        from dirkit.backends.memory import AbsentTree

        return AbsentTree(location)
    try:
        os.mkdir(location, 0o777)
    except FileNotFoundError as error:
        absolute = os.path.abspath(location)
        reason = f"cannot create it: its parent folder {os.path.dirname(absolute)} does not exist"
        raise NotFoundError(error.errno, reason, absolute) from error
    except OSError as error:
        raise translate_os_error(error, os.path.abspath(location)) from error
    return open_tree(location)
