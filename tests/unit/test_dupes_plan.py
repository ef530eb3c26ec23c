"""Turning the choice of what to do with duplicates into one executable plan per root."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dirkit.core.run.plan import ActionKind, Fingerprint
from dirkit.core.run.plan_json import plan_from_json_lines, plan_to_json_lines
from dirkit.core.search.dupes import DupeAction, DupeFile, DupeGroup, KeepRule, choose_keeper
from dirkit.core.search.dupes_plan import plan_dupe_runs
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import RelPath

ROOTS = ["/r0", "/r1", "/r2"]


@st.composite
def dupe_groups(draw: st.DrawFn) -> list[DupeGroup]:
    """Groups of distinct files spread over three roots, on one or two filesystems."""
    names = draw(st.lists(st.sampled_from(["a", "b", "c/d", "c/e", "f"]), min_size=2, max_size=12))
    used: set[tuple[int, str]] = set()
    files: list[DupeFile] = []
    for number, name in enumerate(names):
        root = draw(st.integers(0, 2))
        if (root, name) in used:
            continue
        used.add((root, name))
        mtime = draw(st.one_of(st.none(), st.integers(0, 5)))
        files.append(DupeFile(root, RelPath(name), mtime, dev=draw(st.integers(1, 2)), ino=number + 1))
    cut = draw(st.integers(0, len(files)))
    groups = [files[:cut], files[cut:]]
    return [
        DupeGroup(10 + index, f"d{index}", tuple(group))
        for index, group in enumerate(groups)
        if len(group) > 1
    ]


@given(dupe_groups(), st.sampled_from(list(DupeAction)), st.sampled_from(list(KeepRule)))
def test_every_duplicate_is_backed_up_first_and_keepers_are_never_touched(
    groups: list[DupeGroup], action: DupeAction, rule: KeepRule
) -> None:
    plans = plan_dupe_runs(groups, action, rule, ROOTS)
    keepers = {choose_keeper(group, rule) for group in groups}
    touched: set[tuple[int, str]] = set()
    for index, plan in plans:
        assert plan.target == ROOTS[index]
        assert plan.operation == f"dupes-{action.value}"
        actions = list(plan.actions)
        for position, step in enumerate(actions):
            touched.add((index, step.path))
            if step.kind is ActionKind.BACKUP:
                assert step.expected is not None and step.expected.kind is EntryKind.FILE
                if action is DupeAction.LINK:
                    link = actions[position + 1]
                    assert (link.kind, link.path) == (ActionKind.HARD_LINK, step.path)
                    assert (link.source_path is None) != (link.link_target is None)
                    assert link.source_expected is not None
            else:
                assert step.kind is ActionKind.HARD_LINK and action is DupeAction.LINK
                assert actions[position - 1].kind is ActionKind.BACKUP
        assert plan.totals.backups == len(plan.actions) // (2 if action is DupeAction.LINK else 1)
        assert plan_from_json_lines(plan_to_json_lines(plan)).actions == plan.actions
    assert not {(keeper.root_index, keeper.path) for keeper in keepers} & touched
    duplicates = sum(len(group.files) - 1 for group in groups)
    skipped = sum(len(plan.skipped) for _, plan in plans)
    backed_up = sum(plan.totals.backups for _, plan in plans)
    assert backed_up + skipped == duplicates


def test_links_across_roots_name_the_kept_file_and_across_filesystems_are_skipped() -> None:
    kept = DupeFile(0, RelPath("k"), 5, dev=1, ino=1)
    same_fs = DupeFile(1, RelPath("x/y"), 7, dev=1, ino=2)
    other_fs = DupeFile(2, RelPath("z"), 9, dev=2, ino=3)
    plans = dict(
        plan_dupe_runs(
            [DupeGroup(4, "d", (kept, same_fs, other_fs))], DupeAction.LINK, KeepRule.OLDEST, ROOTS
        )
    )
    assert set(plans) == {1, 2}
    backup, link = plans[1].actions
    assert backup.expected == Fingerprint(EntryKind.FILE, 4, 7)
    assert (link.link_target, link.source_expected) == ("/r0/k", Fingerprint(EntryKind.FILE, 4, 5))
    assert plans[2].actions == ()
    assert [item.path for item in plans[2].skipped] == ["z"]
    assert "filesystem" in plans[2].skipped[0].reason
    removal = dict(
        plan_dupe_runs([DupeGroup(4, "d", (kept, other_fs))], DupeAction.REMOVE, KeepRule.OLDEST, ROOTS)
    )
    assert [step.kind for step in removal[2].actions] == [ActionKind.BACKUP]
    assert removal[2].totals.deleted_files == 1
