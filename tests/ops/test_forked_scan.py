"""The forked scan of a mirror's target: the same snapshot as a scan in this process, the same errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dirkit.backends.trees import open_tree
from dirkit.errors import BackendError
from dirkit.ops.tree.forked_scan import ForkedScan
from dirkit.ops.tree.scan import ScanOptions, scan_tree


def _make_tree(root: Path) -> None:
    for folder in ("a", "a/b", "ä ö", "c"):
        (root / folder).mkdir(parents=True)
    for number, name in enumerate(("a/one.txt", "a/b/two.bin", "ä ö/drei", "top", "c/empty")):
        (root / name).write_bytes(b"x" * number)
    os.symlink("a/one.txt", root / "link")
    os.utime(root / "top", ns=(1_000_000_123, 1_000_000_123))


def test_forked_scan_returns_the_snapshot_of_a_scan_here(tmp_path: Path) -> None:
    _make_tree(tmp_path / "tree")
    backend = open_tree(str(tmp_path / "tree"))
    with ForkedScan(backend, ScanOptions()) as scan:
        forked = scan.result()
    here = scan_tree(backend, ScanOptions())
    assert forked == here
    assert [type(entry) for entry in forked] == [type(entry) for entry in here]
    assert len(forked) == 10


def test_forked_scan_of_a_missing_tree_raises_what_a_scan_here_raises(tmp_path: Path) -> None:
    (tmp_path / "gone").mkdir()
    backend = open_tree(str(tmp_path / "gone"))
    (tmp_path / "gone").rmdir()
    with pytest.raises(BackendError) as here:
        scan_tree(backend, ScanOptions())
    with ForkedScan(backend, ScanOptions()) as scan, pytest.raises(BackendError) as forked:
        scan.result()
    assert str(forked.value) == str(here.value)
