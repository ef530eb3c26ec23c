"""Rename detection on diffs: moved files, moved folders, and what is not a move."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from dirkit.core.compare.diff import Diff, Status, diff_snapshots
from dirkit.core.compare.moves import SideDigests, detect_moves, move_candidates
from dirkit.core.compare.sameness import SamenessPolicy
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath, parent_path
from dirkit.core.tree.snapshot import make_snapshot


def _tree(files: dict[str, bytes], dirs: tuple[str, ...] = ()) -> list[Entry]:
    entries: dict[str, Entry] = {}
    for name in dirs:
        entries[name] = Entry(RelPath(name), EntryKind.DIR)
    for name, data in files.items():
        parent = parent_path(RelPath(name))
        while parent:
            entries.setdefault(parent, Entry(parent, EntryKind.DIR))
            parent = parent_path(parent)
        digest = hashlib.sha256(data).hexdigest()
        entries[name] = Entry(RelPath(name), EntryKind.FILE, len(data), 1, digest=digest)
    return list(entries.values())


def _diff(left: dict[str, bytes], right: dict[str, bytes]) -> Diff:
    return diff_snapshots(make_snapshot(_tree(left)), make_snapshot(_tree(right)), SamenessPolicy())


def _moves(diff: Diff) -> Diff:
    return detect_moves(diff, SideDigests({}, {}))


def _summary(diff: Diff) -> list[tuple[str, str, str | None]]:
    return [(change.path, change.status.value, change.moved_from) for change in diff.changes]


def test_a_renamed_file_is_one_move() -> None:
    diff = _moves(_diff({"old.txt": b"hello", "keep": b"k"}, {"new.txt": b"hello", "keep": b"k"}))
    assert _summary(diff) == [("keep", "same", None), ("new.txt", "moved", "old.txt")]
    moved = diff.changes[1]
    assert moved.left is not None and moved.left.path == "old.txt"
    assert moved.right is not None and moved.right.path == "new.txt"


def test_a_moved_file_that_also_changed_is_not_a_move() -> None:
    diff = _moves(_diff({"old.txt": b"hello"}, {"new.txt": b"jello"}))
    assert _summary(diff) == [("new.txt", "right_only", None), ("old.txt", "left_only", None)]


def test_a_renamed_folder_is_one_moved_folder() -> None:
    left = {"photos/a.jpg": b"aaa", "photos/sub/b.jpg": b"bbbb", "x": b"x"}
    right = {"pictures/a.jpg": b"aaa", "pictures/sub/b.jpg": b"bbbb", "x": b"x"}
    diff = _moves(_diff(left, right))
    assert _summary(diff) == [("pictures", "moved", "photos"), ("x", "same", None)]


def test_a_renamed_folder_with_one_changed_file_moves_only_the_matching_files() -> None:
    left = {"photos/a.jpg": b"aaa", "photos/b.jpg": b"bbbb"}
    right = {"pictures/a.jpg": b"aaa", "pictures/b.jpg": b"BBBBB"}
    moved = [change for change in _moves(_diff(left, right)).changes if change.status is Status.MOVED]
    assert [(change.path, change.moved_from) for change in moved] == [("pictures/a.jpg", "photos/a.jpg")]


def test_empty_files_are_never_paired() -> None:
    diff = _moves(_diff({"a": b""}, {"b": b""}))
    assert {change.status for change in diff.changes} == {Status.LEFT_ONLY, Status.RIGHT_ONLY}


def test_duplicates_pair_by_base_name_first() -> None:
    left = {"x/report.txt": b"same", "y/notes.txt": b"same"}
    right = {"z/notes.txt": b"same", "z/report.txt": b"same"}
    moves = {
        change.path: change.moved_from for change in _moves(_diff(left, right)).changes if change.moved_from
    }
    assert moves == {"z/report.txt": "x/report.txt", "z/notes.txt": "y/notes.txt"}


def test_candidates_are_one_sided_files_with_a_size_match() -> None:
    diff = _diff({"a": b"12", "b": b"123", "same": b"s"}, {"c": b"45", "same": b"s"})
    candidates = move_candidates(diff)
    assert [entry.path for entry in candidates.left] == ["a"]
    assert [entry.path for entry in candidates.right] == ["c"]


def test_digests_passed_in_are_used_when_entries_have_none() -> None:
    left = [Entry(RelPath("a"), EntryKind.FILE, 3, 1)]
    right = [Entry(RelPath("b"), EntryKind.FILE, 3, 1)]
    diff = diff_snapshots(make_snapshot(left), make_snapshot(right), SamenessPolicy())
    assert _summary(detect_moves(diff, SideDigests({}, {}))) == _summary(diff)
    found = detect_moves(diff, SideDigests({RelPath("a"): "d1"}, {RelPath("b"): "d1"}))
    assert _summary(found) == [("b", "moved", "a")]


def test_swapping_a_moved_change_swaps_its_paths() -> None:
    diff = _moves(_diff({"old": b"data"}, {"new": b"data"}))
    assert _summary(diff.swapped()) == [("old", "moved", "new")]


contents = st.sampled_from([b"", b"a", b"bb", b"cc", b"ddd"])
trees = st.dictionaries(
    st.sampled_from(["a", "b", "d/a", "d/c", "e/a", "e/c", "f/g/h"]), contents, max_size=6
)


def _file_paths(diff: Diff, side: str) -> list[str]:
    found: list[str] = []
    for change in diff.changes:
        entry = change.left if side == "left" else change.right
        if entry is not None and entry.is_file:
            found.append(entry.path)
    return sorted(found)


@given(left=trees, right=trees)
def test_moves_pair_equal_content_and_lose_no_path(left: dict[str, bytes], right: dict[str, bytes]) -> None:
    before = _diff(left, right)
    after = _moves(before)
    for change in after.changes:
        if change.status is Status.MOVED:
            assert change.left is not None and change.right is not None
            assert change.left.digest == change.right.digest
            assert change.moved_from == change.left.path and change.path == change.right.path
    expanded_left = set(_file_paths(after, "left"))
    expanded_right = set(_file_paths(after, "right"))
    for change in after.changes:
        if change.status is Status.MOVED and change.left is not None and change.left.is_dir:
            expanded_left |= {name for name in left if name.startswith(change.left.path + "/")}
            assert change.right is not None
            expanded_right |= {name for name in right if name.startswith(change.right.path + "/")}
    assert expanded_left == set(left)
    assert expanded_right == set(right)


@given(left=trees, right=trees)
def test_move_detection_commutes_with_swapping_sides(left: dict[str, bytes], right: dict[str, bytes]) -> None:
    one_way = {(c.status, c.path, c.moved_from) for c in _moves(_diff(left, right)).swapped().changes}
    other_way = {(c.status, c.path, c.moved_from) for c in _moves(_diff(right, left)).changes}
    assert one_way == other_way
