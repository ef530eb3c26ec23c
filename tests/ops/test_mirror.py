"""Mirror, apply, undo and backups on real temporary trees, with faults injected where it matters."""

from __future__ import annotations

import errno
import os
import subprocess
import threading
from pathlib import Path

import pytest

from dirkit.backends.faulty import Fault, FaultyBackend
from dirkit.backends.local import LocalBackend
from dirkit.backends.memory import MemoryBackend
from dirkit.core.run.guards import GuardOptions
from dirkit.core.run.plan import Action, ActionKind, fingerprint_of, make_plan
from dirkit.core.run.undo import StepStatus
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import RelPath
from dirkit.errors import RefusedError, StalePlanError
from dirkit.ops.run.backups import list_backup_folders, prune_backups
from dirkit.ops.run.execute import ExecuteOptions, execute_plan
from dirkit.ops.run.mirror import (
    MirrorOptions,
    apply_saved_plan,
    mirror_trees,
    plan_mirror_trees,
)
from dirkit.ops.run.recovery import claim_tree, recover_target
from dirkit.ops.run.undo import undo_run
from dirkit.state.journal import Journal, RunStatus
from tests.support import MakeTree, require_tool, tree_state

FORCE = MirrorOptions(guards=GuardOptions(force=True), jobs=4)


def sample_trees(make_tree: MakeTree) -> tuple[Path, Path]:
    """Return a source and a target that differ in every way a mirror handles."""
    source = make_tree(
        "src",
        {
            "same.txt": "same",
            "changed.txt": "new content",
            "new/deep/file.bin": b"\x00\x01" * 100,
            "type": "now a file",
            "dir2file/": None,
            "empty/": None,
            "private.txt": "secret",
        },
    )
    os.chmod(source / "private.txt", 0o600)
    os.symlink("same.txt", source / "link")
    os.utime(source / "changed.txt", ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    target = make_tree(
        "dst",
        {
            "same.txt": "same",
            "changed.txt": "old",
            "type/inner.txt": "was inside a dir",
            "extra/a.txt": "extra",
            "extra.txt": "extra file",
            "private.txt": "secret",
        },
        mtime=1_500_000_000,
    )
    os.utime(target / "same.txt", (1_600_000_000, 1_600_000_000))
    return source, target


def test_mirror_makes_an_exact_copy(make_tree: MakeTree, journal: Journal) -> None:
    source, target = sample_trees(make_tree)
    result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, FORCE)
    assert result.ok, result.failures
    diff = require_tool("diff")
    completed = subprocess.run(
        [diff, "-r", "--no-dereference", "-x", ".dirkit", str(source), str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout
    assert tree_state(target) == tree_state(source)
    again = plan_mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), FORCE)
    assert again.plan.is_empty


def test_undo_restores_the_target_byte_for_byte(make_tree: MakeTree, journal: Journal) -> None:
    source, target = sample_trees(make_tree)
    before = tree_state(target)
    mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, FORCE)
    result = undo_run(journal, LocalBackend(str(target)))
    assert result.ok, result.failures
    assert tree_state(target) == before
    redo = undo_run(journal, LocalBackend(str(target)))
    assert redo.ok, redo.failures
    assert tree_state(target) == tree_state(source)


def test_no_delete_keeps_extras(make_tree: MakeTree, journal: Journal) -> None:
    source, target = sample_trees(make_tree)
    options = MirrorOptions(delete=False, guards=GuardOptions(force=True))
    mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, options)
    assert (target / "extra.txt").read_text() == "extra file"
    assert (target / "changed.txt").read_text() == "new content"


def test_replaced_and_deleted_files_are_in_the_backup_folder(make_tree: MakeTree, journal: Journal) -> None:
    source, target = sample_trees(make_tree)
    result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, FORCE)
    backups = target / result.backup_dir
    assert (backups / "changed.txt").read_text() == "old"
    assert (backups / "extra" / "a.txt").read_text() == "extra"
    assert (backups / "type" / "inner.txt").read_text() == "was inside a dir"
    folders = list_backup_folders(LocalBackend(str(target)), journal)
    assert [(folder.run_id, folder.files) for folder in folders] == [(result.run_id, 5)]


def test_guards_refuse_an_empty_source_and_mass_deletion(make_tree: MakeTree, journal: Journal) -> None:
    source = make_tree("src", {})
    target = make_tree("dst", {"a": "1", "b": "2", "c": "3"})
    before = tree_state(target)
    with pytest.raises(RefusedError, match="source is empty"):
        mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal)
    (source / "a").write_text("1")
    with pytest.raises(RefusedError, match="delete 2 of the target's 3 files"):
        mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal)
    assert tree_state(target) == before


def test_apply_refuses_a_stale_plan_and_changes_nothing(make_tree: MakeTree, journal: Journal) -> None:
    source, target = sample_trees(make_tree)
    planning = plan_mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), FORCE)
    (target / "changed.txt").write_text("edited after the plan")
    before = tree_state(target)
    with pytest.raises(StalePlanError, match=r"changed\.txt: changed in the target"):
        apply_saved_plan(
            planning.plan,
            LocalBackend(str(source)),
            LocalBackend(str(target)),
            journal,
            GuardOptions(force=True),
        )
    assert tree_state(target) == before
    (target / "changed.txt").write_text("old")
    os.utime(target / "changed.txt", (1_500_000_000, 1_500_000_000))
    (target / "unrelated.txt").write_text("not touched by the plan")
    result = apply_saved_plan(
        planning.plan, LocalBackend(str(source)), LocalBackend(str(target)), journal, GuardOptions(force=True)
    )
    assert result.ok
    assert (target / "unrelated.txt").exists()


def test_apply_notices_a_new_file_inside_a_directory_it_deletes(
    make_tree: MakeTree, journal: Journal
) -> None:
    source, target = sample_trees(make_tree)
    planning = plan_mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), FORCE)
    (target / "extra" / "late.txt").write_text("arrived after the plan")
    with pytest.raises(StalePlanError, match="something below this directory changed"):
        apply_saved_plan(planning.plan, LocalBackend(str(source)), LocalBackend(str(target)), journal)


def test_undo_leaves_a_later_edit_alone(make_tree: MakeTree, journal: Journal) -> None:
    source, target = sample_trees(make_tree)
    mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, FORCE)
    (target / "changed.txt").write_text("edited by the user after the run")
    result = undo_run(journal, LocalBackend(str(target)))
    assert [failure.path for failure in result.conflicts] == ["changed.txt"]
    assert (target / "changed.txt").read_text() == "edited by the user after the run"
    assert (target / "extra.txt").read_text() == "extra file"
    assert not (target / "new").exists()


def test_a_full_disk_stops_the_run_and_loses_nothing(make_tree: MakeTree, journal: Journal) -> None:
    source = make_tree("src", {f"f{index}": f"new {index}" for index in range(10)})
    target = make_tree("dst", {f"f{index}": f"old content {index}" for index in range(10)})
    faulty = FaultyBackend(LocalBackend(str(target)), [Fault("write_file", errno.ENOSPC, nth=3)])
    options = MirrorOptions(guards=GuardOptions(force=True), jobs=1)
    result = mirror_trees(LocalBackend(str(source)), faulty, journal, options)
    assert result.stopped_by is not None and "No space left" in result.stopped_by
    assert journal.run(result.run_id) is not None
    backups = target / result.backup_dir
    for index in range(10):
        path = target / f"f{index}"
        if path.exists() and path.read_text() == f"new {index}":
            assert (backups / f"f{index}").read_text() == f"old content {index}"
        else:
            assert path.read_text() == f"old content {index}"
            assert not (backups / f"f{index}").exists()
    rerun = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, options)
    assert rerun.ok
    assert tree_state(target) == tree_state(source)


def test_a_failed_rename_skips_that_item_only(make_tree: MakeTree, journal: Journal) -> None:
    source = make_tree("src", {f"f{index}": f"new {index}" for index in range(5)})
    target = make_tree("dst", {f"f{index}": f"old content {index}" for index in range(5)})
    faulty = FaultyBackend(LocalBackend(str(target)), [Fault("rename", errno.EIO, nth=2)])
    options = MirrorOptions(guards=GuardOptions(force=True), jobs=1)
    result = mirror_trees(LocalBackend(str(source)), faulty, journal, options)
    assert [failure.path for failure in result.failures] == ["f1"]
    assert "Input/output error" in result.failures[0].reason
    assert "keeps its old content" in result.failures[0].reason
    assert (target / "f1").read_text() == "old content 1"
    assert all((target / f"f{index}").read_text() == f"new {index}" for index in (0, 2, 3, 4))


def test_a_stop_request_ends_the_run_as_interrupted(make_tree: MakeTree, journal: Journal) -> None:
    source = make_tree("src", {"a": "1"})
    target = make_tree("dst", {})
    stop = threading.Event()
    stop.set()
    result = mirror_trees(
        LocalBackend(str(source)), LocalBackend(str(target)), journal, FORCE, ExecuteOptions(stop=stop)
    )
    assert result.interrupted and result.steps_done == 0
    record = journal.run(result.run_id)
    assert record is not None and record.status is RunStatus.INTERRUPTED
    assert not (target / "a").exists()


def test_recovery_marks_a_dead_run_and_removes_its_temporary_files(tmp_path: Path, journal: Journal) -> None:
    target_root = tmp_path / "dst"
    (target_root / "d").mkdir(parents=True)
    leftover = target_root / "d" / ".x.dirkit-tmp-0a1b2c3d"
    leftover.write_bytes(b"partial")
    (target_root / "d" / "keep.dirkit-tmp-not-ours").write_bytes(b"someone else's")
    dead = subprocess.Popen(["true"])
    dead.wait()
    target = LocalBackend(str(target_root))
    copy = Action(ActionKind.COPY_FILE, RelPath("d/x"), source_path=RelPath("d/x"), size=7)
    journal.start_run(
        "r1",
        "mirror",
        target.description,
        "src",
        RelPath(".dirkit/backups/r1"),
        dead.pid,
        os.uname().nodename,
        "2026-01-01T00:00:00",
        {},
        actions=[copy],
    )
    journal.mark_started("r1", 1)
    recovered = recover_target(journal, target)
    assert [(run.run_id, run.temp_files_removed) for run in recovered] == [("r1", 1)]
    assert not leftover.exists()
    assert (target_root / "d" / "keep.dirkit-tmp-not-ours").exists()
    record = journal.run("r1")
    assert record is not None and record.status is RunStatus.INTERRUPTED


def test_a_live_run_on_the_same_tree_is_refused(tmp_path: Path, journal: Journal) -> None:
    target = LocalBackend(str(tmp_path))
    with claim_tree(journal, target, "mirror") as claim:
        other = Journal.open()
        try:
            expected = f"another dirkit run .*run {claim.run_id} .*pid {os.getpid()}"
            with pytest.raises(RefusedError, match=expected):
                recover_target(other, target)
        finally:
            other.close()


def test_prune_keeps_the_newest_backups(make_tree: MakeTree, journal: Journal) -> None:
    source = make_tree("src", {"f": "v0"})
    target = make_tree("dst", {"f": "start"})
    options = MirrorOptions(guards=GuardOptions(force=True), keep_backups=2)
    for version in range(4):
        (source / "f").write_text(f"version {version}")
        os.utime(source / "f", (1_000 + version, 1_000 + version))
        mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, options)
    folders = list_backup_folders(LocalBackend(str(target)), journal)
    assert len(folders) == 2
    assert (target / folders[-1].path / "f").read_text() == "version 2"
    pruned = prune_backups(LocalBackend(str(target)), journal, keep=1)
    assert len(pruned) == 1
    with pytest.raises(RefusedError, match="pruned"):
        undo_run(journal, LocalBackend(str(target)), pruned[0].run_id)


def test_the_executor_runs_any_plan_with_hard_links_and_undoes_it(journal: Journal) -> None:
    tree = MemoryBackend()
    tree.add_file("original", b"same bytes", mtime_ns=10)
    tree.add_file("dupe", b"same bytes", mtime_ns=20)
    original, dupe = tree.stat(RelPath("original")), tree.stat(RelPath("dupe"))
    plan = make_plan(
        "dupes",
        tree.description,
        [
            Action(ActionKind.BACKUP, dupe.path, expected=fingerprint_of(dupe)),
            Action(
                ActionKind.HARD_LINK,
                dupe.path,
                source_path=original.path,
                source_expected=fingerprint_of(original),
            ),
        ],
    )
    result = execute_plan(plan, tree, journal)
    assert result.ok, result.failures
    assert tree.stat(RelPath("dupe")).ino == original.ino
    steps = journal.steps(result.run_id)
    assert [step.status for step in steps] == [StepStatus.DONE, StepStatus.DONE]
    undone = undo_run(journal, tree)
    assert undone.ok, undone.failures
    restored = tree.stat(RelPath("dupe"))
    assert restored.kind is EntryKind.FILE and restored.ino == dupe.ino and restored.mtime_ns == 20


def test_an_interrupted_run_that_backed_up_nothing_can_be_undone(tmp_path: Path, journal: Journal) -> None:
    target_root = tmp_path / "dst"
    target_root.mkdir()
    (target_root / "a").write_text("untouched")
    target = LocalBackend(str(target_root))
    entry = target.stat(RelPath("a"))
    actions = [
        Action(ActionKind.BACKUP, RelPath("a"), expected=fingerprint_of(entry)),
        Action(ActionKind.COPY_FILE, RelPath("a"), source_path=RelPath("a"), size=3, mtime_ns=1),
    ]
    dead = subprocess.Popen(["true"])
    dead.wait()
    journal.start_run(
        "r1",
        "mirror",
        target.description,
        "src",
        RelPath(".dirkit/backups/r1"),
        dead.pid,
        os.uname().nodename,
        "2026-01-01T00:00:00",
        {},
        actions=actions,
    )
    journal.mark_started("r1", 2)
    result = undo_run(journal, target)
    assert result.ok, result.failures
    assert (target_root / "a").read_text() == "untouched"
