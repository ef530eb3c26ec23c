"""Content compare of files of two local trees by their bytes, without digests (no cache to fill)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from dirkit.backends.local_files import local_files
from dirkit.backends.protocol import Backend
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import ROOT, RelPath

READ_CHUNK = 1024 * 1024
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


def local_roots(left: Backend, right: Backend) -> tuple[str, str] | None:
    """Return the OS roots of two local trees, or None unless both are local."""
    left_local, right_local = local_files(left), local_files(right)
    if left_local is None or right_local is None:
        return None
    return left_local.os_path(ROOT), right_local.os_path(ROOT)


def compare_local_bytes(
    left_root: str, right_root: str, pairs: Sequence[tuple[Entry, Entry]]
) -> dict[RelPath, bool | str]:
    """Return each pair's content verdict keyed by left path, reading both files (words as compare_contents).

    A file is read in one call of its scanned size plus one byte (a shorter read is its end, as for
    the digests of small files); reading stops at the first difference.
    """
    join = os.path.join
    return {a.path: _same_bytes(join(left_root, a.path), join(right_root, b.path), a.size) for a, b in pairs}


def _same_bytes(left_path: str, right_path: str, size: int) -> bool | str:
    """Return True if two files hold the same bytes, False if not, or why one is unreadable."""
    try:
        left = os.open(left_path, _OPEN_FLAGS)
    except OSError as error:
        return f"left side unreadable: {error.strerror or error}"
    try:
        try:
            right = os.open(right_path, _OPEN_FLAGS)
        except OSError as error:
            return f"right side unreadable: {error.strerror or error}"
        try:
            return _same_streams(left, right, size)
        finally:
            os.close(right)
    finally:
        os.close(left)


def _same_streams(left: int, right: int, size: int) -> bool | str:
    want = min(size + 1, READ_CHUNK)
    read = os.read
    while True:
        try:
            left_chunk = read(left, want)
        except OSError as error:
            return f"left side unreadable: {error.strerror or error}"
        try:
            right_chunk = read(right, want)
        except OSError as error:
            return f"right side unreadable: {error.strerror or error}"
        if left_chunk != right_chunk:
            return False
        if len(left_chunk) < want:
            return True
        want = READ_CHUNK
