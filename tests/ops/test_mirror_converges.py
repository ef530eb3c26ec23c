"""Mirror converges on metadata too: after it, compare in both modes says same and a re-plan is empty."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.core.run.guards import GuardOptions
from dirkit.core.run.plan import ActionKind
from dirkit.ops.compare.trees import CompareOptions, compare_trees
from dirkit.ops.run.mirror import MirrorOptions, apply_saved_plan, mirror_trees, plan_mirror_trees
from dirkit.ops.run.undo import undo_run
from dirkit.state.journal import Journal
from tests.support import MakeTree, tree_state

QUICK = MirrorOptions(guards=GuardOptions(force=True), jobs=2)
CONTENT = MirrorOptions(guards=GuardOptions(force=True), jobs=2, content=True)
BIG = os.urandom(20_000)


def planned_kinds(source: Path, target: Path, options: MirrorOptions) -> list[ActionKind]:
    """Return the kinds of the actions a mirror of source to target would plan now."""
    planning = plan_mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), options)
    return [action.kind for action in planning.plan.actions]


def mirror(source: Path, target: Path, journal: Journal, options: MirrorOptions) -> None:
    """Mirror source to target and insist that it went well."""
    result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, options)
    assert result.ok, result.failures


def assert_trees_same(source: Path, target: Path) -> None:
    """Assert that compare, quick and by content, finds no difference, and neither mirror mode plans."""
    for content in (False, True):
        options = CompareOptions(content=content)
        diff = compare_trees(LocalBackend(str(source)), LocalBackend(str(target)), options)
        assert not diff.has_differences, [(c.path, c.status, c.detail) for c in diff.differences]
    assert planned_kinds(source, target, QUICK) == []
    assert planned_kinds(source, target, CONTENT) == []


def test_content_mirror_sets_mtime_and_mode_of_equal_files_without_copying(
    make_tree: MakeTree, journal: Journal
) -> None:
    source = make_tree("src", {"same-bytes": BIG, "d/also": "x"})
    target = make_tree("dst", {"same-bytes": BIG, "d/also": "x"})
    os.utime(target / "same-bytes", (1_500_000_000, 1_500_000_000))
    os.chmod(source / "d" / "also", 0o4755)
    os.chmod(target / "d" / "also", 0o644)
    before = tree_state(target)
    assert set(planned_kinds(source, target, CONTENT)) <= {ActionKind.SET_MTIME, ActionKind.SET_MODE}
    result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, CONTENT)
    assert result.ok, result.failures
    assert result.files_copied == 0 and result.plan.totals.backups == 0
    assert not (target / ".dirkit" / "backups" / result.run_id).exists()
    assert tree_state(target) == tree_state(source)
    assert_trees_same(source, target)
    undone = undo_run(journal, LocalBackend(str(target)))
    assert undone.ok, undone.failures
    assert tree_state(target) == before


def test_setuid_mode_is_a_difference_and_mirror_settles_it(make_tree: MakeTree, journal: Journal) -> None:
    source = make_tree("src", {"tool": "#!/bin/sh\n"})
    target = make_tree("dst", {"tool": "#!/bin/sh\n"})
    os.chmod(source / "tool", 0o4777)
    os.chmod(target / "tool", 0o644)
    diff = compare_trees(LocalBackend(str(source)), LocalBackend(str(target)))
    assert [(c.path, c.detail) for c in diff.differences] == [("tool", "mode 4777 -> 0644")]
    assert planned_kinds(source, target, QUICK) == [ActionKind.SET_MODE]
    mirror(source, target, journal, QUICK)
    assert os.stat(target / "tool").st_mode & 0o7777 == 0o4777
    assert_trees_same(source, target)


def test_moved_folder_gets_the_source_metadata_of_its_contents(make_tree: MakeTree, journal: Journal) -> None:
    files = {"album/one.raw": BIG, "album/inner/two.raw": BIG[::-1], "album/inner/three.raw": BIG[:999]}
    source = make_tree("src", files, mtime=1_600_000_000)
    renamed = {name.replace("album", "old"): data for name, data in files.items()}
    target = make_tree("dst", renamed, mtime=1_500_000_000)
    os.chmod(source / "album" / "one.raw", 0o600)
    os.chmod(source / "album" / "inner", 0o750)
    os.utime(source / "album" / "inner", (1_400_000_000, 1_400_000_000))
    kinds = planned_kinds(source, target, QUICK)
    assert kinds.count(ActionKind.RENAME) == 1 and ActionKind.COPY_FILE not in kinds
    mirror(source, target, journal, QUICK)
    assert tree_state(target) == tree_state(source)
    assert_trees_same(source, target)


def test_mirror_of_directory_metadata_converges(make_tree: MakeTree, journal: Journal) -> None:
    source = make_tree("src", {"d/f": "x", "e": None})
    target = make_tree("dst", {"d/f": "x", "e": None, "extra": "gone soon"})
    os.chmod(source / "e", 0o700)
    os.utime(source / "d", (1_400_000_000, 1_400_000_000))
    mirror(source, target, journal, CONTENT)
    assert tree_state(target) == tree_state(source)
    assert_trees_same(source, target)


@pytest.mark.parametrize("saved", [False, True], ids=["mirror", "apply-saved-plan"])
def test_undo_of_moves_with_new_metadata_restores_the_old_metadata(
    make_tree: MakeTree, journal: Journal, saved: bool
) -> None:
    files = {"album/one.raw": BIG, "album/inner/two.raw": BIG[::-1], "loose.bin": BIG[:5000]}
    target_files = {"old/one.raw": BIG, "old/inner/two.raw": BIG[::-1], "was-loose.bin": BIG[:5000]}
    source = make_tree("src", files, mtime=1_600_000_000)
    target = make_tree("dst", target_files, mtime=1_500_000_000)
    os.chmod(source / "album" / "one.raw", 0o600)
    os.chmod(source / "loose.bin", 0o755)
    os.chmod(source / "album" / "inner", 0o750)
    before = tree_state(target)
    planning = plan_mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), QUICK)
    kinds = [action.kind for action in planning.plan.actions]
    assert kinds.count(ActionKind.RENAME) == 2 and ActionKind.COPY_FILE not in kinds
    if saved:
        guards = GuardOptions(force=True)
        result = apply_saved_plan(
            planning.plan, LocalBackend(str(source)), LocalBackend(str(target)), journal, guards, 2
        )
        assert result.ok, result.failures
    else:
        mirror(source, target, journal, QUICK)
    assert tree_state(target) == tree_state(source)
    assert_trees_same(source, target)
    undone = undo_run(journal, LocalBackend(str(target)))
    assert undone.ok, undone.failures
    assert tree_state(target) == before


def test_file_moved_into_a_folder_whose_time_and_mode_differ_is_still_a_rename(
    make_tree: MakeTree, journal: Journal
) -> None:
    source = make_tree("src", {"keep/moved.raw": BIG, "keep/other": "o"})
    target = make_tree("dst", {"old/moved.raw": BIG, "keep/other": "o"})
    os.chmod(source / "keep", 0o700)
    os.utime(source / "keep", (1_400_000_000, 1_400_000_000))
    kinds = planned_kinds(source, target, QUICK)
    assert ActionKind.RENAME in kinds and ActionKind.COPY_FILE not in kinds
    before = tree_state(target)
    mirror(source, target, journal, QUICK)
    assert tree_state(target) == tree_state(source)
    assert_trees_same(source, target)
    undone = undo_run(journal, LocalBackend(str(target)))
    assert undone.ok, undone.failures
    assert tree_state(target) == before


@pytest.mark.parametrize("delete", [True, False], ids=["delete", "no-delete"])
def test_folder_a_file_is_moved_out_of_keeps_its_time_for_undo(
    make_tree: MakeTree, journal: Journal, delete: bool
) -> None:
    source = make_tree("src", {"moved.raw": BIG})
    target = make_tree("dst", {"gone/deeper/moved.raw": BIG, "gone/deeper/extra": "e"})
    for folder in ("gone/deeper", "gone"):
        os.utime(target / folder, (1_300_000_000, 1_300_000_000))
    before = tree_state(target)
    options = MirrorOptions(guards=GuardOptions(force=True), jobs=2, delete=delete)
    assert ActionKind.RENAME in planned_kinds(source, target, options)
    mirror(source, target, journal, options)
    if delete:
        assert tree_state(target) == tree_state(source)
    else:
        assert os.stat(target / "gone" / "deeper").st_mtime_ns == 1_300_000_000 * 10**9
    undone = undo_run(journal, LocalBackend(str(target)))
    assert undone.ok, undone.failures
    assert tree_state(target) == before
