"""Rename detection in `dirkit compare`: moved files and folders, and a changed move that is not one."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.backends.memory import MemoryBackend
from dirkit.cli.main import main
from dirkit.core.compare.diff import Status
from dirkit.core.tree.paths import RelPath
from dirkit.ops.compare.trees import CompareOptions, compare_snapshots, compare_trees, scan_both

BIG = "x" * 5000


def _json_changes(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return [line for line in lines if "summary" not in line]


def test_renamed_file_and_folder_are_moves(
    make_tree: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    files = {"album/one.jpg": "one" * 100, "album/two/three.jpg": "three" * 90, "keep": "k"}
    left = make_tree("left", {**files, "notes.txt": BIG})
    renamed = {name.replace("album", "photos 2024"): data for name, data in files.items()}
    right = make_tree("right", {**renamed, "archive/notes-old.txt": BIG})
    for flags in ([], ["--detect-moves"], ["--content"]):
        assert main(["compare", *flags, "--json", str(left), str(right)]) == 1
        changes = _json_changes(capsys)
        moved = {(change["from"], change["path"]) for change in changes if change["status"] == "moved"}
        assert moved == {("album", "photos 2024"), ("notes.txt", "archive/notes-old.txt")}
        assert {change["status"] for change in changes} == {"moved", "right_only"}
        assert [change["path"] for change in changes if change["status"] == "right_only"] == ["archive"]


def test_moves_show_in_text_output(
    make_tree: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    left = make_tree("left", {"old name.txt": BIG})
    right = make_tree("right", {"new name.txt": BIG})
    assert main(["compare", "--detect-moves", str(left), str(right)]) == 1
    out = capsys.readouterr().out
    assert "moved (1):" in out and "R new name.txt  (from old name.txt)" in out


def test_moved_and_changed_file_is_not_a_move(
    make_tree: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    left = make_tree("left", {"report.txt": BIG})
    right = make_tree("right", {"final/report.txt": BIG[:-1] + "y"})
    assert main(["compare", "--content", "--json", str(left), str(right)]) == 1
    statuses = {change["path"]: change["status"] for change in _json_changes(capsys)}
    assert statuses == {"final": "right_only", "final/report.txt": "right_only", "report.txt": "left_only"}


def test_moves_are_found_by_default_and_no_moves_turns_it_off(
    make_tree: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    left = make_tree("left", {"a": BIG})
    right = make_tree("right", {"b": BIG})
    assert main(["compare", "--json", str(left), str(right)]) == 1
    changes = _json_changes(capsys)
    assert [(change["status"], change["path"], change["from"]) for change in changes] == [("moved", "b", "a")]
    assert main(["compare", "--no-moves", "--json", str(left), str(right)]) == 1
    statuses = {change["path"]: change["status"] for change in _json_changes(capsys)}
    assert statuses == {"a": "left_only", "b": "right_only"}


def test_content_compare_through_digests_finds_same_size_changes(
    make_tree: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    left = make_tree("left", {"same": "abc", "silent": "abc", "dir/x": "1"})
    right = make_tree("right", {"same": "abc", "silent": "abd", "dir/x": "1"})
    assert main(["compare", "--content", "--json", str(left), str(right)]) == 1
    changes = _json_changes(capsys)
    assert [(change["path"], change["status"]) for change in changes] == [("silent", "changed")]
    assert main(["compare", "--content", "--no-cache", str(left), str(right)]) == 1
    (right / "silent").write_text("abc")
    os.utime(right / "silent", (1_600_000_000, 1_600_000_000))
    assert main(["compare", "--content", str(left), str(right)]) == 0


def test_library_moves_on_memory_trees() -> None:
    left, right = MemoryBackend("left"), MemoryBackend("right")

    left.write_file(RelPath("a.bin"), io.BytesIO(b"payload"))
    right.make_dir(RelPath("sub"))
    right.write_file(RelPath("sub/b.bin"), io.BytesIO(b"payload"))
    plain = compare_trees(left, right, CompareOptions(content=True, detect_moves=False))
    assert Status.MOVED not in {change.status for change in plain.changes}
    for options in (CompareOptions(), CompareOptions(content=True), CompareOptions(detect_moves=True)):
        found = compare_trees(left, right, options)
        moved = [change for change in found.changes if change.status is Status.MOVED]
        assert [(change.moved_from, change.path) for change in moved] == [("a.bin", "sub/b.bin")]


def test_unreadable_side_is_an_error_in_digest_compare(make_tree: Callable[..., Path]) -> None:
    left = make_tree("left", {"f": "abc"})
    right = make_tree("right", {"f": "abd"})
    left_backend, right_backend = LocalBackend(str(left)), LocalBackend(str(right))
    left_snapshot, right_snapshot = scan_both(left_backend, right_backend, CompareOptions().scan)
    (right / "f").unlink()
    diff = compare_snapshots(
        left_backend, right_backend, left_snapshot, right_snapshot, CompareOptions(content=True)
    )
    assert diff.changes[0].status is Status.ERROR
    assert diff.changes[0].detail is not None and diff.changes[0].detail.startswith("right side unreadable")
