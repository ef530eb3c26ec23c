"""What a backend says about one path: the Entry value and its kinds."""

from __future__ import annotations

import enum
from typing import NamedTuple

from dirkit.core.tree.paths import RelPath

UNSAFE_MODE_BITS = 0o6002
"""Setuid, setgid and other-write: the mode bits never applied from input (manifests, plans, archives)."""


def safe_mode(mode: int) -> int:
    """Return mode without setuid, setgid and other-write (the bits input may not grant)."""
    return mode & ~UNSAFE_MODE_BITS & 0o7777


class EntryKind(enum.Enum):
    """The kind of thing found at a path."""

    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    OTHER = "other"
    """A socket, fifo or device node."""


class Entry(NamedTuple):
    """One path of a tree as a backend saw it.

    A NamedTuple rather than a frozen dataclass: scans build hundreds of thousands of these and a
    tuple is about four times cheaper to create. `error` is set when the path could not be read
    (its other fields are then as much as was known).
    """

    path: RelPath
    kind: EntryKind
    size: int = 0
    mtime_ns: int | None = None
    mode: int = 0
    target: str | None = None
    """The link target, for a symlink."""
    error: str | None = None
    digest: str | None = None
    dev: int = 0
    ino: int = 0
    ctime_ns: int = 0

    @property
    def is_file(self) -> bool:
        """Tell whether this is a regular file."""
        return self.kind is EntryKind.FILE

    @property
    def is_dir(self) -> bool:
        """Tell whether this is a directory."""
        return self.kind is EntryKind.DIR
