"""How much may still be written to a tree, asked of the first backend in its chain that can say."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from dirkit.backends.wrapping import backends_within


def free_bytes_of(tree: object) -> int | None:
    """Return the bytes that may still be written to tree (local statvfs, SFTP statvfs), or None if unknown.

    The optional free_bytes() of a backend is looked up through its wrappers (retrying, recorded
    times): asking changes nothing, so every wrapper that lets reads past lets it past.
    """
    for backend in backends_within(tree):
        ask = getattr(backend, "free_bytes", None)
        if callable(ask):
            return cast(Callable[[], "int | None"], ask)()
    return None
