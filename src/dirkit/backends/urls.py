"""Remote tree URLs (ftp://, ftps://, sftp://) and FTP credentials, as curl and lftp read them."""

from __future__ import annotations

import netrc
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from dirkit.errors import UsageError

DEFAULT_PORTS = {"ftp": 21, "ftps": 21, "sftp": 22}
IMPLICIT_TLS_PORT = 990
ANONYMOUS = "anonymous"
ANONYMOUS_PASSWORD = "anonymous@"
PASSWORD_VARIABLE = "DIRKIT_PASSWORD"


@dataclass(frozen=True, slots=True)
class RemoteLocation:
    """A parsed ftp://, ftps:// or sftp:// URL.

    An FTP path is relative to the login folder unless it starts with '/'; an SFTP path is absolute
    ('/...'), or '~' or '~/...' for the login folder and below it.
    """

    scheme: str
    host: str
    port: int
    user: str | None
    path: str
    password: str | None = field(default=None, repr=False, compare=False)
    """A password written into the URL (accepted with a warning; never shown)."""

    @property
    def tls(self) -> bool:
        """Tell whether the connection is protected by TLS."""
        return self.scheme == "ftps"

    @property
    def implicit_tls(self) -> bool:
        """Tell whether TLS starts with the first byte (ftps:// on port 990) instead of AUTH TLS."""
        return self.tls and self.port == IMPLICIT_TLS_PORT

    @property
    def url(self) -> str:
        """Return the normalized URL without any secret: the tree's name and identity."""
        user = f"{quote(self.user, safe='')}@" if self.user else ""
        port = "" if self.port == DEFAULT_PORTS[self.scheme] else f":{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = quote(self.path.encode("utf-8", "surrogateescape"), safe="/~")
        if self.scheme == "sftp":
            return f"{self.scheme}://{user}{host}{port}{'' if path.startswith('/') else '/'}{path}"
        if path.startswith("/"):
            path = "%2F" + path[1:]
        return (
            f"{self.scheme}://{user}{host}{port}/{path}".rstrip("/")
            if path
            else (f"{self.scheme}://{user}{host}{port}")
        )


def is_remote_url(location: str) -> bool:
    """Tell whether location names a remote tree by URL."""
    return location.split("://", 1)[0].lower() in DEFAULT_PORTS and "://" in location


def parse_remote_url(location: str) -> RemoteLocation:
    """Return the parts of a remote tree URL; raise UsageError (without the password) if malformed."""
    parts = urlsplit(location)
    scheme = parts.scheme.lower()
    shown = _without_password(location)
    if scheme not in DEFAULT_PORTS:
        raise UsageError(f"{shown}: unknown URL scheme")
    if not parts.hostname:
        raise UsageError(f"{shown}: the URL names no host")
    if parts.query or parts.fragment:
        raise UsageError(f"{shown}: a tree URL takes no ?query or #fragment")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise UsageError(f"{shown}: the port is not a number from 1 to 65535") from None
    path = unquote(parts.path[1:], errors="surrogateescape")
    if "\r" in path or "\n" in path or "\0" in path:
        raise UsageError(f"{shown}: the path holds a line break or NUL")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    trimmed = path.rstrip("/") if path.strip("/") else path[:1]
    if scheme == "sftp":
        trimmed = sftp_path(trimmed)
    return RemoteLocation(scheme, parts.hostname.lower(), port, user, trimmed, password)


def sftp_path(below_host: str) -> str:
    """Return the SFTP path of what follows a URL's host and its slash: '/...', or '~' and '~/...'."""
    if below_host == "~" or below_host.startswith("~/"):
        return below_host
    return "/" + below_host.lstrip("/")


def _without_password(location: str) -> str:
    """Return location with any password of its user part replaced by '***'."""
    scheme, _, rest = location.partition("://")
    authority, slash, tail = rest.partition("/")
    credentials, at, host = authority.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}://{credentials}{at}{host}{slash}{tail}"


@dataclass(frozen=True, slots=True)
class Login:
    """The user and password to log in with, and warnings for the CLI to show (never the secret)."""

    user: str
    password: str = field(repr=False)
    warnings: tuple[str, ...] = ()


def find_login(
    location: RemoteLocation,
    environ: Mapping[str, str],
    prompt: Callable[[str], str] | None,
) -> Login:
    """Return the login for a URL: its own password (with a warning), ~/.netrc, DIRKIT_PASSWORD, a prompt.

    Without a user anywhere the login is anonymous; prompt is None when no terminal can ask.
    """
    if location.password is not None:
        warning = (
            f"{location.url}: a password written in the URL can be seen by other users "
            f"(in ps and shell history); put it in ~/.netrc or {PASSWORD_VARIABLE} instead"
        )
        return Login(location.user or ANONYMOUS, location.password, (warning,))
    from_netrc = _netrc_login(location, environ)
    if from_netrc is not None:
        return from_netrc
    user = location.user
    if user is None or user in (ANONYMOUS, "ftp"):
        return Login(user or ANONYMOUS, environ.get(PASSWORD_VARIABLE, ANONYMOUS_PASSWORD))
    if PASSWORD_VARIABLE in environ:
        return Login(user, environ[PASSWORD_VARIABLE])
    if prompt is None:
        raise UsageError(
            f"{location.url}: no password for {user}: add it to ~/.netrc "
            f"(machine {location.host} login {user} password ...) or set {PASSWORD_VARIABLE}"
        )
    return Login(user, prompt(f"Password for {user}@{location.host}: "))


def _netrc_login(location: RemoteLocation, environ: Mapping[str, str]) -> Login | None:
    """Return the login ~/.netrc holds for the URL's host (and user, if the URL names one)."""
    home = environ.get("HOME") or os.path.expanduser("~")
    path = os.path.join(home, ".netrc")
    if not os.path.isfile(path):
        return None
    try:
        found = netrc.netrc(path).authenticators(location.host)
    except (netrc.NetrcParseError, OSError) as error:
        where = f"line {error.lineno}" if isinstance(error, netrc.NetrcParseError) else error.strerror
        raise UsageError(f"{path}: cannot read it ({where})") from None
    if found is None:
        return None
    login, _account, password = found
    if location.user is not None and login and login != location.user:
        return None
    return Login(location.user or login or ANONYMOUS, password or "")
