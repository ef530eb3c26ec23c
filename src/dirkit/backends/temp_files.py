"""Fresh temporary names for new content (in a tree or beside a local file), and quiet removal of them."""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

from dirkit.core.run.names import TEMP_TOKEN_BYTES, temp_base_name, temp_name_for
from dirkit.core.tree.paths import RelPath

if TYPE_CHECKING:
    import random

_tokens: list[random.Random] = []
"""Tokens need to be unlikely to repeat, not secret (temporary names are created exclusively, never
followed): a generator seeded from the OS once per process (made at first use, reseeded after a
fork), so a name costs no system call."""


def _token_source() -> random.Random:
    """Return this process's generator of tokens, made at its first use."""
    if not _tokens:
        import random

        source = random.Random()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=source.seed)
        _tokens.append(source)
    return _tokens[0]


def new_token() -> str:
    """Return a fresh random token for a temporary name."""
    return f"{_token_source().getrandbits(TEMP_TOKEN_BYTES * 8):0{TEMP_TOKEN_BYTES * 2}x}"


def new_temp_name(path: RelPath) -> RelPath:
    """Return a fresh temporary name beside path of a tree, recognisable as dirkit's own."""
    return temp_name_for(path, new_token())


def temp_path_beside(final: str) -> str:
    """Return a fresh temporary local path in final's folder, recognisable as dirkit's own."""
    folder, name = os.path.split(final)
    return os.path.join(folder, temp_base_name(name, new_token()))


def remove_quietly(path: str) -> None:
    """Remove a local file if it is there, ignoring errors (cleanup after a failure)."""
    with contextlib.suppress(OSError):
        os.unlink(path)
