"""`dirkit dupes` finds the same groups of identical files as `jdupes -r` on generated trees."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from dirkit.backends.trees import open_tree
from dirkit.core.tree.filters import make_filter
from dirkit.ops.search import dupes as dupes_module
from dirkit.ops.search.dupes import DupesOptions, digest_file, find_duplicates
from dirkit.ops.tree.scan import ScanOptions
from tests.ops.sample_trees import make_sample_tree
from tests.support import call_unprivileged, require_tool

Groups = set[frozenset[tuple[int, int]]]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_sample_tree(tmp_path_factory.mktemp("dupes") / "tree", seed=37, files=200)
    big = os.urandom(300_000)
    (root / "big1.dat").write_bytes(big)
    (root / "big2.dat").write_bytes(big)
    (root / "big-same-start.dat").write_bytes(big[:200_000] + os.urandom(100_000))
    return root


def inode_of(path: str | Path) -> tuple[int, int]:
    status = os.stat(path, follow_symlinks=False)
    return status.st_dev, status.st_ino


def jdupes_groups(*arguments: str) -> Groups:
    """Return jdupes' groups as sets of inodes (it may show another path of a hard-linked file)."""
    tool = require_tool("jdupes")
    result = subprocess.run([tool, "-r", "-q", *arguments], capture_output=True, check=True)
    groups: Groups = set()
    for block in result.stdout.split(b"\n\n"):
        paths = [os.fsdecode(line) for line in block.splitlines() if line]
        if paths:
            groups.add(frozenset(inode_of(path) for path in paths))
    return groups


def dirkit_groups(roots: list[Path], options: DupesOptions) -> Groups:
    backends = [open_tree(str(root)) for root in roots]
    result = find_duplicates(backends, options)
    assert result.failures == []
    return {
        frozenset(inode_of(roots[item.root_index] / item.path) for item in group.files)
        for group in result.groups
    }


def test_same_groups_as_jdupes(sample: Path) -> None:
    expected = jdupes_groups(str(sample))
    assert len(expected) >= 5
    assert dirkit_groups([sample], DupesOptions()) == expected


def test_empty_files_when_asked_like_jdupes_z(sample: Path) -> None:
    assert dirkit_groups([sample], DupesOptions(include_empty=True)) == jdupes_groups("-z", str(sample))


def test_min_size_like_jdupes_big_x(sample: Path) -> None:
    expected = jdupes_groups("-X", "size+=:200", str(sample))
    assert dirkit_groups([sample], DupesOptions(min_size=200)) == expected


def test_several_roots_like_jdupes(sample: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "copy.dat").write_bytes((sample / "big1.dat").read_bytes())
    expected = jdupes_groups(str(sample), str(other))
    assert dirkit_groups([sample, other], DupesOptions()) == expected


def test_hard_links_count_once_and_symlinks_are_left_out(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("same")
    os.link(tmp_path / "a", tmp_path / "a-link")
    (tmp_path / "s").symlink_to(tmp_path / "a")
    result = find_duplicates([open_tree(str(tmp_path))], DupesOptions())
    assert result.groups == []
    (tmp_path / "b").write_text("same")
    result = find_duplicates([open_tree(str(tmp_path))], DupesOptions())
    assert [[item.path for item in group.files] for group in result.groups] == [["a", "b"]]


def test_the_same_tree_twice_is_not_a_duplicate_of_itself(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("alone")
    backend = open_tree(str(tmp_path))
    assert find_duplicates([backend, backend], DupesOptions()).groups == []


def test_partial_digests_do_not_decide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dupes_module, "PARTIAL_SIZE", 16)
    start = b"s" * 64
    (tmp_path / "a").write_bytes(start + b"1")
    (tmp_path / "b").write_bytes(start + b"2")
    (tmp_path / "c").write_bytes(start + b"1")
    result = find_duplicates([open_tree(str(tmp_path))], DupesOptions())
    assert [[item.path for item in group.files] for group in result.groups] == [["a", "c"]]
    assert result.groups[0].digest == digest_file(open_tree(str(tmp_path)), result.groups[0].files[0].path)


def test_filters_apply(tmp_path: Path) -> None:
    (tmp_path / "keep").mkdir()
    (tmp_path / "skip").mkdir()
    (tmp_path / "keep" / "a").write_text("x")
    (tmp_path / "skip" / "b").write_text("x")
    options = DupesOptions(scan=ScanOptions(make_filter(["skip/"])))
    assert find_duplicates([open_tree(str(tmp_path))], options).groups == []


def test_unreadable_files_are_reported(open_folder: Path) -> None:
    (open_folder / "a").write_text("x")
    (open_folder / "b").write_text("x")
    (open_folder / "b").chmod(0)

    def groups_and_failures() -> tuple[int, list[str]]:
        result = find_duplicates([open_tree(str(open_folder))], DupesOptions())
        return len(result.groups), [failure.path for failure in result.failures]

    assert call_unprivileged(groups_and_failures, open_folder / ".state") == (0, ["b"])


def test_digest_of_a_prefix(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abcdef")
    (tmp_path / "g").write_bytes(b"abc")
    backend = open_tree(str(tmp_path))
    assert digest_file(backend, "f", 3) == digest_file(backend, "g")  # type: ignore[arg-type]
    assert digest_file(backend, "f") != digest_file(backend, "g")  # type: ignore[arg-type]
