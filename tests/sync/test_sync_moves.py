"""Sync carries a rename found by content as one rename on the other side: no bytes copied, undoable,
and an interruption after the rename settles itself."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from dirkit.backends.faulty import Fault, FaultyBackend
from dirkit.backends.local import LocalBackend
from dirkit.core.run.plan import ActionKind
from dirkit.ops.sync.planning import SyncOptions
from dirkit.ops.sync.run import sync_trees
from dirkit.ops.sync.undo import undo_sync
from dirkit.state.journal import Journal
from tests.support import tree_state as full_state

BIG = os.urandom(200_000)


def tree_state(root: Path) -> dict[str, object]:
    """Return the tree's state, folders by kind only (sync does not carry folders' times)."""
    return {path: "dir" if held[0] == "dir" else held for path, held in full_state(root).items()}


def synced_pair(tmp_path: Path, journal: Journal) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    (a / "album").mkdir(parents=True)
    (a / "album" / "one.raw").write_bytes(BIG)
    (a / "album" / "two.raw").write_bytes(BIG[::-1])
    (a / "loose.bin").write_bytes(BIG[:5000])
    b.mkdir()
    assert sync_trees(LocalBackend(str(a)), LocalBackend(str(b)), journal).in_step
    return a, b


def test_a_folder_renamed_on_a_is_one_rename_on_b_and_undo_reverts_it(
    tmp_path: Path, journal: Journal
) -> None:
    a, b = synced_pair(tmp_path, journal)
    before_b = full_state(b)
    os.rename(a / "album", a / "album-2024")
    (a / "extras").mkdir()
    os.rename(a / "loose.bin", a / "extras" / "loose.bin")
    result = sync_trees(LocalBackend(str(a)), LocalBackend(str(b)), journal)
    assert result.in_step
    steps = [step.action for step in result.planning.plan.b_steps]
    assert [(s.kind, s.path) for s in steps] == [
        (ActionKind.RENAME, "album-2024"),
        (ActionKind.MAKE_DIR, "extras"),
        (ActionKind.RENAME, "extras/loose.bin"),
    ]
    assert not result.planning.plan.a_steps
    assert result.b_run is not None and result.b_run.bytes_copied == 0
    assert tree_state(b) == tree_state(a)
    again = sync_trees(LocalBackend(str(a)), LocalBackend(str(b)), journal)
    assert again.planning.plan.is_empty and again.planning.digests_read == 0
    undo_sync(journal, LocalBackend(str(b)), None, LocalBackend)
    assert full_state(b) == before_b
    # the base is as before the sync: the rename on A is seen again, and carried again
    redo = sync_trees(LocalBackend(str(a)), LocalBackend(str(b)), journal)
    assert redo.in_step and redo.b_run is not None and redo.b_run.bytes_copied == 0
    assert tree_state(b) == tree_state(a)


def test_a_sync_cut_short_after_a_rename_settles_without_copying(tmp_path: Path, journal: Journal) -> None:
    a, b = synced_pair(tmp_path, journal)
    os.rename(b / "album", b / "photos")
    shutil.copy2(a / "loose.bin", a / "loose-copy.bin")
    # B renamed: A renames album -> photos, then copying loose-copy.bin to B fails (the link drops)
    failing = FaultyBackend(LocalBackend(str(b)), [Fault("write_file", nth=1)])
    first = sync_trees(LocalBackend(str(a)), failing, journal, SyncOptions(jobs=1))
    assert not first.in_step
    assert (a / "photos" / "one.raw").read_bytes() == BIG and not (a / "album").exists()
    second = sync_trees(LocalBackend(str(a)), LocalBackend(str(b)), journal)
    assert second.in_step
    copied = [step.action.path for step in second.planning.plan.b_steps]
    assert copied == ["loose-copy.bin"]
    assert tree_state(a) == tree_state(b)
