"""Scans of trees with parallel connections list folders ahead: same snapshot, listings at once."""

from __future__ import annotations

import dataclasses
import io
import threading

from dirkit.backends.memory import MemoryBackend
from dirkit.backends.wrapping import BackendWrapper
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.filters import make_filter
from dirkit.core.tree.paths import RelPath
from dirkit.ops.tree.scan import ScanOptions, scan_tree

P = RelPath


class MeetingLister(BackendWrapper):
    """Lists the two top folders only when both listings are under way at once (else the barrier breaks)."""

    def __init__(self, wrapped: MemoryBackend) -> None:
        super().__init__(wrapped)
        self.meeting = threading.Barrier(2, timeout=20)
        self.listed: list[RelPath] = []

    def list_dir(self, path: RelPath) -> list[Entry]:
        """List path; the top folders wait for each other."""
        self.listed.append(path)
        if path in ("a", "b"):
            self.meeting.wait()
        return self.wrapped.list_dir(path)


def filled() -> MemoryBackend:
    tree = MemoryBackend()
    for folder in ("a", "a/deep", "b", "skipped"):
        tree.make_dir(P(folder))
    for path in ("a/1", "a/deep/2", "b/3", "skipped/4", "top"):
        tree.write_file(P(path), io.BytesIO(path.encode()))
    return tree


def test_folders_are_listed_at_once_and_the_snapshot_is_the_sequential_one() -> None:
    tree = filled()
    options = ScanOptions(make_filter(["/skipped/"], False))
    ahead = scan_tree(MeetingLister(tree), options)
    one_at_a_time = MemoryBackend(capabilities=dataclasses.replace(tree.capabilities, parallel_connections=1))
    one_at_a_time.nodes = tree.nodes
    assert ahead.entries == scan_tree(one_at_a_time, options).entries
    assert [entry.path for entry in ahead] == ["a", "a/1", "a/deep", "a/deep/2", "b", "b/3", "top"]


def test_an_excluded_folder_is_never_listed() -> None:
    lister = MeetingLister(filled())
    scan_tree(lister, ScanOptions(make_filter(["/skipped/"], False)))
    assert "skipped" not in lister.listed
