"""Pause Python's cyclic garbage collector around hot loops that allocate many small tuples."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic GC inside the block and restore its previous state after.

    Scans build hundreds of thousands of acyclic tuples; each generation-0 collection would walk
    them again, which costs more than the scan itself. Reference counting still frees them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
