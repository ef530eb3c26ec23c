"""Open a tree from what the user typed: a local path now; URLs name their backend."""

from __future__ import annotations

from dirkit.backends.local import LocalBackend
from dirkit.backends.protocol import Backend
from dirkit.errors import UsageError

REMOTE_SCHEMES = ("ftp://", "ftps://", "sftp://")


def open_tree(location: str, must_exist: bool = True) -> Backend:
    """Return a backend for a path or URL; raise TreeNotFoundError if a required root is missing."""
    if location.startswith(REMOTE_SCHEMES):
        scheme = location.split(":", 1)[0]
        raise UsageError(f"{location}: {scheme}:// trees are not supported by this version yet")
    if "://" in location.split("/", 1)[0] + "/":
        raise UsageError(f"{location}: unknown URL scheme")
    return LocalBackend(location, must_exist=must_exist)
