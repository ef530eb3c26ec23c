"""compare_trees on real temporary trees: every status, odd names, links, specials, unreadables."""

from __future__ import annotations

import errno
import json
import os
import socket
import tempfile
from pathlib import Path

import pytest

from dirkit.backends.faulty import Fault, FaultyBackend
from dirkit.backends.local import LocalBackend
from dirkit.core.compare.diff import Diff, NameTwin, Status
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.filters import make_filter
from dirkit.core.tree.paths import RelPath
from dirkit.errors import TreeNotFoundError
from dirkit.ops.compare.trees import CompareOptions, compare_trees
from dirkit.ops.tree.scan import ScanOptions, scan_tree
from tests.support import MakeTree, build_tree, run_cli_unprivileged


def compare(left: Path, right: Path, **options: object) -> Diff:
    return compare_trees(LocalBackend(str(left)), LocalBackend(str(right)), CompareOptions(**options))  # type: ignore[arg-type]


def statuses(diff: Diff) -> dict[str, Status]:
    return {change.path: change.status for change in diff.changes}


def set_dir_mtimes(root: Path, seconds: int = 1_600_000_000) -> Path:
    """Give every directory below root one mtime (make_tree sets only the files'); return root."""
    for directory, _, _ in os.walk(root):
        if directory != str(root):
            os.utime(directory, (seconds, seconds))
    return root


def test_identical_trees_are_all_same(make_tree: MakeTree) -> None:
    spec = {"a.txt": "A", "d/b.txt": "B", "d/e/c.txt": "C", "empty": None}
    left, right = set_dir_mtimes(make_tree("l", spec)), set_dir_mtimes(make_tree("r", spec))
    diff = compare(left, right)
    assert not diff.has_differences
    assert set(statuses(diff)) == {"a.txt", "d", "d/b.txt", "d/e", "d/e/c.txt", "empty"}
    assert not compare(left, right, content=True).has_differences


def test_mode_differences_are_changes_in_both_modes(make_tree: MakeTree) -> None:
    spec = {"setuid": "x", "plain": "y", "d/f": "z"}
    left, right = set_dir_mtimes(make_tree("l", spec)), set_dir_mtimes(make_tree("r", spec))
    os.chmod(left / "setuid", 0o4777)
    os.chmod(right / "setuid", 0o644)
    os.chmod(left / "d", 0o700)
    os.chmod(right / "d", 0o755)
    for content in (False, True):
        diff = compare(left, right, content=content)
        changed = {c.path: (c.status, c.detail, c.metadata_only) for c in diff.differences}
        assert changed == {
            "setuid": (Status.CHANGED, "mode 4777 -> 0644", True),
            "d": (Status.CHANGED, "mode 0700 -> 0755", True),
        }


def test_directory_mtimes_are_compared_in_quick_mode_only(make_tree: MakeTree) -> None:
    left, right = set_dir_mtimes(make_tree("l", {"d/f": "x"})), set_dir_mtimes(make_tree("r", {"d/f": "x"}))
    os.utime(right / "d", (1_600_000_100, 1_600_000_100))
    diff = compare(left, right)
    assert [(c.path, c.status, c.detail) for c in diff.differences] == [
        ("d", Status.CHANGED, "modification time differs")
    ]
    assert not compare(left, right, content=True).has_differences


def test_every_status_on_disk(make_tree: MakeTree) -> None:
    left = make_tree("l", {"same": "x", "grown": "1", "touched": "t", "gone": "g", "kind": "f"})
    right = make_tree("r", {"same": "x", "grown": "22", "touched": "t", "new": "n", "kind/x": "d"})
    os.utime(right / "touched", (1_600_000_100, 1_600_000_100))
    assert statuses(compare(left, right)) == {
        "same": Status.SAME,
        "grown": Status.CHANGED,
        "touched": Status.CHANGED,
        "gone": Status.LEFT_ONLY,
        "new": Status.RIGHT_ONLY,
        "kind": Status.TYPE_CHANGED,
        "kind/x": Status.RIGHT_ONLY,
    }


def test_content_mode_finds_same_size_same_mtime_change(make_tree: MakeTree) -> None:
    left = make_tree("l", {"doc": "hello world", "big": b"\0" * 300_000})
    right = make_tree("r", {"doc": "hello WORLD", "big": b"\0" * 299_999 + b"\1"})
    assert not compare(left, right).has_differences
    found = statuses(compare(left, right, content=True))
    assert found == {"doc": Status.CHANGED, "big": Status.CHANGED}
    assert not compare(left, left, content=True).has_differences


def test_symlinks_are_compared_as_links(make_tree: MakeTree) -> None:
    left = make_tree("l", {"target": "t"})
    right = make_tree("r", {"target": "t"})
    (left / "link").symlink_to("target")
    (right / "link").symlink_to("elsewhere")
    (left / "dirlink").symlink_to(".")
    (right / "dirlink").symlink_to(".")
    diff = compare(left, right)
    assert statuses(diff)["link"] is Status.CHANGED
    assert statuses(diff)["dirlink"] is Status.SAME
    link = next(c for c in diff.changes if c.path == "link")
    assert link.left is not None and link.left.kind is EntryKind.SYMLINK


def test_follow_symlinks_detects_loops(tmp_path: Path) -> None:
    root = tmp_path / "t"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "f").write_text("x")
    (root / "sub" / "up").symlink_to("..")
    (root / "alias").symlink_to("sub")
    snapshot = scan_tree(LocalBackend(str(root)), ScanOptions(follow_symlinks=True))
    by_path = snapshot.by_path()
    assert by_path[RelPath("alias")].kind is EntryKind.DIR
    assert by_path[RelPath("alias/f")].kind is EntryKind.FILE
    assert by_path[RelPath("sub/up")].error is not None
    assert "loop" in (by_path[RelPath("sub/up")].error or "")


def test_special_files_are_other(tmp_path: Path) -> None:
    short = Path(tempfile.mkdtemp(prefix="dk", dir="/tmp"))
    try:
        os.mkfifo(short / "fifo")
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(short / "sock"))
            snapshot = scan_tree(LocalBackend(str(short)))
        kinds = {entry.path: entry.kind for entry in snapshot}
        assert kinds == {"fifo": EntryKind.OTHER, "sock": EntryKind.OTHER}
    finally:
        for name in ("fifo", "sock"):
            (short / name).unlink(missing_ok=True)
        short.rmdir()


def test_non_utf8_names_are_kept_exactly(tmp_path: Path) -> None:
    left, right = tmp_path / "l", tmp_path / "r"
    left.mkdir()
    right.mkdir()
    raw = b"bad\xffname"
    with open(os.path.join(os.fsencode(left), raw), "wb") as stream:
        stream.write(b"x")
    diff = compare(left, right)
    (change,) = diff.changes
    assert change.status is Status.LEFT_ONLY
    assert os.fsencode(change.path) == raw


def test_nfc_nfd_and_case_only_names(make_tree: MakeTree) -> None:
    left = make_tree("l", {"caf\u00e9.txt": "x", "README": "r"})
    right = make_tree("r", {"cafe\u0301.txt": "x", "readme": "r"})
    diff = compare(left, right)
    reasons = {str(c.path): c.twin_reason for c in diff.changes}
    assert reasons["caf\u00e9.txt"] is NameTwin.UNICODE_NORMALIZATION
    assert reasons["cafe\u0301.txt"] is NameTwin.UNICODE_NORMALIZATION
    assert reasons["README"] is NameTwin.CASE and reasons["readme"] is NameTwin.CASE
    normalized = compare(left, right, normalize_unicode=True)
    assert statuses(normalized)["caf\u00e9.txt"] is Status.SAME


def test_excludes_and_gitignore(make_tree: MakeTree) -> None:
    spec = {
        ".gitignore": "*.log\nbuild/\n!keep.log\n",
        "a.log": "x",
        "keep.log": "k",
        "build/out.o": "o",
        "src/.gitignore": "generated.py\n",
        "src/generated.py": "g",
        "src/main.py": "m",
        "notes.tmp": "t",
        ".git/HEAD": "ref",
    }
    root = make_tree("t", spec)
    plain = {e.path for e in scan_tree(LocalBackend(str(root)))}
    assert "a.log" in plain and "build/out.o" in plain
    options = ScanOptions(tree_filter=make_filter(["*.tmp"], use_gitignore=True))
    kept = {e.path for e in scan_tree(LocalBackend(str(root)), options)}
    assert kept == {".gitignore", "keep.log", "src", "src/.gitignore", "src/main.py"}


def test_dirkit_folder_and_temp_files_are_never_scanned(make_tree: MakeTree) -> None:
    root = make_tree("t", {".dirkit/backups/x": "b", "a": "a", ".a.dirkit-tmp-1234": "partial"})
    assert [e.path for e in scan_tree(LocalBackend(str(root)))] == ["a"]


def test_missing_root_raises_tree_not_found(tmp_path: Path) -> None:
    with pytest.raises(TreeNotFoundError) as caught:
        LocalBackend(str(tmp_path / "nope"))
    assert isinstance(caught.value, FileNotFoundError)


def test_fault_injected_unreadable_dir_and_file(make_tree: MakeTree) -> None:
    spec = {"locked/inner": "i", "secret": "s", "open": "o"}
    left, right = make_tree("l", spec), make_tree("r", spec)
    faulty = FaultyBackend(
        LocalBackend(str(left)),
        [
            Fault("list_dir", errno.EACCES, path=RelPath("locked")),
            Fault("open_read", errno.EACCES, path=RelPath("secret")),
        ],
    )
    diff = compare_trees(faulty, LocalBackend(str(right)), CompareOptions(content=True))
    found = statuses(diff)
    assert found["locked"] is Status.ERROR
    assert "locked/inner" not in found
    assert found["secret"] is Status.ERROR
    assert found["open"] is Status.SAME
    assert diff.has_errors


@pytest.fixture
def shared_trees(open_folder: Path) -> tuple[Path, Path]:
    """Return two trees an unprivileged user can reach, with a locked folder and file on the left."""
    left, right = open_folder / "l", open_folder / "r"
    for root in (left, right):
        build_tree(root, {"locked/inner": "i", "secret": "s", "open": "o"})
    (left / "locked").chmod(0o000)
    (left / "secret").chmod(0o000)
    return left, right


def test_really_unreadable_entries_as_unprivileged_user(
    shared_trees: tuple[Path, Path], open_folder: Path
) -> None:
    left, right = shared_trees
    code, out, err = run_cli_unprivileged(
        open_folder / "state", "compare", "--json", "--content", str(left), str(right)
    )
    assert code == 2, err
    records = [json.loads(line) for line in out.splitlines()]
    by_path = {record["path"]: record for record in records if "path" in record}
    assert by_path["locked"]["status"] == "error"
    assert "Permission denied" in by_path["locked"]["left"]["error"]
    assert by_path["secret"]["status"] == "error"
    assert "locked/inner" not in by_path
    assert records[-1]["summary"]["error"] == 2
