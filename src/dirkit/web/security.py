"""What each request must show: the session token, an allowed Host, and for a POST a CSRF token and Origin."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from urllib.parse import unquote

TOKEN_BYTES = 32
"""Random bytes of the session token and of the CSRF token (secrets.token_urlsafe)."""
TOKEN_HEADER = "X-Dirkit-Token"
CSRF_HEADER = "X-Dirkit-CSRF"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


@dataclass(frozen=True, slots=True)
class Secrets:
    """The random session token (in the URL once, then a cookie) and the CSRF token (in the page)."""

    token: str
    csrf: str

    @classmethod
    def fresh(cls) -> Secrets:
        """Return new random tokens."""
        return cls(secrets.token_urlsafe(TOKEN_BYTES), secrets.token_urlsafe(TOKEN_BYTES))


def same_secret(given: str | None, expected: str) -> bool:
    """Tell whether given equals expected, in time that does not depend on where they differ."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def host_with_port(host: str, port: int) -> str:
    """Return host:port as a Host header spells it (an IPv6 address in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def allowed_hosts(bind: str, port: int) -> frozenset[str]:
    """Return the Host header values accepted: the loopback names and the bound address, with the port."""
    names = {*LOOPBACK_NAMES, bind}
    return frozenset(
        host_with_port(name, port).lower() for name in names if name not in ("", "0.0.0.0", "::")
    )


def allowed_origins(hosts: Iterable[str]) -> frozenset[str]:
    """Return the Origin header values of pages this server itself served."""
    return frozenset(f"http://{host}" for host in hosts)


def cookie_name(port: int) -> str:
    """Return the token cookie's name (per port: cookies are shared by every port of a host)."""
    return f"dirkit_token_{port}"


def token_cookie(port: int, token: str) -> str:
    """Return the Set-Cookie value that keeps the token: HttpOnly, SameSite=Strict, for this server only."""
    return f"{cookie_name(port)}={token}; HttpOnly; SameSite=Strict; Path=/"


def token_from_cookie(header: str | None, port: int) -> str | None:
    """Return the token a Cookie header carries for this server, if any."""
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(cookie_name(port))
    return morsel.value if morsel is not None else None


@dataclass(frozen=True, slots=True)
class Gate:
    """The checks of one server: its tokens and the Host and Origin values it accepts."""

    secrets: Secrets
    hosts: frozenset[str]
    port: int

    def host_ok(self, host: str | None) -> bool:
        """Tell whether a Host header names this server (a rebound DNS name does not)."""
        return host is not None and host.strip().lower() in self.hosts

    def token_ok(self, headers: Mapping[str, str], query_token: str | None) -> bool:
        """Tell whether a request carries the session token: its cookie, header, or the URL's token."""
        for given in (
            token_from_cookie(headers.get("Cookie"), self.port),
            headers.get(TOKEN_HEADER),
            query_token,
        ):
            if given is not None and same_secret(given, self.secrets.token):
                return True
        return False

    def post_ok(self, headers: Mapping[str, str]) -> bool:
        """Tell whether a state-changing request comes from this server's page: its Origin and CSRF token."""
        origin = headers.get("Origin")
        if origin is None or origin.strip().lower() not in allowed_origins(self.hosts):
            return False
        return same_secret(headers.get(CSRF_HEADER), self.secrets.csrf)


def hide_password(location: str) -> str:
    """Return a tree location with the password of a URL's user part replaced by '***'."""
    scheme, separator, rest = location.partition("://")
    if not separator:
        return location
    authority, slash, tail = rest.partition("/")
    credentials, at, host = authority.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}://{credentials}{at}{host}{slash}{tail}"


def url_password(location: str) -> str | None:
    """Return the password written in a URL's user part, as typed, if there is one."""
    _, separator, rest = location.partition("://")
    credentials, at, _ = rest.partition("/")[0].rpartition("@")
    if not separator or not at or ":" not in credentials:
        return None
    return credentials.split(":", 1)[1] or None


def without_passwords(text: str, locations: Iterable[str]) -> str:
    """Return text with each password-holding location hidden, and the password itself (typed or decoded)."""
    for location in locations:
        password = url_password(location)
        if password is None:
            continue
        text = text.replace(location, hide_password(location))
        for spelling in {password, unquote(password)}:
            text = text.replace(spelling, "***")
    return text
