"""Targets that cannot chmod still get every file, and sparse files keep their holes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dirkit.backends.faulty import FaultyBackend
from dirkit.backends.local import LocalBackend
from dirkit.backends.local_mounts import filesystem_type, local_capabilities
from dirkit.core.run.guards import GuardOptions
from dirkit.ops.run.mirror import MirrorOptions, mirror_trees
from dirkit.ops.run.undo import undo_run
from dirkit.state.journal import Journal
from tests.support import MakeTree

FORCE = MirrorOptions(guards=GuardOptions(force=True), jobs=2)
HOLE = 64 * 1024 * 1024


def test_a_target_that_cannot_chmod_gets_every_file_without_modes(
    make_tree: MakeTree, journal: Journal
) -> None:
    source = make_tree("src", {"run.sh": "#!/bin/sh\n", "d/secret.txt": "s", "d/e": None})
    os.chmod(source / "run.sh", 0o755)
    os.chmod(source / "d/secret.txt", 0o600)
    os.chmod(source / "d", 0o700)
    target = make_tree("dst", {"run.sh": "old", "d/secret.txt": "old secret"})
    fat = FaultyBackend(LocalBackend(str(target)), [], no_modes=True)
    result = mirror_trees(LocalBackend(str(source)), fat, journal, FORCE)
    assert result.ok, result.failures
    assert result.files_copied == 2
    assert not fat.fired
    assert (target / "run.sh").read_text() == "#!/bin/sh\n"
    assert (target / "d/secret.txt").read_text() == "s"
    assert (target / "d/e").is_dir()
    assert any("cannot set permission bits" in note for note in result.notes)
    again = mirror_trees(LocalBackend(str(source)), fat, journal, FORCE)
    assert again.plan.is_empty
    assert undo_run(journal, fat).ok
    assert (target / "run.sh").read_text() == "old"


def test_the_mount_table_tells_which_filesystems_cannot_chmod() -> None:
    table = (
        "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
        "40 22 8:17 / /media/usb\\040stick rw,relatime - vfat /dev/sdb1 rw,fmask=0022\n"
        "41 22 0:50 / /media/usb\\040stick/inner rw - tmpfs tmpfs rw\n"
        "42 22 0:51 / /mnt/ntfs rw - fuseblk /dev/sdc1 rw\n"
    )
    assert filesystem_type("/home/me", table) == "ext4"
    assert filesystem_type("/media/usb stick/photos", table) == "vfat"
    assert filesystem_type("/media/usb stick/inner/x", table) == "tmpfs"
    assert filesystem_type("/media/usb sticker", table) == "ext4"
    assert filesystem_type("/mnt/ntfs", table) == "fuseblk"


def test_local_disk_says_it_can_chmod(tmp_path: Path) -> None:
    assert local_capabilities(str(tmp_path)).can_set_mode


def test_a_sparse_file_stays_sparse(make_tree: MakeTree, journal: Journal) -> None:
    source = make_tree("src", {})
    with open(source / "disk.img", "wb") as stream:
        stream.write(b"head")
        stream.seek(HOLE)
        stream.write(b"tail")
    if os.stat(source / "disk.img").st_blocks * 512 >= HOLE:
        pytest.skip("this filesystem does not keep holes")
    target = make_tree("dst", {"disk.img": "old"})
    result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, FORCE)
    assert result.ok
    copied = os.stat(target / "disk.img")
    assert copied.st_size == HOLE + 4
    assert copied.st_blocks * 512 < 1024 * 1024
    with open(target / "disk.img", "rb") as stream:
        assert stream.read(4) == b"head"
        stream.seek(HOLE)
        assert stream.read() == b"tail"
        stream.seek(4)
        assert stream.read(1024 * 1024).count(0) == 1024 * 1024
