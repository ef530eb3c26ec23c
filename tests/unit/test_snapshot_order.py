"""Snapshots keep every directory's children contiguous, right after the directory."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath, is_inside, parent_path
from dirkit.core.tree.snapshot import is_component_ordered, make_snapshot

components = st.sampled_from(["a", "b", "a-b", "a.b", "a b", "a0", "B", "é", "z"])
paths = st.lists(components, min_size=1, max_size=4).map("/".join)


def tree_entries(leaves: list[str]) -> list[Entry]:
    """Return entries for leaf files and every directory above them (a leaf never doubles as a dir)."""
    dirs: set[str] = set()
    for leaf in leaves:
        parent = parent_path(RelPath(leaf))
        while parent:
            dirs.add(parent)
            parent = parent_path(parent)
    files = {leaf for leaf in leaves if leaf not in dirs}
    return [Entry(RelPath(d), EntryKind.DIR) for d in dirs] + [
        Entry(RelPath(f), EntryKind.FILE) for f in files
    ]


@given(st.lists(paths, min_size=1, max_size=30))
def test_children_follow_their_directory_contiguously(leaves: list[str]) -> None:
    snapshot = make_snapshot(tree_entries(leaves))
    ordered = [entry.path for entry in snapshot]
    assert is_component_ordered(list(snapshot))
    for index, path in enumerate(ordered):
        inside = [i for i, other in enumerate(ordered) if other != path and is_inside(other, path)]
        if inside:
            assert inside == list(range(index + 1, index + 1 + len(inside)))


def test_a_dash_b_does_not_land_inside_a() -> None:
    snapshot = make_snapshot(tree_entries(["a/x", "a-b", "a/y"]))
    assert [entry.path for entry in snapshot] == ["a", "a/x", "a/y", "a-b"]
