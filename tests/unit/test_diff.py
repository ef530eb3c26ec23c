"""Matching, the sameness policy and Diff building on pure snapshots."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dirkit.core.compare.diff import NameTwin, Status, build_diff, diff_snapshots, pair_snapshots
from dirkit.core.compare.sameness import NS_PER_SECOND, SamenessPolicy, Verdict, judge_entries
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath
from dirkit.core.tree.snapshot import Snapshot, make_snapshot

S = NS_PER_SECOND
QUICK = SamenessPolicy()


def file(path: str, size: int = 1, mtime: int = 10 * S) -> Entry:
    return Entry(RelPath(path), EntryKind.FILE, size, mtime, 0o644)


def folder(path: str) -> Entry:
    return Entry(RelPath(path), EntryKind.DIR, 0, 5 * S, 0o755)


names = st.sampled_from(["a", "b", "c", "d/x", "d/y", "e-f", "É", "é"])
file_specs = st.dictionaries(names, st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=8)


def snapshot_of(spec: dict[str, tuple[int, int]]) -> Snapshot:
    entries = [file(path, size, mtime * S) for path, (size, mtime) in spec.items()]
    if any(path.startswith("d/") for path in spec):
        entries.append(folder("d"))
    return make_snapshot(entries)


@given(file_specs, file_specs)
def test_swapping_sides_swaps_left_only_and_right_only(
    left_spec: dict[str, tuple[int, int]], right_spec: dict[str, tuple[int, int]]
) -> None:
    left, right = snapshot_of(left_spec), snapshot_of(right_spec)
    forward = diff_snapshots(left, right, QUICK)
    backward = diff_snapshots(right, left, QUICK)
    assert backward == forward.swapped()
    counts, swapped = forward.counts(), backward.counts()
    assert counts["left_only"] == swapped["right_only"]
    assert counts["right_only"] == swapped["left_only"]


@given(file_specs)
def test_tree_compared_with_itself_is_all_same(spec: dict[str, tuple[int, int]]) -> None:
    snapshot = snapshot_of(spec)
    diff = diff_snapshots(snapshot, snapshot, QUICK)
    assert all(change.status is Status.SAME for change in diff.changes)
    assert len(diff.changes) == len(snapshot)


def test_every_status() -> None:
    left = make_snapshot(
        [file("same"), file("grown", 1), file("touched"), file("gone"), file("kind"), folder("d")]
    )
    right = make_snapshot(
        [
            file("same"),
            file("grown", 2),
            file("touched", mtime=11 * S),
            file("new"),
            folder("kind"),
            folder("d"),
        ]
    )
    statuses = {c.path: c.status for c in diff_snapshots(left, right, QUICK).changes}
    assert statuses == {
        "d": Status.SAME,
        "gone": Status.LEFT_ONLY,
        "grown": Status.CHANGED,
        "kind": Status.TYPE_CHANGED,
        "new": Status.RIGHT_ONLY,
        "same": Status.SAME,
        "touched": Status.CHANGED,
    }


def test_mtime_within_coarser_resolution_is_same() -> None:
    left, right = file("a", mtime=10 * S + 700_000_000), file("a", mtime=10 * S)
    assert judge_entries(left, right, QUICK) is Verdict.CHANGED
    ftp_like = SamenessPolicy(mtime_resolution_ns=S)
    assert judge_entries(left, right, ftp_like) is Verdict.SAME
    far = file("a", mtime=12 * S)
    assert judge_entries(left, far, ftp_like) is Verdict.CHANGED
    assert judge_entries(left, far, SamenessPolicy(modify_window_ns=2 * S)) is Verdict.SAME


def test_content_mode_asks_for_bytes_only_when_sizes_match() -> None:
    policy = SamenessPolicy(content=True)
    assert judge_entries(file("a", 1), file("a", 2), policy) is Verdict.CHANGED
    assert judge_entries(file("a", 1), file("a", 1, 99 * S), policy) is Verdict.NEEDS_CONTENT
    pairings = pair_snapshots(make_snapshot([file("a")]), make_snapshot([file("a")]), policy)
    diff = build_diff(pairings, {RelPath("a"): False})
    assert diff.changes[0].status is Status.CHANGED
    diff = build_diff(pairings, {RelPath("a"): "left side unreadable: Permission denied"})
    assert diff.changes[0].status is Status.ERROR


def test_symlinks_compare_by_target() -> None:
    a = Entry(RelPath("l"), EntryKind.SYMLINK, target="x")
    b = Entry(RelPath("l"), EntryKind.SYMLINK, target="y")
    assert judge_entries(a, a, QUICK) is Verdict.SAME
    assert judge_entries(a, b, QUICK) is Verdict.CHANGED


def test_unreadable_dir_hides_the_other_sides_children() -> None:
    broken = Entry(RelPath("d"), EntryKind.DIR, error="cannot list directory: Permission denied")
    left = make_snapshot([broken])
    right = make_snapshot([folder("d"), file("d/x"), file("e")])
    diff = diff_snapshots(left, right, QUICK)
    assert [(c.path, c.status) for c in diff.changes] == [
        ("d", Status.ERROR),
        ("e", Status.RIGHT_ONLY),
    ]


def test_nfc_nfd_and_case_twins_are_explained() -> None:
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    left = make_snapshot([file(nfc), file("README")])
    right = make_snapshot([file(nfd), file("readme")])
    diff = diff_snapshots(left, right, QUICK)
    twins = {(str(c.path), c.status): (c.twin, c.twin_reason) for c in diff.changes}
    assert twins[(nfc, Status.LEFT_ONLY)] == (nfd, NameTwin.UNICODE_NORMALIZATION)
    assert twins[(nfd, Status.RIGHT_ONLY)] == (nfc, NameTwin.UNICODE_NORMALIZATION)
    assert twins[("README", Status.LEFT_ONLY)] == ("readme", NameTwin.CASE)


def test_normalize_unicode_matches_nfc_with_nfd() -> None:
    left = make_snapshot([file("caf\u00e9")])
    right = make_snapshot([file("cafe\u0301")])
    diff = diff_snapshots(left, right, QUICK, normalize_unicode=True)
    assert [c.status for c in diff.changes] == [Status.SAME]
    assert diff.changes[0].right is not None and diff.changes[0].right.path == "cafe\u0301"
