"""The kinds-only fast listing of local trees agrees with the full one on paths, kinds and targets."""

from __future__ import annotations

from pathlib import Path

from dirkit.backends.trees import open_tree
from dirkit.ops.tree.scan import ScanOptions, iter_tree
from tests.ops.sample_trees import make_sample_tree


def test_kinds_only_scan_sees_what_the_full_scan_sees(tmp_path: Path) -> None:
    backend = open_tree(str(make_sample_tree(tmp_path / "tree", seed=5, files=80)))
    full = [(entry.path, entry.kind, entry.target) for entry in iter_tree(backend, ScanOptions())]
    fast = [
        (entry.path, entry.kind, entry.target) for entry in iter_tree(backend, ScanOptions(kinds_only=True))
    ]
    assert fast == full
    assert any(entry.size for entry in iter_tree(backend, ScanOptions()))
    assert not any(entry.size for entry in iter_tree(backend, ScanOptions(kinds_only=True)))


def test_max_depth_stops_listing(tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c" / "f").write_text("x")
    backend = open_tree(str(tmp_path))
    assert [entry.path for entry in iter_tree(backend, ScanOptions(max_depth=2))] == ["a", "a/b"]
    assert len(list(iter_tree(backend, ScanOptions()))) == 4
