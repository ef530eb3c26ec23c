"""Messages that say what is wrong: a missing parent, a deleted path in a stale plan, an unreadable folder."""

from __future__ import annotations

import json
import logging.handlers
import os
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import dirkit.cli.apply
import dirkit.cli.mirror
import dirkit.ops.run.execute
from dirkit.cli.main import main
from dirkit.errors import EXIT_DIFFERENCES, EXIT_ERROR
from tests.support import build_tree

NOBODY = 65534
PRELOADED = (json, logging.handlers, sqlite3, dirkit.cli.apply, dirkit.cli.mirror, dirkit.ops.run.execute)
"""Modules loaded before a child drops to an unprivileged user who cannot read the Python install."""


def test_mirror_into_a_folder_whose_parent_is_missing_names_the_parent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    build_tree(tmp_path / "src", {"a": "1"})
    monkeypatch.chdir(tmp_path)
    assert main(["mirror", "src", "nosuch/deeper"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{tmp_path}/nosuch/deeper: " in err
    assert f"parent folder {tmp_path}/nosuch does not exist" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("removed", ["a", "sub/b"])
def test_a_stale_plan_says_a_path_was_deleted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], removed: str
) -> None:
    src = build_tree(tmp_path / "src", {"a": "1", "sub/b": "2"})
    dst = build_tree(tmp_path / "dst", {"keep": "3"})
    plan = tmp_path / "plan.jsonl"
    assert main(["mirror", "-q", "--force", "--save-plan", str(plan), str(src), str(dst)]) == 0
    (src / removed).unlink()
    capsys.readouterr()
    assert main(["apply", str(plan)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{removed}: was deleted from the source since the plan was made" in err
    assert "changed in the" not in err


def test_a_stale_plan_says_a_target_path_was_deleted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = build_tree(tmp_path / "src", {"a": "newer", "b": "same"})
    dst = build_tree(tmp_path / "dst", {"a": "old", "b": "same"})
    plan = tmp_path / "plan.jsonl"
    assert main(["mirror", "-q", "--save-plan", str(plan), str(src), str(dst)]) == 0
    (dst / "a").unlink()
    capsys.readouterr()
    assert main(["apply", str(plan)]) == EXIT_ERROR
    assert "a: was deleted from the target since the plan was made" in capsys.readouterr().err


def run_as_nobody(arguments: list[str], folder: Path) -> tuple[int, str]:
    """Run dirkit in a forked child that has dropped to user nobody; return its exit code and stderr."""
    errors = folder / "stderr.txt"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 99
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.environ["DIRKIT_STATE_DIR"] = str(folder / "state")
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            sys.stderr = open(errors, "w")  # noqa: SIM115
            code = main(arguments)
            sys.stderr.flush()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), errors.read_text()


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """Return a fresh folder that user nobody can reach (pytest's own temporary folders are private)."""
    folder = Path(tempfile.mkdtemp(prefix="dirkit-nobody-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def test_an_unreadable_source_folder_is_a_failed_item_that_says_why(open_folder: Path) -> None:
    work = open_folder / "work"
    src = build_tree(work / "src", {"ok/a": "1", "noread/x": "2"})
    for folder, _, names in os.walk(work):
        os.chown(folder, NOBODY, NOBODY)
        for name in names:
            os.chown(os.path.join(folder, name), NOBODY, NOBODY)
    os.chmod(src / "noread", 0)
    code, err = run_as_nobody(["mirror", str(src), str(work / "dst")], work)
    assert code == EXIT_DIFFERENCES, err
    assert "noread: cannot list directory: Permission denied" in err
    assert "conflict" not in err
    assert "no longer exists" not in err
    assert (work / "dst" / "ok" / "a").read_text() == "1"
    assert not (work / "dst" / "noread").exists()
