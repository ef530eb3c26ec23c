"""Open a tree from what the user typed: a local path, or an ftp://, ftps:// or sftp:// URL."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from dirkit.backends.local import LocalBackend
from dirkit.backends.protocol import Backend
from dirkit.backends.recorded_times import RecordedTimesBackend, WrittenFiles
from dirkit.backends.retrying import RetryingBackend, RetryPolicy
from dirkit.errors import NotFoundError, UsageError, translate_os_error

REMOTE_SCHEMES = ("ftp://", "ftps://", "sftp://")
FTP_SCHEMES = ("ftp://", "ftps://")
SFTP_SCHEME = "sftp://"
DEFAULT_CONNECTIONS = 4
"""How many connections a remote tree opens at most, unless told otherwise."""
REMOTE_RETRY = RetryPolicy(attempts=5, first_delay_s=0.5, backoff=2.0, max_delay_s=8.0)
"""How a step on a remote tree is retried after a transient error: 5 tries, waiting 0.5, 1, 2 and 4 s."""


@dataclass(frozen=True, slots=True)
class RemoteOptions:
    """How remote trees are reached: TLS checks, host keys, the pool size, and where warnings go."""

    ca_file: str | None = None
    """A PEM file of certificates to trust for FTPS, instead of the system's."""
    insecure: bool = False
    """Skip the FTPS certificate and host name checks (the connection is still encrypted)."""
    implicit_tls: bool = False
    """Speak TLS from the first byte (as on port 990) instead of AUTH TLS."""
    connections: int = DEFAULT_CONNECTIONS
    """The most connections one tree opens at once."""
    accept_new_host_keys: bool = False
    """Trust and record the key of an SSH host not yet in known_hosts (a changed key is still refused)."""
    on_warning: Callable[[str], None] | None = None
    """Where warnings about how a tree was opened go (a password in its URL); the CLI prints them."""
    retry: RetryPolicy | None = None
    """How steps are retried after a dropped connection, a timeout or a 421 (None: REMOTE_RETRY)."""
    written_files: Callable[[], WrittenFiles] | None = None
    """Opens the record of uploads to servers that cannot set file times (the CLI: the state database)."""

    def warn(self, text: str) -> None:
        """Pass one warning on, if anyone listens."""
        if self.on_warning is not None:
            self.on_warning(text)


def open_tree(
    location: str,
    must_exist: bool = True,
    create: bool = False,
    remote: RemoteOptions | None = None,
) -> Backend:
    """Return a backend for a path or URL; raise TreeNotFoundError if a required root is missing.

    With create, a missing root folder on a server is made (local roots are made by their caller).
    """
    if location.lower().startswith(FTP_SCHEMES):
        return open_ftp_tree(location, create, remote or RemoteOptions())
    if location.lower().startswith(SFTP_SCHEME):
        return open_sftp_tree(location, create, remote or RemoteOptions())
    if "://" in location.split("/", 1)[0] + "/":
        raise UsageError(f"{location}: unknown URL scheme")
    return LocalBackend(location, must_exist=must_exist)


def open_ftp_tree(location: str, create: bool, remote: RemoteOptions) -> Backend:
    """Return the FTP backend for an ftp:// or ftps:// URL, logged in, retrying transient errors."""
    from dirkit.backends.ftp import FtpBackend
    from dirkit.backends.ftp_session import TlsOptions
    from dirkit.backends.urls import find_login, parse_remote_url

    parsed = parse_remote_url(location)
    import getpass

    prompt = getpass.getpass if sys.stdin.isatty() else None
    login = find_login(parsed, os.environ, prompt)
    tls = TlsOptions(ca_file=remote.ca_file, insecure=remote.insecure, implicit=remote.implicit_tls)
    backend = FtpBackend(parsed, login, tls=tls, connections=remote.connections, create=create)
    for warning in login.warnings:
        remote.warn(warning)
    retrying = RetryingBackend(backend, remote.retry or REMOTE_RETRY, check_server=True)
    if backend.capabilities.can_set_mtime or remote.written_files is None:
        return retrying
    return RecordedTimesBackend(retrying, remote.written_files())


def open_sftp_tree(location: str, create: bool, remote: RemoteOptions) -> Backend:
    """Return the SFTP backend for an sftp:// URL (keys, known_hosts), retrying transient errors."""
    from dirkit.backends.sftp import SftpBackend
    from dirkit.backends.urls import parse_remote_url

    parsed = parse_remote_url(location)
    if parsed.password is not None:
        raise UsageError(f"{parsed.url}: an sftp:// URL takes no password: use ssh-agent or a key")
    backend = SftpBackend(
        parsed,
        accept_new_host_keys=remote.accept_new_host_keys,
        connections=remote.connections,
        create=create,
    )
    return RetryingBackend(backend, remote.retry or REMOTE_RETRY, check_server=True)


def open_mirror_target(location: str, create: bool, remote: RemoteOptions | None = None) -> Backend:
    """Return the target tree; a missing directory is created when create, else planned as empty."""
    if location.startswith(REMOTE_SCHEMES):
        return open_tree(location, create=create, remote=remote)
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
