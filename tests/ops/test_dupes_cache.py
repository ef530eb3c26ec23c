"""dupes takes full digests from the shared digest engine, so they land in the digest cache."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from dirkit.backends.local import LocalBackend
from dirkit.ops.search.dupes import DupesOptions, find_duplicates
from dirkit.state.database import connect_state

BIG = os.urandom(200_000)
CENTURY_NS = 100 * 365 * 24 * 3600 * 10**9


def cache_rows() -> int:
    connection = connect_state()
    try:
        return int(connection.execute("SELECT COUNT(*) FROM digest_cache").fetchone()[0])
    finally:
        connection.close()


def test_full_digests_fill_the_cache_and_agree(make_tree: Callable[..., Path]) -> None:
    root = make_tree("t", {"a.bin": BIG, "b/a-copy.bin": BIG, "c.bin": BIG[:-1] + b"!", "small": "x"})
    backend = LocalBackend(str(root))
    uncached = find_duplicates([backend], DupesOptions(use_cache=False, jobs=1))
    assert cache_rows() == 0
    # files changed within the racy window are never cached: a window of a century covers these
    young = find_duplicates([backend], DupesOptions(jobs=1, racy_window_ns=CENTURY_NS))
    assert cache_rows() == 0
    # with no window, every full digest lands in the cache, with no wait for the files to age
    first = find_duplicates([backend], DupesOptions(jobs=1, racy_window_ns=0))
    assert cache_rows() == 3
    second = find_duplicates([backend], DupesOptions(jobs=1, racy_window_ns=0))
    for result in (uncached, young, first, second):
        assert [[item.path for item in group.files] for group in result.groups] == [["a.bin", "b/a-copy.bin"]]
