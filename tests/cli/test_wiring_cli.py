"""The command lines of dupes --link/--remove and unpack --overwrite, with undo: every exit code."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tarfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.backends.protocol import Backend
from dirkit.cli import dupes as dupes_command
from dirkit.cli import runs as runs_module
from dirkit.core.run.plan import Plan
from dirkit.core.search.dupes import DupeAction, DupeGroup, KeepRule
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath
from dirkit.ops.search.dupes_actions import plan_dupe_actions_per_root
from tests.support import Capture, dirkit_command, run_cli

ORIGINAL = b"the same bytes\n" * 100


@pytest.fixture
def roots(make_tree: Callable[..., Path]) -> tuple[Path, Path]:
    first = make_tree("first", {"keep.txt": ORIGINAL, "sub/copy.txt": ORIGINAL, "solo": "solo"})
    second = make_tree("second", {"again.txt": ORIGINAL, "other": "other"})
    os.utime(second / "again.txt", (1_500_000_000, 1_500_000_000))
    return first, second


def test_dupes_link_then_undo_exit_0(roots: tuple[Path, Path], capsys: Capture) -> None:
    first, second = roots
    code, out, _ = run_cli(capsys, "dupes", "--link", "--keep", "oldest", "--json", str(first), str(second))
    assert code == 0
    summaries = [json.loads(line) for line in out.splitlines()]
    assert [(item["target"], item["steps_done"]) for item in summaries] == [(str(first), 4)]
    assert os.stat(first / "keep.txt").st_ino == os.stat(second / "again.txt").st_ino
    assert run_cli(capsys, "undo", str(first))[0] == 0
    assert (first / "keep.txt").read_bytes() == (first / "sub/copy.txt").read_bytes() == ORIGINAL
    assert os.stat(first / "keep.txt").st_nlink == os.stat(first / "sub/copy.txt").st_nlink == 1


def test_dupes_remove_dry_run_json_changes_nothing(roots: tuple[Path, Path], capsys: Capture) -> None:
    first, second = roots
    code, out, _ = run_cli(capsys, "dupes", "--remove", "-n", "--json", str(first), str(second))
    assert code == 1
    assert [json.loads(line)["path"] for line in out.splitlines()] == [
        f"{first}/sub/copy.txt",
        f"{second}/again.txt",
    ]
    assert (second / "again.txt").read_bytes() == ORIGINAL


def test_dupes_conflict_exits_1_and_leaves_the_file(
    roots: tuple[Path, Path], capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = roots

    def plan_then_edit(
        groups: Sequence[DupeGroup], action: DupeAction, rule: KeepRule, backends: Sequence[Backend]
    ) -> list[tuple[int, Plan]]:
        plans = plan_dupe_actions_per_root(groups, action, rule, backends)
        (second / "again.txt").write_bytes(b"edited between plan and execution")
        return plans

    monkeypatch.setattr(dupes_command, "plan_dupe_actions_per_root", plan_then_edit)
    code, _, err = run_cli(capsys, "dupes", "--remove", str(first), str(second))
    assert code == 1
    assert "conflict" in err and "again.txt" in err
    assert (second / "again.txt").read_bytes() == b"edited between plan and execution"
    assert not (first / "sub/copy.txt").exists()
    assert run_cli(capsys, "undo", str(first))[0] == 0
    assert (first / "sub/copy.txt").read_bytes() == ORIGINAL


def test_dupes_overlapping_roots_exit_2(roots: tuple[Path, Path], capsys: Capture) -> None:
    first, _ = roots
    code, out, err = run_cli(capsys, "dupes", "--link", str(first), str(first / "sub"))
    assert (code, out) == (2, "")
    assert "overlaps" in err
    code, out, err = run_cli(capsys, "dupes", "--remove", "--follow-symlinks", str(first))
    assert (code, out) == (2, "")
    assert "--follow-symlinks" in err
    assert (first / "sub/copy.txt").read_bytes() == ORIGINAL


def test_dupes_interrupted_exits_130(
    roots: tuple[Path, Path], capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = roots

    @contextlib.contextmanager
    def stopped_at_once() -> Iterator[threading.Event]:
        stop = threading.Event()
        stop.set()
        yield stop

    monkeypatch.setattr(runs_module, "stop_on_signals", stopped_at_once)
    code, _, _ = run_cli(capsys, "dupes", "--remove", str(first), str(second))
    assert code == 130
    assert (first / "sub/copy.txt").read_bytes() == ORIGINAL


def test_dupes_link_in_a_subprocess(roots: tuple[Path, Path]) -> None:
    first, _ = roots
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    done = subprocess.run(
        dirkit_command("dupes", "--link", str(first)),
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert os.stat(first / "keep.txt").st_ino == os.stat(first / "sub/copy.txt").st_ino


def test_unpack_overwrite_then_undo(tmp_path: Path, make_tree: Callable[..., Path], capsys: Capture) -> None:
    dest = make_tree("dest", {"a.txt": "mine", "b/c.txt": "also mine"})
    source = make_tree("src", {"a.txt": "theirs", "b/c.txt": "theirs too", "new.txt": "new"})
    archive = tmp_path / "x.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(source, arcname=".")
    code, out, _ = run_cli(capsys, "unpack", "--overwrite", str(archive), str(dest))
    assert code == 0
    assert f"dirkit undo {dest}" in out
    assert (dest / "a.txt").read_text() == "theirs"
    code, _, _ = run_cli(capsys, "undo", str(dest))
    assert code == 0
    assert (dest / "a.txt").read_text() == "mine"
    assert (dest / "b/c.txt").read_text() == "also mine"
    assert not (dest / "new.txt").exists()
    assert run_cli(capsys, "unpack", "--overwrite", "--json", str(archive), str(dest))[0] == 0
    (dest / "b/c.txt").write_text("edited later")
    code, _, err = run_cli(capsys, "undo", str(dest))
    assert code == 1
    assert "conflict" in err and "c.txt" in err
    assert (dest / "b/c.txt").read_text() == "edited later"
    assert (dest / "a.txt").read_text() == "mine"


def test_unpack_overwrite_interrupted_exits_130_and_stays_undoable(
    tmp_path: Path, make_tree: Callable[..., Path], capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = make_tree("dest", {"a.txt": "mine"})
    source = make_tree("src", {"a.txt": "theirs", "b.txt": "new", "c.txt": "never written"})
    archive = tmp_path / "x.tar"
    with tarfile.open(archive, "w") as tar:
        for name in ("a.txt", "b.txt", "c.txt"):
            tar.add(source / name, arcname=name)
    write = LocalBackend.write_stream

    def interrupted_at_b(self: LocalBackend, path: RelPath, *args: Any, **kwargs: Any) -> Entry:
        entry = write(self, path, *args, **kwargs)
        if path == "b.txt":
            os.kill(os.getpid(), signal.SIGINT)
        return entry

    monkeypatch.setattr(LocalBackend, "write_stream", interrupted_at_b)
    code, _, err = run_cli(capsys, "unpack", "--overwrite", str(archive), str(dest))
    assert code == 130
    assert "interrupted" in err
    assert (dest / "a.txt").read_text() == "mine"
    assert not (dest / "b.txt").exists()
    assert not (dest / "c.txt").exists()
    code, out, _ = run_cli(capsys, "backups", str(dest))
    assert code == 0 and "unpack" in out and "interrupted" in out
    assert run_cli(capsys, "undo", str(dest))[0] == 0
    assert (dest / "a.txt").read_text() == "mine"


def test_plain_unpack_is_a_run_that_undo_reverts(
    tmp_path: Path, make_tree: Callable[..., Path], capsys: Capture
) -> None:
    dest = make_tree("dest", {"mine.txt": "mine", "was-a-file": "a file"})
    source = make_tree("src", {"new.txt": "new", "sub/deep.txt": "deep"})
    archive = tmp_path / "x.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(source / "new.txt", arcname="new.txt")
        tar.add(source / "sub", arcname="sub")
    code, out, _ = run_cli(capsys, "unpack", str(archive), str(dest))
    assert code == 0
    assert f"dirkit undo {dest}" in out
    assert (dest / "sub/deep.txt").read_text() == "deep"
    assert run_cli(capsys, "undo", str(dest))[0] == 0
    assert sorted(path.name for path in dest.iterdir() if path.name != ".dirkit") == [
        "mine.txt",
        "was-a-file",
    ]
    replacing = tmp_path / "dir.tar"
    with tarfile.open(replacing, "w") as tar:
        tar.add(source / "sub", arcname="was-a-file")
    assert run_cli(capsys, "unpack", str(replacing), str(dest))[0] == 2
    assert (dest / "was-a-file").read_text() == "a file"
    assert run_cli(capsys, "unpack", "--overwrite", str(replacing), str(dest))[0] == 0
    assert (dest / "was-a-file/deep.txt").read_text() == "deep"
    assert run_cli(capsys, "undo", str(dest))[0] == 0
    assert (dest / "was-a-file").read_text() == "a file"
