"""dupes --link/--remove carried out on real trees as journaled runs, and undone byte for byte."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.core.search.dupes import DupeAction, KeepRule, choose_keeper
from dirkit.errors import UsageError
from dirkit.ops.run.undo import undo_run
from dirkit.ops.search.dupes import DupesOptions, find_duplicates
from dirkit.ops.search.dupes_actions import (
    check_separate_roots,
    link_and_remove_duplicates,
    plan_dupe_actions_per_root,
    run_dupe_plans,
)
from dirkit.state.journal import Journal
from tests.support import read_tree

FILES = {
    "one/a.txt": (b"alpha" * 100, 1_600_000_300),
    "one/deep/er/a-copy.txt": (b"alpha" * 100, 1_600_000_100),
    "one/b.bin": (b"\x00\x01beta", 1_600_000_000),
    "one/unique.txt": (b"only me", 1_600_000_000),
    "two/a.txt": (b"alpha" * 100, 1_600_000_200),
    "two/b2.bin": (b"\x00\x01beta", 1_600_000_500),
}


def build(tmp_path: Path) -> list[Path]:
    for name, (data, mtime) in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, ns=(mtime * 10**9, mtime * 10**9))
    return [tmp_path / "one", tmp_path / "two"]


def picture(roots: list[Path]) -> dict[str, tuple[bytes | str, int, int]]:
    """Return every file below the roots (outside .dirkit) with its bytes, mtime and mode."""
    return {
        str(root / path): (node.data, node.mtime_ns, node.st_mode)
        for root in roots
        for path, node in read_tree(root).items()
        if node.kind != "dir"
    }


def dedupe(roots: list[Path], action: DupeAction, rule: KeepRule, journal: Journal) -> list[str]:
    backends = [LocalBackend(str(root)) for root in roots]
    found = find_duplicates(backends, DupesOptions(jobs=1))
    assert len(found.groups) == 2
    keepers = [
        os.path.join(str(roots[k.root_index]), k.path) for k in (choose_keeper(g, rule) for g in found.groups)
    ]
    results = link_and_remove_duplicates(found.groups, action, rule, backends, journal, jobs=2)
    assert all(result.ok for result in results)
    assert len(results) == 2
    return keepers


def undo_roots(roots: list[Path], journal: Journal) -> None:
    for root in roots:
        assert undo_run(journal, LocalBackend(str(root))).ok


@pytest.mark.parametrize("rule", list(KeepRule))
def test_link_then_undo_restores_every_duplicate(tmp_path: Path, rule: KeepRule) -> None:
    roots = build(tmp_path)
    before = picture(roots)
    journal = Journal.open()
    try:
        keepers = dedupe(roots, DupeAction.LINK, rule, journal)
        after = picture(roots)
        assert set(after) == set(before)
        inodes = {os.stat(keeper).st_ino for keeper in keepers}
        for path, (data, _, _) in after.items():
            assert data == before[path][0]
            if path.endswith(("a.txt", "a-copy.txt", ".bin")):
                assert os.stat(path).st_ino in inodes
        for keeper in keepers:
            assert after[keeper] == before[keeper]
        undo_roots(roots, journal)
    finally:
        journal.close()
    assert picture(roots) == before
    restored = set(before) - set(keepers)
    assert all(os.stat(path).st_nlink == 1 for path in restored)


@pytest.mark.parametrize("rule", list(KeepRule))
def test_remove_then_undo_restores_every_removed_file(tmp_path: Path, rule: KeepRule) -> None:
    roots = build(tmp_path)
    before = picture(roots)
    journal = Journal.open()
    try:
        keepers = dedupe(roots, DupeAction.REMOVE, rule, journal)
        after = picture(roots)
        assert set(after) == set(keepers) | {str(tmp_path / "one/unique.txt")}
        assert all(after[path] == before[path] for path in after)
        undo_roots(roots, journal)
    finally:
        journal.close()
    assert picture(roots) == before


def test_a_duplicate_changed_after_the_search_is_left_alone(tmp_path: Path) -> None:
    roots = build(tmp_path)
    backends = [LocalBackend(str(root)) for root in roots]
    journal = Journal.open()
    try:
        found = find_duplicates(backends, DupesOptions(jobs=1))
        plans = plan_dupe_actions_per_root(found.groups, DupeAction.LINK, KeepRule.FIRST_ROOT, backends)
        edited = tmp_path / "two/a.txt"
        edited.write_bytes(b"edited since the search")
        gone_keeper = tmp_path / "one/b.bin"
        gone_keeper.rename(tmp_path / "one/b.moved")
        results = run_dupe_plans(plans, backends, journal, jobs=1)
        by_root = {result.target: result for result in results}
        second = by_root[str(roots[1])]
        assert [(failure.path, failure.conflict) for failure in second.failures if failure.conflict] == [
            ("a.txt", True)
        ]
        assert [item.path for item in second.plan.skipped] == ["b2.bin"]
        assert edited.read_bytes() == b"edited since the search"
        assert (tmp_path / "two/b2.bin").read_bytes() == b"\x00\x01beta"
        assert os.stat(tmp_path / "one/deep/er/a-copy.txt").st_ino == os.stat(tmp_path / "one/a.txt").st_ino
        undo_roots(roots, journal)
    finally:
        journal.close()
    assert os.stat(tmp_path / "one/deep/er/a-copy.txt").st_nlink == 1
    assert edited.read_bytes() == b"edited since the search"


def test_overlapping_roots_are_refused(tmp_path: Path) -> None:
    roots = build(tmp_path)
    with pytest.raises(UsageError, match="overlaps"):
        check_separate_roots([LocalBackend(str(roots[0])), LocalBackend(str(roots[0] / "deep"))])
    with pytest.raises(UsageError, match="overlaps"):
        check_separate_roots([LocalBackend(str(roots[1])), LocalBackend(str(roots[1]))])
