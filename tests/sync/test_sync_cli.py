"""The sync command: what it prints, every exit code, the pair's lock, and kill -9 at random steps."""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.cli.main import main
from dirkit.cli.runs import KILL_ENV
from dirkit.errors import EXIT_DIFFERENCES, EXIT_ERROR, EXIT_OK
from dirkit.ops.run.recovery import claim_tree
from dirkit.state.journal import Journal
from tests.support import MakeTree, dirkit_command, read_files


def synced_pair(make_tree: MakeTree) -> tuple[Path, Path]:
    """Return two trees synced once (A's files copied to the empty B)."""
    a = make_tree("a", {"one.txt": "1", "d/two.txt": "2", "three.txt": "3"})
    b = make_tree("b", {})
    assert main(["sync", "-q", str(a), str(b)]) == EXIT_OK
    return a, b


def test_sync_reports_what_went_where_and_exits_0(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = synced_pair(make_tree)
    (a / "one.txt").write_text("1 from A")
    (b / "new.txt").write_text("from B")
    capsys.readouterr()
    assert main(["sync", str(a), str(b)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "A -> B  copy   one.txt" in out
    assert "B -> A  copy   new.txt" in out
    assert read_files(a) == read_files(b)
    assert main(["sync", str(a), str(b)]) == EXIT_OK
    assert "nothing to do, both sides are in step" in capsys.readouterr().out


def test_a_conflict_is_listed_left_alone_and_exits_1(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = synced_pair(make_tree)
    (a / "one.txt").write_text("A's version")
    (b / "one.txt").write_text("B's")
    capsys.readouterr()
    assert main(["sync", "--json", str(a), str(b)]) == EXIT_DIFFERENCES
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (conflict,) = [r for r in records if r["type"] == "conflict"]
    assert conflict == {
        "type": "conflict",
        "path": "one.txt",
        "a": "modified",
        "b": "modified",
        "resolution": "left alone",
        "reason": "changed on both sides",
        "kept_as": None,
        "left_alone": [],
    }
    assert (a / "one.txt").read_text() == "A's version"
    assert (b / "one.txt").read_text() == "B's"
    assert main(["sync", "-q", "--prefer", "A", str(a), str(b)]) == EXIT_OK
    assert (b / "one.txt").read_text() == "A's version"


def test_dry_run_and_save_plan_change_nothing(
    make_tree: MakeTree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = synced_pair(make_tree)
    (a / "three.txt").unlink()
    before = read_files(b)
    plan = tmp_path / "plan.jsonl"
    assert main(["sync", "--dry-run", "--save-plan", str(plan), str(a), str(b)]) == EXIT_OK
    assert "     B  backup three.txt" in capsys.readouterr().out
    records = [json.loads(line) for line in plan.read_text().splitlines()]
    assert records[0]["type"] == "sync_plan"
    (summary,) = [record for record in records if record["type"] == "sync"]
    assert summary["steps_on_b"] == 1
    assert read_files(b) == before


def test_errors_exit_2_with_one_line(
    make_tree: MakeTree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = synced_pair(make_tree)
    capsys.readouterr()
    assert main(["sync", str(tmp_path / "missing"), str(b)]) == EXIT_ERROR
    assert capsys.readouterr().err.startswith("dirkit: ")
    assert main(["sync", str(a), str(a / "d")]) == EXIT_ERROR
    assert "separate" in capsys.readouterr().err
    assert main(["sync", "--follow-symlinks", str(a), str(b)]) == EXIT_ERROR
    for name in ("one.txt", "three.txt", "d/two.txt"):
        (a / name).unlink()
    capsys.readouterr()
    assert main(["sync", str(a), str(b)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "refusing to sync" in err and len(err.strip().splitlines()) == 1
    assert (b / "one.txt").exists()


def test_a_second_sync_on_a_busy_tree_is_refused(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = synced_pair(make_tree)
    holder = Journal.open()
    with claim_tree(holder, LocalBackend(str(b)), "mirror"):
        capsys.readouterr()
        assert main(["sync", str(a), str(b)]) == EXIT_ERROR
        assert "another dirkit run is working on this tree" in capsys.readouterr().err
    holder.close()


TRIALS = 4
SEED = 20_261_201


def test_kill_9_at_random_steps_loses_no_edit_and_brings_back_no_delete(make_tree: MakeTree) -> None:
    rng = random.Random(SEED)
    killed = 0
    for trial in range(TRIALS):
        a = make_tree(f"a{trial}", {f"d{i % 4}/f{i}.txt": f"v1 {i}" for i in range(40)})
        b = make_tree(f"b{trial}", {})
        assert main(["sync", "-q", str(a), str(b)]) == EXIT_OK
        edits_a = {f"d{i % 4}/f{i}.txt": f"A v2 {i}" for i in range(0, 40, 3)}
        deleted_b = [f"d{i % 4}/f{i}.txt" for i in range(1, 40, 5) if i % 3]
        for name, text in edits_a.items():
            (a / name).write_text(text)
        for name in deleted_b:
            (b / name).unlink()
        (b / "new-on-b.txt").write_text("B new")
        child = subprocess.run(
            dirkit_command("sync", "-q", "-j", "1", str(a), str(b)),
            capture_output=True,
            text=True,
            env={**os.environ, KILL_ENV: str(rng.randrange(1, 12))},
            timeout=60,
            check=False,
        )
        assert child.returncode in (-9, 0), child.stderr
        killed += child.returncode == -9
        assert main(["sync", "-q", str(a), str(b)]) == EXIT_OK
        files_a, files_b = read_files(a), read_files(b)
        assert files_a == files_b
        for name, text in edits_a.items():
            assert files_a[name] == text.encode()
        for name in deleted_b:
            assert name not in files_a
        assert files_a["new-on-b.txt"] == b"B new"
        assert main(["sync", "-q", str(a), str(b)]) == EXIT_OK
    assert killed >= TRIALS // 2


def test_undo_reverts_a_sync_on_both_sides_and_puts_the_base_back(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = synced_pair(make_tree)
    (a / "one.txt").write_text("1 from A")
    (b / "d" / "two.txt").write_text("2 from B")
    (b / "three.txt").unlink()
    (b / "later.txt").write_text("later")
    before_a, before_b = read_files(a), read_files(b)
    assert main(["sync", "-q", str(a), str(b)]) == EXIT_OK
    after = read_files(a)
    assert after == read_files(b)
    (a / "later.txt").write_text("edited after the sync")
    assert main(["undo", "-q", str(b)]) == EXIT_DIFFERENCES
    assert "later.txt" in capsys.readouterr().err
    assert read_files(a) == {**before_a, "later.txt": b"edited after the sync"}
    assert read_files(b) == before_b
    # the base is as before the sync: the next sync carries the same changes again; later.txt, new on
    # B before the sync and edited on A since, is a conflict of two versions with no common base
    capsys.readouterr()
    assert main(["sync", "--json", str(a), str(b)]) == EXIT_DIFFERENCES
    conflicts = [line for line in capsys.readouterr().out.splitlines() if '"conflict"' in line]
    assert len(conflicts) == 1 and '"later.txt"' in conflicts[0]
    expected = {key: value for key, value in after.items() if key != "later.txt"}
    assert {k: v for k, v in read_files(a).items() if k != "later.txt"} == expected
    assert {k: v for k, v in read_files(b).items() if k != "later.txt"} == expected


def test_an_undo_that_cannot_reach_the_other_side_still_puts_the_base_back(
    make_tree: MakeTree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = synced_pair(make_tree)
    (a / "from-a.txt").write_text("made on A")
    (b / "from-b.txt").write_text("made on B")
    assert main(["sync", "-q", str(a), str(b)]) == EXIT_OK
    journal = Journal.open()
    try:
        (sync_id,) = journal.connection.execute("SELECT MAX(sync_id) FROM sync_runs").fetchone()
        rows = journal.connection.execute(
            "SELECT run_id FROM sync_runs WHERE sync_id = ? ORDER BY run_id", (sync_id,)
        ).fetchall()
        first_run = journal.run(rows[0][0])
    finally:
        journal.close()
    assert len(rows) == 2 and first_run is not None
    # undo from the side whose run is reverted first, while the other side is away (a drive unplugged)
    first, second = (a, b) if Path(first_run.target).resolve() == a.resolve() else (b, a)
    made_on_second = "from-b.txt" if second == b else "from-a.txt"
    away = tmp_path / "unplugged"
    second.rename(away)
    assert main(["undo", "-q", str(first)]) == EXIT_ERROR
    away.rename(second)
    capsys.readouterr()
    main(["sync", "-q", str(a), str(b)])
    # the file made on the other side before the sync is still there, not pushed into its backups
    assert (second / made_on_second).read_text().startswith("made on")
    assert read_files(a) == read_files(b)
