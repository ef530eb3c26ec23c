"""Decide sameness by bytes: compare pairs of files in parallel through their backends."""

from __future__ import annotations

from collections.abc import Sequence

from dirkit.backends.protocol import Backend, workers_for
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath
from dirkit.errors import BackendError

CHUNK = 256 * 1024


def files_equal(left: Backend, right: Backend, left_entry: Entry, right_entry: Entry) -> bool | str:
    """Return True if two files hold the same bytes, False if not, or the reason one is unreadable."""
    try:
        with left.open_read(left_entry.path) as left_stream:
            try:
                with right.open_read(right_entry.path) as right_stream:
                    while True:
                        left_chunk = left_stream.read(CHUNK)
                        right_chunk = right_stream.read(CHUNK)
                        if left_chunk != right_chunk:
                            return False
                        if not left_chunk:
                            return True
            except BackendError as error:
                return f"right side unreadable: {error.strerror or error}"
    except BackendError as error:
        return f"left side unreadable: {error.strerror or error}"


def compare_contents(
    left: Backend, right: Backend, pairs: Sequence[tuple[Entry, Entry]], jobs: int
) -> dict[RelPath, bool | str]:
    """Return each pair's content verdict keyed by left path, comparing pairs on workers_for() threads."""
    if not pairs:
        return {}
    from concurrent.futures import ThreadPoolExecutor  # threads only for trees compared byte by byte

    workers = min(workers_for([left, right], jobs), len(pairs))
    if workers == 1:
        return {a.path: files_equal(left, right, a, b) for a, b in pairs}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dirkit-content") as pool:
        verdicts = pool.map(lambda pair: files_equal(left, right, pair[0], pair[1]), pairs)
        return {pair[0].path: verdict for pair, verdict in zip(pairs, verdicts, strict=True)}
