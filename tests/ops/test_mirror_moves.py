"""Mirror turns renames found by content into renames on the target: no bytes copied, undoable."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.core.run.guards import GuardOptions
from dirkit.core.run.plan import ActionKind
from dirkit.ops.run.mirror import MirrorOptions, apply_saved_plan, mirror_trees, plan_mirror_trees
from dirkit.ops.run.undo import undo_run
from dirkit.state.journal import Journal
from tests.support import MakeTree, tree_state

FORCE = MirrorOptions(guards=GuardOptions(force=True), jobs=4)
BIG = os.urandom(300_000)


@pytest.fixture
def mirrored(make_tree: MakeTree, journal: Journal) -> tuple[Path, Path]:
    """Return a source and a target that is already its exact copy."""
    source = make_tree(
        "src",
        {"album/one.raw": BIG, "album/two.raw": BIG[::-1], "album/notes.txt": "n", "loose.bin": BIG[:5000]},
    )
    target = source.parent / "dst"
    target.mkdir()
    result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, FORCE)
    assert result.ok, result.failures
    return source, target


def kinds(source: Path, target: Path) -> list[ActionKind]:
    planning = plan_mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), FORCE)
    return [action.kind for action in planning.plan.actions]


def test_renamed_folder_costs_one_rename_and_no_copy(mirrored: tuple[Path, Path], journal: Journal) -> None:
    source, target = mirrored
    before = tree_state(target)
    os.rename(source / "album", source / "album-2024")
    planned = kinds(source, target)
    assert ActionKind.COPY_FILE not in planned and ActionKind.BACKUP not in planned
    assert planned.count(ActionKind.RENAME) == 1
    result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, FORCE)
    assert result.ok, result.failures
    assert result.bytes_copied == 0 and result.files_copied == 0
    assert tree_state(target) == tree_state(source)
    assert plan_mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), FORCE).plan.is_empty
    undone = undo_run(journal, LocalBackend(str(target)), None)
    assert undone.ok, undone.failures
    assert tree_state(target) == before


def test_file_moved_into_a_new_folder_whose_old_folder_is_gone(
    mirrored: tuple[Path, Path], journal: Journal
) -> None:
    source, target = mirrored
    (source / "kept" / "deeper").mkdir(parents=True)
    os.rename(source / "album" / "one.raw", source / "kept" / "deeper" / "one.raw")
    shutil.rmtree(source / "album")
    planned = kinds(source, target)
    assert ActionKind.RENAME in planned
    assert ActionKind.COPY_FILE not in planned
    result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, FORCE)
    assert result.ok, result.failures
    assert tree_state(target) == tree_state(source)
    assert plan_mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), FORCE).plan.is_empty


def test_moved_file_with_new_time_gets_the_source_time(mirrored: tuple[Path, Path], journal: Journal) -> None:
    source, target = mirrored
    os.rename(source / "loose.bin", source / "renamed.bin")
    os.utime(source / "renamed.bin", (1_234_567_890, 1_234_567_890))
    result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, FORCE)
    assert result.ok, result.failures
    assert result.bytes_copied == 0 and result.files_copied == 0
    assert tree_state(target) == tree_state(source)
    assert plan_mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), FORCE).plan.is_empty


def test_moved_and_changed_file_is_not_a_rename(mirrored: tuple[Path, Path]) -> None:
    source, target = mirrored
    os.rename(source / "loose.bin", source / "renamed.bin")
    with open(source / "renamed.bin", "ab") as stream:
        stream.write(b"more")
    planned = kinds(source, target)
    assert ActionKind.RENAME not in planned and ActionKind.COPY_FILE in planned


def test_no_moves_option_copies_instead(mirrored: tuple[Path, Path]) -> None:
    source, target = mirrored
    os.rename(source / "album", source / "album-2024")
    options = MirrorOptions(guards=GuardOptions(force=True), detect_moves=False)
    planning = plan_mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), options)
    planned = [action.kind for action in planning.plan.actions]
    assert ActionKind.RENAME not in planned and ActionKind.COPY_FILE in planned


def test_saved_plan_with_a_rename_applies(mirrored: tuple[Path, Path], journal: Journal) -> None:
    source, target = mirrored
    os.rename(source / "album", source / "renamed")
    planning = plan_mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), FORCE)
    result = apply_saved_plan(
        planning.plan,
        LocalBackend(str(source)),
        LocalBackend(str(target)),
        journal,
        GuardOptions(force=True),
        4,
    )
    assert result.ok, result.failures
    assert tree_state(target) == tree_state(source)
