"""Choosing the file to keep in a group of duplicates, and the plan for the others."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dirkit.core.search.dupes import (
    DupeAction,
    DupeFile,
    DupeGroup,
    KeepRule,
    choose_keeper,
    plan_dupe_actions,
)
from dirkit.core.tree.paths import RelPath


def make_group(*files: DupeFile) -> DupeGroup:
    return DupeGroup(10, "digest", files)


OLD = DupeFile(1, RelPath("deep/down/old.txt"), mtime_ns=100, dev=1, ino=1)
NEW = DupeFile(0, RelPath("new-but-first-root.txt"), mtime_ns=300, dev=1, ino=2)
SHORT = DupeFile(1, RelPath("s.txt"), mtime_ns=200, dev=1, ino=3)
GROUP = make_group(NEW, OLD, SHORT)


def test_keep_rules() -> None:
    assert choose_keeper(GROUP, KeepRule.OLDEST) == OLD
    assert choose_keeper(GROUP, KeepRule.NEWEST) == NEW
    assert choose_keeper(GROUP, KeepRule.SHORTEST_PATH) == SHORT
    assert choose_keeper(GROUP, KeepRule.FIRST_ROOT) == NEW


def test_ties_go_to_the_first_in_root_then_path_order() -> None:
    first = DupeFile(0, RelPath("b"), mtime_ns=5)
    second = DupeFile(0, RelPath("a/z"), mtime_ns=5)
    third = DupeFile(1, RelPath("a"), mtime_ns=5)
    group = make_group(third, first, second)
    assert choose_keeper(group, KeepRule.OLDEST) == second
    assert choose_keeper(group, KeepRule.NEWEST) == second
    assert choose_keeper(group, KeepRule.FIRST_ROOT) == second
    assert choose_keeper(group, KeepRule.SHORTEST_PATH) == first


def test_unknown_times_never_win_oldest_or_newest() -> None:
    unknown = DupeFile(0, RelPath("a"), mtime_ns=None)
    known = DupeFile(0, RelPath("b"), mtime_ns=50)
    assert choose_keeper(make_group(unknown, known), KeepRule.OLDEST) == known
    assert choose_keeper(make_group(unknown, known), KeepRule.NEWEST) == known


def test_remove_plan_removes_all_but_the_keeper() -> None:
    steps = plan_dupe_actions([GROUP], DupeAction.REMOVE, KeepRule.OLDEST)
    assert [(step.action, step.target, step.keeper) for step in steps] == [
        (DupeAction.REMOVE, NEW, OLD),
        (DupeAction.REMOVE, SHORT, OLD),
    ]
    assert all(step.skipped is None for step in steps)


def test_link_plan_skips_files_on_another_filesystem() -> None:
    elsewhere = DupeFile(2, RelPath("usb/copy"), mtime_ns=400, dev=9, ino=1)
    steps = plan_dupe_actions([make_group(OLD, elsewhere, SHORT)], DupeAction.LINK, KeepRule.OLDEST)
    assert [(step.target, step.skipped is not None) for step in steps] == [(SHORT, False), (elsewhere, True)]
    assert steps[1].skipped is not None and "filesystem" in steps[1].skipped


files_strategy = st.lists(
    st.builds(
        DupeFile,
        st.integers(0, 2),
        st.from_regex(r"[a-c]{1,3}(/[a-c]{1,3}){0,2}", fullmatch=True).map(RelPath),
        st.one_of(st.none(), st.integers(0, 5)),
        st.integers(1, 2),
    ),
    min_size=2,
    max_size=8,
    unique_by=lambda item: (item.root_index, item.path),
)


@given(
    st.lists(files_strategy, min_size=1, max_size=4),
    st.sampled_from(list(KeepRule)),
    st.sampled_from(list(DupeAction)),
)
def test_plans_touch_every_file_but_one_per_group(
    groups_files: list[list[DupeFile]], rule: KeepRule, action: DupeAction
) -> None:
    groups = [make_group(*files) for files in groups_files]
    steps = plan_dupe_actions(groups, action, rule)
    assert len(steps) == sum(len(group.files) - 1 for group in groups)
    start = 0
    for group in groups:
        own = steps[start : start + len(group.files) - 1]
        start += len(group.files) - 1
        keeper = choose_keeper(group, rule)
        assert keeper in group.files
        assert all(step.keeper == keeper and step.action is action for step in own)
        assert sorted(step.target for step in own) == sorted(item for item in group.files if item != keeper)
