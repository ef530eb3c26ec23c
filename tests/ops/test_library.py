"""The library facade: every entry point through `import dirkit` alone, values back, nothing printed."""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import dirkit
from dirkit.errors import RefusedError, StalePlanError, TreeNotFoundError
from tests.support import MakeTree


@pytest.fixture(autouse=True)
def nothing_printed(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """Fail a test whose library call wrote to standard output or standard error."""
    yield
    assert capsys.readouterr() == ("", "")


def test_import_dirkit_loads_no_submodule() -> None:
    code = "import dirkit, sys; print(sorted(m for m in sys.modules if m.startswith('dirkit.')))"
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert loaded.stdout.strip() == "[]"
    assert set(dirkit.__all__) <= set(dir(dirkit))
    with pytest.raises(AttributeError):
        _ = dirkit.no_such_name


def test_open_tree(make_tree: MakeTree, tmp_path: Path) -> None:
    left = dirkit.open_tree(make_tree("left", {"a": "x"}))
    right = dirkit.open_tree(str(make_tree("right", {"a": "x", "b": "y"})))
    try:
        assert left.description.endswith("left")
        assert [change.path for change in dirkit.compare(left, right).differences] == ["b"]
        assert [entry.path for entry in dirkit.find(right)] == ["", "a", "b"]  # still open: the caller's
    finally:
        left.close()
        right.close()
    with pytest.raises(TreeNotFoundError):
        dirkit.open_tree(tmp_path / "missing")
    dirkit.open_tree(tmp_path / "missing", must_exist=False).close()


def test_compare(make_tree: MakeTree) -> None:
    left = make_tree("left", {"same": "s", "changed": "old", "gone": "g"})
    right = make_tree("right", {"same": "s", "changed": "new", "added": "a"})
    diff = dirkit.compare(left, right, dirkit.CompareOptions(content=True, keep_same=False))
    found = {change.path: change.status.value for change in diff.differences}
    assert found == {"changed": "changed", "gone": "left_only", "added": "right_only"}
    excluding = dirkit.CompareOptions(scan=dirkit.ScanOptions(tree_filter=dirkit.make_filter(["gone"])))
    assert "gone" not in {change.path for change in dirkit.compare(left, right, excluding).differences}


def test_plan_mirror(make_tree: MakeTree) -> None:
    source = make_tree("src", {"a": "new", "d/b": "b"})
    target = make_tree("dst", {"a": "old"}, mtime=1_500_000_000)
    plan = dirkit.plan_mirror(source, target)
    assert {action.kind.value for action in plan.actions} >= {"copy_file", "backup"}
    assert (target / "a").read_text() == "old" and not (target / "d").exists()
    missing = target.parent / "not-yet"
    into_missing = {action.kind.value for action in dirkit.plan_mirror(source, missing).actions}
    assert "copy_file" in into_missing and "backup" not in into_missing
    assert not missing.exists()


def test_mirror(make_tree: MakeTree) -> None:
    source = make_tree("src", {"a": "new"})
    target = make_tree("dst", {"a": "old", "x": "extra"}, mtime=1_500_000_000)
    result = dirkit.mirror(source, str(target), force=True)
    assert result.ok and (target / "a").read_text() == "new" and not (target / "x").exists()
    with pytest.raises(RefusedError):
        dirkit.mirror(make_tree("empty", {}), target)


def test_apply(make_tree: MakeTree) -> None:
    source = make_tree("src", {"a": "new", "d/b": "b"})
    target = make_tree("dst", {"a": "old", "x": "extra"}, mtime=1_500_000_000)
    plan = dirkit.plan_mirror(source, target)
    result = dirkit.apply(plan)
    assert result.ok and result.files_copied == 2
    with pytest.raises(StalePlanError):
        dirkit.apply(plan)


def test_undo(make_tree: MakeTree) -> None:
    source = make_tree("src", {"a": "new"})
    target = make_tree("dst", {"a": "old", "x": "extra"}, mtime=1_500_000_000)
    assert dirkit.mirror(source, target, force=True).ok
    undone = dirkit.undo(target)
    assert undone.ok and undone.operation == "undo"
    assert (target / "a").read_text() == "old" and (target / "x").read_text() == "extra"


def test_find(make_tree: MakeTree) -> None:
    root = make_tree("tree", {"a.py": "x", "d/b.py": "y", "d/c.txt": "z"})
    criteria = dirkit.FindCriteria(name_pattern=re.compile(r".*\.py"))
    found = [entry.path for entry in dirkit.find(root, dirkit.FindOptions(criteria=criteria))]
    assert found == ["a.py", "d/b.py"]
    assert len(list(dirkit.find(root))) == 5  # the root itself, d, and the three files


def test_grep(make_tree: MakeTree) -> None:
    root = make_tree("tree", {"a.txt": "one TODO\ntwo\n", "b.txt": "todo later\n", "c.txt": "none\n"})
    lines = [
        (result.path, line.number, line.text) for result in dirkit.grep(root, "TODO") for line in result.lines
    ]
    assert lines == [("a.txt", 1, b"one TODO")]
    ignoring_case = dirkit.GrepOptions(
        dirkit.GrepPattern("todo", ignore_case=True), mode=dirkit.GrepMode.COUNT
    )
    counted = {result.path: result.match_count for result in dirkit.grep(root, ignoring_case)}
    assert counted == {"a.txt": 1, "b.txt": 1, "c.txt": 0}


def test_dupes(make_tree: MakeTree) -> None:
    first = make_tree("one", {"a": "same bytes", "b": "other"})
    second = make_tree("two", {"c": "same bytes", "tiny": "x"})
    result = dirkit.dupes(first, second, options=dirkit.DupesOptions(use_cache=False))
    assert [[(item.root_index, item.path) for item in group.files] for group in result.groups] == [
        [(0, "a"), (1, "c")]
    ]
    assert not result.failures
    assert dirkit.dupes(first, options=dirkit.DupesOptions(min_size=100)).groups == []


def test_manifest(make_tree: MakeTree) -> None:
    root = make_tree("tree", {"a": "alpha", "d/b": "beta"})
    result = dirkit.manifest(
        root, dirkit.ManifestOptions(digest=dirkit.DigestOptions(dirkit.DigestAlgorithm.SHA256))
    )
    lines = result.text.decode().splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == ["a", "d/b"]
    assert lines[0].startswith("8ed3f6ad685b959ead7022518e1af76cd816f8e8ec7ccdda1ed4018e8f2223f8")


def test_verify(make_tree: MakeTree) -> None:
    root = make_tree("tree", {"a": "alpha", "b": "beta"})
    listing = root / "tree.b3"
    listing.write_bytes(dirkit.manifest(root).text)
    assert dirkit.verify(listing, root).all_ok  # the checksum file inside the tree is not new
    (root / "a").write_text("ALPHA")
    (root / "c").write_text("new")
    verdicts = {item.path: item.status.value for item in dirkit.verify(listing, root).items}
    assert verdicts == {"a": "failed", "b": "ok", "c": "new"}


def test_split(tmp_path: Path) -> None:
    original = tmp_path / "data.bin"
    original.write_bytes(bytes(range(256)) * 40)
    result = dirkit.split(original, dirkit.SplitOptions(part_count=3, output_dir=str(tmp_path / "parts")))
    assert len(result.manifest.parts) == 3 and result.manifest.size == 10240
    assert Path(result.manifest_path).name == "data.bin.parts.json"


def test_join(tmp_path: Path) -> None:
    original = tmp_path / "data.bin"
    original.write_bytes(b"0123456789" * 500)
    dirkit.split(original, dirkit.SplitOptions(part_size=1000, output_dir=str(tmp_path / "parts")))
    joined = dirkit.join(tmp_path / "parts", dirkit.JoinOptions(output=str(tmp_path / "copy.bin")))
    assert joined.parts == 5 and joined.digest is not None
    assert (tmp_path / "copy.bin").read_bytes() == original.read_bytes()


def test_pack(make_tree: MakeTree, tmp_path: Path) -> None:
    root = make_tree("tree", {"a": "alpha", "d/b": "beta"})
    result = dirkit.pack(root, tmp_path / "tree.tar", dirkit.PackOptions(reproducible=True))
    assert (result.files, result.dirs) == (2, 1)
    with tarfile.open(tmp_path / "tree.tar") as archive:
        assert sorted(archive.getnames()) == ["a", "d", "d/b"]


def test_unpack(make_tree: MakeTree, tmp_path: Path) -> None:
    root = make_tree("tree", {"a": "alpha", "d/b": "beta"})
    dirkit.pack(root, tmp_path / "tree.zip")
    result = dirkit.unpack(tmp_path / "tree.zip", tmp_path / "out")
    assert result.files == 2 and (tmp_path / "out/d/b").read_text() == "beta"
    (tmp_path / "out/a").write_text("changed")
    replaced = dirkit.unpack(tmp_path / "tree.zip", tmp_path / "out", dirkit.UnpackOptions(overwrite=True))
    assert replaced.run_id is not None and (tmp_path / "out/a").read_text() == "alpha"
    assert dirkit.undo(tmp_path / "out").ok and (tmp_path / "out/a").read_text() == "changed"
