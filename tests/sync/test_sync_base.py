"""The sync base in the state database: streamed in component order, shared by both spellings of a pair."""

from __future__ import annotations

from dirkit.core.sync.base import BaseEntry
from dirkit.core.sync.plan import BaseChange
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import RelPath, sort_key
from dirkit.state.journal import Journal
from dirkit.state.sync_base import SyncBase

ODD = ["a", "a/b", "a-b", "é", "\udcff-raw", "z/\u00e9/x", "Z"]


def test_the_base_streams_in_component_order_and_round_trips_odd_names(journal: Journal) -> None:
    base = SyncBase(journal.connection, "local:1:2", "local:1:3")
    rows = [BaseEntry(RelPath(p), EntryKind.FILE, 1, 10, 0o644, 20, 0o600, None, "d") for p in ODD]
    base.apply(BaseChange(row.path, row) for row in rows)
    listed = list(base.entries())
    assert [row.path for row in listed] == sorted(ODD, key=sort_key)
    assert set(listed) == set(rows)
    base.apply([BaseChange(RelPath("a-b"), None)])
    assert base.count() == len(ODD) - 1


def test_both_spellings_of_a_pair_share_one_base_with_sides_swapped(journal: Journal) -> None:
    forward = SyncBase(journal.connection, "url:ftp://x", "local:1:2")
    backward = SyncBase(journal.connection, "local:1:2", "url:ftp://x")
    row = BaseEntry(RelPath("f"), EntryKind.FILE, 3, 111, 0o644, 222, 0o600, None, None)
    forward.apply([BaseChange(row.path, row)])
    (seen,) = backward.entries()
    assert (seen.a_mtime_ns, seen.a_mode, seen.b_mtime_ns, seen.b_mode) == (222, 0o600, 111, 0o644)
    assert SyncBase(journal.connection, "local:1:2", "local:9:9").is_empty()
