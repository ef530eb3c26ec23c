"""Messages that say what is wrong: a missing parent, a deleted path in a stale plan, an unreadable folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dirkit.cli.main import main
from dirkit.errors import EXIT_DIFFERENCES, EXIT_ERROR
from tests.support import build_tree, give_to_nobody, run_cli_unprivileged


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


def test_an_unreadable_source_folder_is_a_failed_item_that_says_why(open_folder: Path) -> None:
    work = open_folder / "work"
    src = build_tree(work / "src", {"ok/a": "1", "noread/x": "2"})
    give_to_nobody(work)
    os.chmod(src / "noread", 0)
    code, _, err = run_cli_unprivileged(work / "state", "mirror", str(src), str(work / "dst"))
    assert code == EXIT_DIFFERENCES, err
    assert "noread: cannot list directory: Permission denied" in err
    assert "conflict" not in err
    assert "no longer exists" not in err
    assert (work / "dst" / "ok" / "a").read_text() == "1"
    assert not (work / "dst" / "noread").exists()
