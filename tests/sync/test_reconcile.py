"""Reconciliation as a pure function: readable cases, then properties over random edits on both sides."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dirkit.core.run.plan import ActionKind
from dirkit.core.sync.base import BaseEntry, Side, base_record
from dirkit.core.sync.merge import SyncRow, merge_changed, merge_listings
from dirkit.core.sync.plan import ConflictResolution, Prefer, SyncPlan, SyncPolicy, conflict_name
from dirkit.core.sync.reconcile import reconcile
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath, is_inside
from tests.sync.model import (
    DIR,
    Model,
    apply_model,
    base_of_model,
    digests_of,
    entries_of,
    next_base,
    outside,
    plan_models,
    rows_of,
    with_parents,
)


def steps(plan: SyncPlan, side: Side) -> list[str]:
    """Return side's steps as 'kind path' strings."""
    return [f"{step.action.kind.value} {step.action.path}" for step in plan.steps_on(side)]


# base, A now, B now -> steps on A, steps on B, conflicts (path: resolution)
CASES = {
    "new on A": ({}, {"f": "1"}, {}, [], ["copy_file f"], {}),
    "new on B": ({}, {}, {"f": "1"}, ["copy_file f"], [], {}),
    "newer on A": ({"f": "1"}, {"f": "22"}, {"f": "1"}, [], ["backup f", "copy_file f"], {}),
    "deleted on A": ({"f": "1"}, {}, {"f": "1"}, [], ["backup f"], {}),
    "deleted on both": ({"f": "1"}, {}, {}, [], [], {}),
    "changed on both, same now": ({"f": "1"}, {"f": "22"}, {"f": "22"}, [], [], {}),
    "changed on both, differing": ({"f": "1"}, {"f": "22"}, {"f": "333"}, [], [], {"f": "left alone"}),
    "edited on A, deleted on B": ({"f": "1"}, {"f": "22"}, {}, [], ["copy_file f"], {"f": "kept the edit"}),
    "deleted on A, edited on B": ({"f": "1"}, {}, {"f": "22"}, ["copy_file f"], [], {"f": "kept the edit"}),
    "touched only (same bytes)": ({"f": "1"}, {"f": "1~"}, {"f": "1"}, [], ["set_mtime f"], {}),
    "first sync, equal": (None, {"f": "1"}, {"f": "1"}, [], [], {}),
    "first sync, differing": (None, {"f": "1"}, {"f": "2"}, [], [], {"f": "left alone"}),
    "folder deleted on A": (
        {"d/x": "1", "d/y": "2"},
        {},
        {"d/x": "1", "d/y": "2"},
        [],
        ["backup d/x", "backup d/y", "remove d"],
        {},
    ),
    "folder deleted on A, a file in it edited on B": (
        {"d/x": "1", "d/y": "2"},
        {},
        {"d/x": "1", "d/y": "33"},
        ["make_dir d", "copy_file d/y"],
        ["backup d/x"],
        {"d/y": "kept the edit"},
    ),
    "folder deleted on A, a new file in it on B": (
        {"d/x": "1"},
        {},
        {"d/x": "1", "d/n": "5"},
        ["make_dir d", "copy_file d/n"],
        ["backup d/x"],
        {},
    ),
    "file replaced by folder on A": (
        {"p": "1"},
        {"p/x": "2"},
        {"p": "1"},
        [],
        ["backup p", "make_dir p", "copy_file p/x"],
        {},
    ),
    "folder replaced by file on A": (
        {"p/x": "2"},
        {"p": "1"},
        {"p/x": "2"},
        [],
        ["backup p/x", "remove p", "copy_file p"],
        {},
    ),
    "folder replaced by file on A, edited inside on B": (
        {"p/x": "2"},
        {"p": "1"},
        {"p/x": "33"},
        [],
        [],
        {"p/x": "left alone", "p": "left alone"},
    ),
    "file on A, folder on B, first sync": (None, {"p": "1"}, {"p/x": "2"}, [], [], {"p": "left alone"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_reconcile_case(name: str) -> None:
    base, a, b, on_a, on_b, conflicts = CASES[name]
    plan = plan_models(base, a, b)
    assert steps(plan, Side.A) == on_a
    assert steps(plan, Side.B) == on_b
    assert {item.path: item.resolution.value for item in plan.conflicts} == conflicts


@pytest.mark.parametrize(
    ("prefer", "winner"),
    [
        (Prefer.A, "22"),
        (Prefer.B, "333"),
        (Prefer.LARGER, "333"),
        (Prefer.NEWER, "333"),
        (Prefer.OLDER, "22"),
    ],
)
def test_a_preference_settles_a_conflict_and_backs_up_the_loser(prefer: Prefer, winner: str) -> None:
    base, a, b = {"f": "1"}, {"f": "22"}, {"f": "333"}
    plan = plan_models(base, a, b, SyncPolicy(prefer=prefer))
    new_a, new_b, backups = apply_model(plan, a, b)
    assert new_a == new_b == {"f": winner}
    assert set(backups) == {"22", "333"} - {winner}


def test_keep_both_keeps_the_loser_beside_the_winner_on_both_sides() -> None:
    a, b = {"doc.txt": "22"}, {"doc.txt": "333"}
    policy = SyncPolicy(prefer=Prefer.B, keep_both=True, stamp="20260101-120000")
    plan = plan_models({"doc.txt": "1"}, a, b, policy)
    new_a, new_b, backups = apply_model(plan, a, b)
    kept = "doc.conflict-A-20260101-120000.txt"
    assert new_a == new_b == {"doc.txt": "333", kept: "22"}
    assert not backups
    assert plan.conflicts[0].kept_as == kept


def test_conflict_names() -> None:
    assert conflict_name(RelPath("d/a.tar.gz"), Side.B, "S") == "d/a.tar.conflict-B-S.gz"
    assert conflict_name(RelPath(".bashrc"), Side.A, "S") == ".bashrc.conflict-A-S"
    assert conflict_name(RelPath("README"), Side.A, "S") == "README.conflict-A-S"


def test_the_merge_pairs_paths_in_component_order_and_refuses_disorder() -> None:
    a = entries_of({"a": "1", "a/b": DIR, "a-b": "2"} | {"a": DIR})
    rows = list(merge_listings([], a, []))
    assert [row.path for row in rows] == ["a", "a/b", "a-b"]
    with pytest.raises(ValueError, match="order"):
        list(merge_listings([], list(reversed(a)), []))
    backwards = list(reversed(a))
    base = [BaseEntry(entry.path, entry.kind) for entry in backwards]
    with pytest.raises(ValueError, match="order"):
        list(merge_changed(map(base_record, base), backwards, backwards, SyncPolicy()))


def test_a_no_change_plan_is_empty_and_asks_for_no_digest() -> None:
    from dirkit.core.sync.merge import digest_requests

    tree = with_parents({"d/x": "1", "y": "22"})
    base = base_of_model(tree)
    rows = list(merge_listings(base, entries_of(tree), entries_of(tree)))
    assert list(digest_requests(rows, SyncPolicy())) == []
    plan = reconcile(rows)
    assert plan.is_empty and not plan.settled and not plan.conflicts


# --- properties ------------------------------------------------------------------------------------

NAMES = ["f", "g", "d/x", "d/y", "d/e/z", "h"]
CONTENTS = st.sampled_from(["1", "22", "333", "1~", "22~"])


@st.composite
def edited(draw: st.DrawFn, base: Model) -> Model:
    """Return base after random edits, touches, creates and deletes (of files; folders follow)."""
    tree: Model = {path: value for path, value in base.items() if value is not None}
    for name in NAMES:
        action = draw(st.sampled_from(["keep", "keep", "edit", "delete", "create"]))
        if action == "edit" and name in tree:
            tree[name] = draw(CONTENTS)
        elif action == "delete":
            tree.pop(name, None)
        elif action == "create" and name not in tree:
            tree[name] = draw(CONTENTS)
    files = {
        path: value
        for path, value in tree.items()
        if not any(is_inside(RelPath(o), RelPath(path)) and o != path for o in tree)
    }
    return with_parents(files)


@st.composite
def three_trees(draw: st.DrawFn) -> tuple[Model | None, Model, Model]:
    """Return a base (None: first sync) and two edited copies of it."""
    base = with_parents({name: draw(CONTENTS) for name in NAMES if draw(st.booleans())})
    a, b = draw(edited(base)), draw(edited(base))
    return (None if draw(st.integers(0, 4)) == 0 else base), a, b


def data_only(tree: Model) -> Model:
    """Return tree with touches dropped (equal bytes with other mtimes settle as equal)."""
    return {path: None if value is None else value.rstrip("~") for path, value in tree.items()}


def swapped_base(rows: list[BaseEntry]) -> list[BaseEntry]:
    return [
        row._replace(
            a_mtime_ns=row.b_mtime_ns, a_mode=row.b_mode, b_mtime_ns=row.a_mtime_ns, b_mode=row.a_mode
        )
        for row in rows
    ]


POLICIES = st.sampled_from([Prefer.NONE, Prefer.NEWER, Prefer.OLDER, Prefer.LARGER, Prefer.A])


@given(three_trees(), POLICIES)
def test_reconcile_is_symmetric_under_swapping_the_sides(
    trees: tuple[Model | None, Model, Model], prefer: Prefer
) -> None:
    base, a, b = trees
    base_rows = base_of_model(base) if base is not None else []
    digests = digests_of(a, b)
    swapped_digests = {(side.other, path): value for (side, path), value in digests.items()}
    swapped_prefer = {Prefer.A: Prefer.B}.get(prefer, prefer)
    forward = reconcile(
        merge_listings(base_rows, entries_of(a), entries_of(b)), SyncPolicy(prefer=prefer), digests
    )
    backward = reconcile(
        merge_listings(swapped_base(base_rows), entries_of(b), entries_of(a)),
        SyncPolicy(prefer=swapped_prefer),
        swapped_digests,
    )
    assert [s.action for s in forward.a_steps] == [s.action for s in backward.b_steps]
    assert [s.action for s in forward.b_steps] == [s.action for s in backward.a_steps]
    assert [c.path for c in forward.conflicts] == [c.path for c in backward.conflicts]


@given(three_trees())
def test_a_path_changed_differently_on_both_sides_is_never_touched(
    trees: tuple[Model | None, Model, Model],
) -> None:
    base, a, b = trees
    plan = plan_models(base, a, b)
    new_a, new_b, _ = apply_model(plan, a, b)
    for conflict in plan.unresolved:
        for before, after in ((a, new_a), (b, new_b)):
            assert before.get(conflict.path) == after.get(conflict.path)
    if base is None:
        kinds = {step.action.kind for step in (*plan.a_steps, *plan.b_steps)}
        assert not kinds & {ActionKind.BACKUP, ActionKind.REMOVE, ActionKind.RENAME}


@given(three_trees(), st.sampled_from([Prefer.NONE, Prefer.NEWER, Prefer.B]), st.booleans())
def test_applying_the_plan_makes_both_sides_equal_except_conflicts_and_loses_nothing(
    trees: tuple[Model | None, Model, Model], prefer: Prefer, keep_both: bool
) -> None:
    base, a, b = trees
    plan = plan_models(base, a, b, SyncPolicy(prefer=prefer, keep_both=keep_both))
    new_a, new_b, backups = apply_model(plan, a, b)
    left_alone = [c.path for c in plan.unresolved]
    assert data_only(outside(new_a, left_alone)) == data_only(outside(new_b, left_alone))
    before = {value.rstrip("~") for tree in (a, b) for value in tree.values() if value is not None}
    after = {value.rstrip("~") for tree in (new_a, new_b) for value in tree.values() if value is not None}
    assert before <= after | set(backups)
    if not plan.unresolved:
        base_rows = next_base(plan, base_of_model(base) if base is not None else [])
        again = reconcile(rows_of(base_rows, new_a, new_b), None, digests_of(new_a, new_b))
        assert again.is_empty and not again.unresolved, again


def test_rows_are_one_per_path() -> None:
    rows = list(
        merge_listings(
            [BaseEntry(RelPath("a"), EntryKind.FILE)],
            [Entry(RelPath("a"), EntryKind.FILE)],
            [Entry(RelPath("b"), EntryKind.FILE)],
        )
    )
    assert [(row.path, row.base is not None, row.a is not None, row.b is not None) for row in rows] == [
        ("a", True, True, False),
        ("b", False, False, True),
    ]
    assert isinstance(rows[0], SyncRow)
    assert ConflictResolution.LEFT_ALONE.value == "left alone"


@given(three_trees(), POLICIES)
def test_reconciling_only_the_changed_rows_gives_the_same_plan(
    trees: tuple[Model | None, Model, Model], prefer: Prefer
) -> None:
    from dirkit.core.sync.merge import changed_rows

    base, a, b = trees
    rows = rows_of(base_of_model(base) if base is not None else [], a, b)
    policy = SyncPolicy(prefer=prefer)
    digests = digests_of(a, b)
    whole, changed = reconcile(rows, policy, digests), reconcile(changed_rows(rows, policy), policy, digests)
    assert whole == changed
    base_rows = base_of_model(base) if base is not None else []
    fused = list(merge_changed(map(base_record, base_rows), entries_of(a), entries_of(b), policy))
    assert fused == list(changed_rows(rows, policy))
