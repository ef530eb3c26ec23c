"""`dirkit apply FILE` runs a plan saved by `dirkit sync --save-plan` exactly, or refuses naming the path
that changed, changing nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from dirkit.cli.main import main
from dirkit.errors import EXIT_ERROR, EXIT_OK
from tests.support import MakeTree, read_files


def saved(make_tree: MakeTree, tmp_path: Path) -> tuple[Path, Path, Path]:
    """Return two synced trees, edited on both sides (one conflict kept both ways), and the saved plan."""
    a = make_tree("a", {"one.txt": "1", "d/two.txt": "2", "three.txt": "3", "notes.md": "n"})
    b = make_tree("b", {})
    assert main(["sync", "-q", str(a), str(b)]) == EXIT_OK
    (a / "one.txt").write_text("1 from A")
    (b / "three.txt").unlink()
    (b / "d" / "two.txt").rename(b / "d" / "zwei.txt")
    (a / "notes.md").write_text("A's notes")
    (b / "notes.md").write_text("B's notes, longer")
    plan = tmp_path / "sync-plan.jsonl"
    assert main(["sync", "-q", "--keep-both", "--save-plan", str(plan), str(a), str(b)]) == EXIT_OK
    return a, b, plan


def test_apply_runs_a_saved_sync_plan_exactly_on_both_sides(
    make_tree: MakeTree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, plan = saved(make_tree, tmp_path)
    kept = [line for line in plan.read_text().splitlines() if '"kept_as"' in line and "conflict-" in line]
    before = read_files(a), read_files(b)
    capsys.readouterr()
    assert main(["apply", "--dry-run", str(plan)]) == EXIT_OK
    assert "B -> A  rename" not in capsys.readouterr().out
    assert (read_files(a), read_files(b)) == before
    assert main(["apply", str(plan)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "A -> B  copy   one.txt" in out and "     A  rename d/zwei.txt" in out
    assert "2 renamed on A" in out  # zwei.txt, and the losing notes.md kept under its conflict name
    files = read_files(a)
    assert files == read_files(b)
    assert "three.txt" not in files and files["d/zwei.txt"] == b"2" and files["one.txt"] == b"1 from A"
    (kept_name,) = [name for name in files if ".conflict-" in name]
    assert kept and kept_name in kept[0]
    assert main(["sync", "-q", str(a), str(b)]) == EXIT_OK
    # the plan was used up: the base and both trees moved on
    assert main(["apply", str(plan)]) == EXIT_ERROR
    assert "the sync plan is stale" in capsys.readouterr().err


def test_apply_refuses_a_stale_sync_plan_naming_the_path_and_changing_nothing(
    make_tree: MakeTree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, plan = saved(make_tree, tmp_path)
    (b / "one.txt").write_text("edited on B after the plan")
    before = read_files(a), read_files(b)
    capsys.readouterr()
    assert main(["apply", str(plan)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("dirkit: ") and len(err.strip().splitlines()) == 1
    assert "the sync plan is stale: one.txt changed since the plan was made" in err
    assert (read_files(a), read_files(b)) == before
    assert main(["apply", "--dry-run", str(plan)]) == EXIT_ERROR
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "sync_plan", "format": 99}\n')
    capsys.readouterr()
    assert main(["apply", str(bad)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith(f"dirkit: {bad}: sync plan format 99") and len(err.strip().splitlines()) == 1
