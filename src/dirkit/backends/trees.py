"""Open a tree from what the user typed: a local path now; URLs name their backend."""

from __future__ import annotations

import os

from dirkit.backends.local import LocalBackend
from dirkit.backends.memory import MemoryBackend
from dirkit.backends.protocol import Backend
from dirkit.errors import NotFoundError, UsageError, translate_os_error

REMOTE_SCHEMES = ("ftp://", "ftps://", "sftp://")


def open_tree(location: str, must_exist: bool = True) -> Backend:
    """Return a backend for a path or URL; raise TreeNotFoundError if a required root is missing."""
    if location.startswith(REMOTE_SCHEMES):
        scheme = location.split(":", 1)[0]
        raise UsageError(f"{location}: {scheme}:// trees are not supported by this version yet")
    if "://" in location.split("/", 1)[0] + "/":
        raise UsageError(f"{location}: unknown URL scheme")
    return LocalBackend(location, must_exist=must_exist)


class AbsentTree(MemoryBackend):
    """An empty stand-in for a target directory that does not exist yet (for planning only)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self._location = os.path.abspath(location)

    @property
    def description(self) -> str:
        """Return the absolute path the tree will have."""
        return self._location


def open_mirror_target(location: str, create: bool) -> Backend:
    """Return the target tree; a missing directory is created when create, else planned as empty."""
    if location.startswith(REMOTE_SCHEMES) or os.path.isdir(location):
        return open_tree(location)
    if os.path.lexists(location):
        return open_tree(location)
    if not create:
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
