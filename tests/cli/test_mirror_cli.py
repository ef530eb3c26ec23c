"""The mirror, apply, undo and backups commands: output and every exit code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from dirkit.cli.main import main
from dirkit.cli.runs import KILL_ENV
from dirkit.errors import EXIT_DIFFERENCES
from dirkit.state.journal import Journal, RunStatus
from tests.support import MakeTree, dirkit_command


def trees(make_tree: MakeTree) -> tuple[Path, Path]:
    source = make_tree("src", {"a.txt": "new a", "d/b.txt": "b", "c.txt": "c"})
    target = make_tree("dst", {"a.txt": "old", "c.txt": "c", "gone.txt": "extra"}, mtime=1_500_000_000)
    return source, target


def test_mirror_copies_and_exits_0(make_tree: MakeTree, capsys: pytest.CaptureFixture[str]) -> None:
    source, target = trees(make_tree)
    assert main(["mirror", str(source), str(target)]) == 0
    out = capsys.readouterr().out
    assert "mirror run" in out and "3 files copied" in out
    assert (target / "a.txt").read_text() == "new a"
    assert not (target / "gone.txt").exists()
    assert main(["mirror", "--json", str(source), str(target)]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[0])
    assert summary["type"] == "run" and summary["steps_done"] == 0


def test_mirror_into_a_missing_directory_creates_it(make_tree: MakeTree, tmp_path: Path) -> None:
    source, _ = trees(make_tree)
    target = tmp_path / "fresh"
    assert main(["mirror", "-q", str(source), str(target)]) == 0
    assert (target / "d" / "b.txt").read_text() == "b"


def test_dry_run_prints_the_plan_and_changes_nothing(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source, target = trees(make_tree)
    assert main(["mirror", "--dry-run", str(source), str(target)]) == 0
    out = capsys.readouterr().out
    assert "copy     a.txt" in out and "backup   gone.txt" in out
    assert out.rstrip().splitlines()[-1].startswith("plan: 3 files to copy")
    assert (target / "gone.txt").exists() and not (target / ".dirkit").exists()
    assert main(["mirror", "-n", "--json", str(source), str(target)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[0]["type"] == "plan" and records[-1]["type"] == "totals"
    assert {record["kind"] for record in records[1:-1]} >= {"copy_file", "backup", "make_dir"}
    assert main(["mirror", "-n", "-q", str(source), str(tmp_path / "not-yet")]) == 0
    assert not (tmp_path / "not-yet").exists()


def test_mirror_errors_exit_2(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source, target = trees(make_tree)
    assert main(["mirror", str(tmp_path / "missing"), str(target)]) == 2
    assert "missing: no such directory" in capsys.readouterr().err
    empty = make_tree("empty", {})
    assert main(["mirror", str(empty), str(target)]) == 2
    err = capsys.readouterr().err
    assert "refusing to mirror: the source is empty while the target holds 3 entries" in err
    assert main(["mirror", "--max-delete", "0", str(source), str(target)]) == 2
    assert "more than --max-delete 0 allows" in capsys.readouterr().err
    assert main(["mirror", "--max-delete", "lots", str(source), str(target)]) == 2
    assert main(["mirror", "--jobs", "0", str(source), str(target)]) == 2
    assert main(["mirror", str(source), str(source / "inside")]) == 2
    assert "must be separate" in capsys.readouterr().err
    assert (target / "gone.txt").exists()


def test_a_special_file_that_cannot_be_mirrored_exits_1(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = trees(make_tree)
    os.mkfifo(source / "pipe")
    assert main(["mirror", str(source), str(target)]) == 1
    assert "skipped: pipe: special file" in capsys.readouterr().err
    assert (target / "a.txt").read_text() == "new a"


def test_save_plan_then_apply(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source, target = trees(make_tree)
    plan = tmp_path / "plan.jsonl"
    assert main(["mirror", "--save-plan", str(plan), str(source), str(target)]) == 0
    assert (target / "a.txt").read_text() == "old"
    assert main(["apply", "--dry-run", str(plan)]) == 0
    assert "copy     a.txt" in capsys.readouterr().out
    assert main(["apply", str(plan)]) == 0
    assert (target / "a.txt").read_text() == "new a"
    assert main(["apply", str(plan)]) == 2
    assert "refusing to apply a stale plan" in capsys.readouterr().err


def test_apply_refuses_a_stale_or_bad_plan_with_exit_2(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source, target = trees(make_tree)
    plan = tmp_path / "plan.jsonl"
    assert main(["mirror", "--save-plan", str(plan), str(source), str(target)]) == 0
    (source / "a.txt").write_text("edited in the source after planning")
    assert main(["apply", str(plan)]) == 2
    err = capsys.readouterr().err
    assert "a.txt: changed in the source since the plan was made" in err
    assert (target / "a.txt").read_text() == "old"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    assert main(["apply", str(bad)]) == 2
    assert main(["apply", str(tmp_path / "none.jsonl")]) == 2


def test_undo_exit_codes(make_tree: MakeTree, capsys: pytest.CaptureFixture[str]) -> None:
    source, target = trees(make_tree)
    assert main(["undo", str(target)]) == 2
    assert "no dirkit run on this tree to undo" in capsys.readouterr().err
    assert main(["mirror", "-q", str(source), str(target)]) == 0
    assert main(["undo", "--dry-run", str(target)]) == 0
    assert "rename   gone.txt" in capsys.readouterr().out
    assert main(["undo", str(target)]) == 0
    assert (target / "a.txt").read_text() == "old" and (target / "gone.txt").exists()
    assert main(["undo", "--run", "no-such-run", str(target)]) == 2
    assert main(["mirror", "-q", str(source), str(target)]) == 0
    (target / "a.txt").write_text("the user's later edit")
    assert main(["undo", str(target)]) == 1
    assert "conflict: a.txt: changed since the plan was made; left alone" in capsys.readouterr().err
    assert (target / "a.txt").read_text() == "the user's later edit"


def test_backups_lists_and_prunes(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source, target = trees(make_tree)
    assert main(["backups", str(target)]) == 0
    assert "no backups" in capsys.readouterr().out
    assert main(["mirror", "-q", str(source), str(target)]) == 0
    (source / "a.txt").write_text("newer a!")
    assert main(["mirror", "-q", str(source), str(target)]) == 0
    assert main(["backups", str(target)]) == 0
    out = capsys.readouterr().out
    assert "mirror  done" in out and "2 backup folders" in out
    assert main(["backups", "--json", str(target)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["files"] for row in rows] == [3, 1]
    assert main(["backups", "--prune", "--keep", "1", str(target)]) == 0
    assert "1 backup folders, 9 B pruned" in capsys.readouterr().out
    assert main(["backups", str(tmp_path / "missing")]) == 2


@pytest.mark.parametrize("command", ["mirror", "apply", "undo", "backups"])
def test_help_teaches(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert "exit status:" in out and "examples:" in out


def test_mirror_as_a_subprocess(make_tree: MakeTree) -> None:
    source, target = trees(make_tree)
    completed = subprocess.run(
        dirkit_command("mirror", str(source), str(target)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert (target / "d" / "b.txt").read_text() == "b"


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_finishes_the_current_step_and_exits_130(make_tree: MakeTree, signal_number: int) -> None:
    source = make_tree("src", {f"d{index % 20}/f{index}": f"file {index}" * 20 for index in range(400)})
    target = make_tree("dst", {})
    # the child signals itself once 50 of its 420 steps ended: the interrupt lands mid-run, every time
    signal_after = f"50:{signal.Signals(signal_number).name}"
    child = subprocess.run(
        dirkit_command("mirror", "-j", "1", str(source), str(target)),
        capture_output=True,
        text=True,
        env={**os.environ, KILL_ENV: signal_after},
        timeout=60,
        check=False,
    )
    err = child.stderr
    journal = Journal.open()
    assert child.returncode == 130, err
    assert "interrupted" in err
    (run,) = journal.runs_for_target(str(target))
    assert run.status is RunStatus.INTERRUPTED
    journal.close()
    assert main(["mirror", "-q", str(source), str(target)]) == 0
    # the interrupted run made d0 and d1 whole and began d10, which the second mirror then filled: undo
    # takes d0 and d1 back and leaves d10 alone, an item it could not undo
    assert main(["undo", "-q", "--run", run.run_id, str(target)]) == EXIT_DIFFERENCES
    assert sorted(os.listdir(target)) == sorted([".dirkit", *(f"d{number}" for number in range(2, 20))])


def test_content_mode_finds_silent_changes(make_tree: MakeTree) -> None:
    source = make_tree("src", {"same-size.txt": "abc", "d/keep.txt": "k"})
    target = make_tree("dst", {"same-size.txt": "xyz", "d/keep.txt": "k"})
    assert main(["mirror", "-q", str(source), str(target)]) == 0
    assert (target / "same-size.txt").read_text() == "xyz"
    assert main(["mirror", "-q", "--content", str(source), str(target)]) == 0
    assert (target / "same-size.txt").read_text() == "abc"


def test_exclude_leaves_paths_alone_on_both_sides(make_tree: MakeTree) -> None:
    source = make_tree("src", {"a.txt": "a", "skip.tmp": "source temp"})
    target = make_tree("dst", {"mine.tmp": "target temp"})
    assert main(["mirror", "-q", "--exclude", "*.tmp", str(source), str(target)]) == 0
    assert (target / "a.txt").read_text() == "a"
    assert not (target / "skip.tmp").exists()
    assert (target / "mine.tmp").read_text() == "target temp"
