"""Folders of a remote tree listed ahead of a depth-first walk, over the backend's parallel connections.

A scan walks folders one after another; on a remote tree each listing is a few round trips, so the
walk waits on the network. ListingAhead hands every subfolder a listing shows to a bounded thread
pool at once, and the walk then takes each listing from its future when it gets there: the order
the walk yields stays the same, and at most `workers` listings run at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath

Lister = Callable[[RelPath], list[Entry]]


class ListingAhead:
    """Lists the subfolders of every listing ahead, for a walk that asks them in any order."""

    def __init__(self, list_dir: Lister, workers: int, wanted: Callable[[Entry], bool]) -> None:
        self._list_dir = list_dir
        self._wanted = wanted
        """Which subfolders the walk will enter (filtered ones are never listed ahead)."""
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="dirkit-list")
        self._ahead: dict[RelPath, Future[list[Entry]]] = {}

    def __call__(self, path: RelPath) -> list[Entry]:
        """Return the listing of path (from its future if it was asked ahead), asking its subfolders ahead."""
        future = self._ahead.pop(path, None)
        listing = future.result() if future is not None else self._list_dir(path)
        for entry in listing:
            if entry.kind is EntryKind.DIR and entry.error is None and self._wanted(entry):
                self._ahead[entry.path] = self._pool.submit(self._list_dir, entry.path)
        return listing

    def __enter__(self) -> ListingAhead:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for future in self._ahead.values():
            future.cancel()
        self._ahead.clear()
        self._pool.shutdown(wait=True)
