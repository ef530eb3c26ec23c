"""The fused merge over stored base records yields exactly the rows of the plain merge and changed_rows.

The model trees of test_reconcile hold files and folders only; here every field the fused merge reads
by position varies: kinds (symlinks and others too), sizes, times (unknown ones as well), modes (0 is
unknown), link targets, read errors, a modify window and trees without usable times.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dirkit.core.compare.sameness import SamenessPolicy
from dirkit.core.sync.base import BaseEntry, base_entry_of, base_record
from dirkit.core.sync.merge import changed_rows, merge_changed, merge_listings
from dirkit.core.sync.plan import SyncPolicy
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath, sort_key

PATHS = ["a", "a/b", "a-b", "é", "\udcff-raw", "z/x"]
KINDS = st.sampled_from(
    [EntryKind.FILE, EntryKind.FILE, EntryKind.FILE, EntryKind.DIR, EntryKind.SYMLINK, EntryKind.OTHER]
)
TIMES = st.sampled_from([None, 0, 5, 1_000_000_000, 1_000_000_001])
MODES = st.sampled_from([0, 0o644, 0o600])
SIZES = st.sampled_from([0, 1, 7])
TARGETS = st.sampled_from([None, "t", "\udcfe"])


def random_entry(draw: st.DrawFn, path: str) -> Entry:
    """Return an entry at path with random fields."""
    error = draw(st.sampled_from([None, "unreadable"]))
    return Entry(RelPath(path), draw(KINDS), draw(SIZES), draw(TIMES), draw(MODES), draw(TARGETS), error)


def random_base(draw: st.DrawFn, path: str) -> BaseEntry:
    """Return a base entry at path with random fields."""
    kind, size, target, digest = draw(KINDS), draw(SIZES), draw(TARGETS), draw(st.sampled_from([None, "d"]))
    return BaseEntry(
        RelPath(path), kind, size, draw(TIMES), draw(MODES), draw(TIMES), draw(MODES), target, digest
    )


def side_of(draw: st.DrawFn, base: BaseEntry | None, path: str, side: str) -> Entry | None:
    """Return what a side holds at path: mostly what the base says it held (the merge's fast path)."""
    choice = draw(st.sampled_from(["same"] * 6 + ["touched", "random", "absent"]))
    if base is None or choice == "random":
        return random_entry(draw, path) if draw(st.booleans()) else None
    if choice == "absent":
        return None
    mtime, mode = (base.a_mtime_ns, base.a_mode) if side == "a" else (base.b_mtime_ns, base.b_mode)
    error = None
    if choice == "touched":
        mtime, mode, error = draw(TIMES), draw(MODES), draw(st.sampled_from([None, "unreadable"]))
    return Entry(RelPath(path), base.kind, base.size, mtime, mode, base.target, error)


@st.composite
def three_listings(draw: st.DrawFn) -> tuple[list[BaseEntry], list[Entry], list[Entry]]:
    """Return a base and two sides over some of PATHS, sorted, the sides mostly as the base says."""
    base: list[BaseEntry] = []
    a: list[Entry] = []
    b: list[Entry] = []
    for path in sorted(draw(st.sets(st.sampled_from(PATHS), min_size=1)), key=sort_key):
        row = random_base(draw, path) if draw(st.integers(0, 4)) else None
        if row is not None:
            base.append(row)
        for side, listing in (("a", a), ("b", b)):
            entry = side_of(draw, row, path, side)
            if entry is not None:
                listing.append(entry)
    return base, a, b


POLICIES = st.builds(
    lambda resolution, window, modes: SyncPolicy(
        sameness=SamenessPolicy(mtime_resolution_ns=resolution, modify_window_ns=window, compare_modes=modes)
    ),
    st.sampled_from([None, 1, 1_000_000_000]),
    st.sampled_from([0, 2]),
    st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(three_listings(), POLICIES)
def test_the_fused_merge_of_records_yields_the_changed_rows(
    listings: tuple[list[BaseEntry], list[Entry], list[Entry]], policy: SyncPolicy
) -> None:
    base, a, b = listings
    expected = list(changed_rows(merge_listings(base, a, b), policy))
    assert list(merge_changed(map(base_record, base), a, b, policy)) == expected


def test_a_record_round_trips_odd_paths_and_targets() -> None:
    entry = BaseEntry(RelPath("\udcff/é"), EntryKind.SYMLINK, 0, None, 0, 5, 0o644, "\udcfe", None)
    assert base_entry_of(base_record(entry)) == entry
