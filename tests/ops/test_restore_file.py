"""Restoring one file from a run's backups: a journaled run that undo reverts; bad paths are refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.core.run.guards import GuardOptions
from dirkit.errors import InvalidPathError, RefusedError, UsageError
from dirkit.ops.run.mirror import MirrorOptions, mirror_trees
from dirkit.ops.run.recovery import claim_tree
from dirkit.ops.run.restore import restore_file
from dirkit.ops.run.undo import undo_run
from dirkit.state.journal import Journal
from tests.support import MakeTree, tree_state

FORCE = MirrorOptions(guards=GuardOptions(force=True))


def mirrored(make_tree: MakeTree, journal: Journal) -> tuple[Path, str]:
    """Mirror a source over a target that has a changed file, a deleted one and a deleted folder."""
    source = make_tree("src", {"keep.txt": "same", "changed.txt": "new text", "docs/guide.txt": "new guide"})
    target = make_tree(
        "dst",
        {
            "keep.txt": "same",
            "changed.txt": "old",
            "gone/deep/a.txt": "deleted",
            "docs/guide.txt": "old guide",
        },
    )
    result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, FORCE)
    assert result.ok, result.failures
    return target, result.run_id


def test_a_replaced_file_comes_back_and_undo_reverts_the_restore(
    make_tree: MakeTree, journal: Journal
) -> None:
    target, run_id = mirrored(make_tree, journal)
    after_mirror = tree_state(target)
    backed_up = target / ".dirkit" / "backups" / run_id / "changed.txt"
    kept_mtime = backed_up.stat().st_mtime_ns
    result = restore_file(journal, LocalBackend(str(target)), run_id, "changed.txt")
    assert result.ok, result.failures
    assert result.operation == "restore"
    assert (target / "changed.txt").read_text() == "old"
    assert (target / "changed.txt").stat().st_mtime_ns == kept_mtime
    assert backed_up.read_text() == "old"  # the backup stays: the restore copied it
    assert (target / result.backup_dir / "changed.txt").read_text() == "new text"  # what it replaced is kept
    undone = undo_run(journal, LocalBackend(str(target)))
    assert undone.ok, undone.failures
    assert {path: state for path, state in tree_state(target).items() if not path.startswith(".dirkit")} == {
        path: state for path, state in after_mirror.items() if not path.startswith(".dirkit")
    }


def test_a_deleted_file_comes_back_with_its_folders(make_tree: MakeTree, journal: Journal) -> None:
    target, run_id = mirrored(make_tree, journal)
    assert not (target / "gone").exists()
    result = restore_file(journal, LocalBackend(str(target)), run_id, "gone/deep/a.txt")
    assert result.ok, result.failures
    assert (target / "gone" / "deep" / "a.txt").read_text() == "deleted"


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("../outside.txt", InvalidPathError),
        ("/etc/passwd", InvalidPathError),
        ("keep.txt", UsageError),  # not in the backups of that run
        ("gone", UsageError),  # a folder, not a file
        (".dirkit/backups/x", UsageError),
        ("", UsageError),
    ],
)
def test_paths_that_are_not_backed_up_files_are_refused(
    make_tree: MakeTree, journal: Journal, path: str, error: type[Exception]
) -> None:
    target, run_id = mirrored(make_tree, journal)
    before = tree_state(target)
    with pytest.raises(error):
        restore_file(journal, LocalBackend(str(target)), run_id, path)
    assert tree_state(target) == before


def test_a_link_planted_in_the_backups_is_not_followed(
    make_tree: MakeTree, journal: Journal, tmp_path: Path
) -> None:
    target, run_id = mirrored(make_tree, journal)
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    backups = target / ".dirkit" / "backups" / run_id
    os.symlink(secret, backups / "planted.txt")
    os.symlink(tmp_path, backups / "planted_dir")
    before = tree_state(target)
    with pytest.raises(UsageError, match="is a symlink, not a file"):
        restore_file(journal, LocalBackend(str(target)), run_id, "planted.txt")
    with pytest.raises(RefusedError, match="symbolic link"):
        restore_file(journal, LocalBackend(str(target)), run_id, "planted_dir/secret.txt")
    assert tree_state(target) == before


def test_an_unknown_run_and_a_held_tree_are_refused(make_tree: MakeTree, journal: Journal) -> None:
    target, run_id = mirrored(make_tree, journal)
    with pytest.raises(UsageError, match="no run nope on this tree"):
        restore_file(journal, LocalBackend(str(target)), "nope", "changed.txt")
    other = Journal.open()
    try:
        with (
            claim_tree(other, LocalBackend(str(target)), "mirror"),
            pytest.raises(RefusedError, match="another dirkit run is working on this tree"),
        ):
            restore_file(journal, LocalBackend(str(target)), run_id, "changed.txt")
    finally:
        other.close()
