"""Input refused or tamed at the command line: edited plans, bad globs, sizes, misleading messages."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest

from dirkit.cli.main import main
from tests.support import Capture


def edited_plan(tmp_path: Path, mode: int) -> tuple[Path, Path]:
    """Save a mirror plan copying one file, edit it to set mode; return the plan and the target."""
    source, target = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    target.mkdir()
    (source / "tool").write_text("#!/bin/sh\n")
    plan = tmp_path / "plan.jsonl"
    assert main(["mirror", "--save-plan", str(plan), str(source), str(target)]) == 0
    lines = []
    for line in plan.read_text().splitlines():
        record = json.loads(line)
        if record.get("type") == "action" and record.get("mode") is not None:
            record["mode"] = mode
        lines.append(json.dumps(record))
    plan.write_text("\n".join(lines) + "\n")
    return plan, target


def test_apply_strips_setuid_setgid_and_other_write_from_an_edited_plan(tmp_path: Path) -> None:
    plan, target = edited_plan(tmp_path, 0o6777)
    assert main(["apply", "-q", str(plan)]) == 0
    assert os.stat(target / "tool").st_mode & 0o7777 == 0o775


def test_apply_keep_modes_sets_the_plan_mode_as_it_is(tmp_path: Path) -> None:
    plan, target = edited_plan(tmp_path, 0o4755)
    assert main(["apply", "-q", "--keep-modes", str(plan)]) == 0
    assert os.stat(target / "tool").st_mode & 0o7777 == 0o4755


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["find", "{root}", "--name", "["], "bad --name glob '[': the '[' at offset 0 is never closed"),
        (["find", "{root}", "--iname", "*.[ch"], "bad --iname glob '*.[ch': the '[' at offset 2"),
        (["grep", "--glob", "[", "hi", "{root}"], "bad --glob pattern '[': the '[' at offset 0"),
        (["grep", "--glob", "!src/[a", "hi", "{root}"], "bad --glob pattern '!src/[a': the '['"),
        (["grep", "--glob", "x\\", "hi", "{root}"], "ends in a lone backslash"),
    ],
)
def test_bad_globs_exit_two_naming_the_pattern(
    tmp_path: Path, capsys: Capture, args: list[str], message: str
) -> None:
    (tmp_path / "a.c").write_text("hi\n")
    (tmp_path / "[").write_text("hi\n")
    assert main([arg.replace("{root}", str(tmp_path)) for arg in args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and message in captured.err


def test_closed_brackets_in_globs_still_match(tmp_path: Path, capsys: Capture) -> None:
    (tmp_path / "[").write_text("hi\n")
    (tmp_path / "a.c").write_text("hi\n")
    assert main(["find", str(tmp_path), "--name", "[[]", "--name", "*.[ch]"]) == 0
    assert sorted(capsys.readouterr().out.split()) == sorted([str(tmp_path / "["), str(tmp_path / "a.c")])


def test_split_and_unpack_read_decimal_sizes_and_split_makes_its_folder(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(os.urandom(4000))
    out = tmp_path / "new" / "deeper"
    assert main(["split", "-q", "--size", "1.5K", str(source), "-o", str(out)]) == 0
    assert [p.stat().st_size for p in sorted(out.glob("data.bin.part0*"))] == [1536, 1536, 928]
    archive = tmp_path / "small.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(source, arcname="data.bin")
    assert main(["unpack", "-q", "--max-size", "4.5K", str(archive), str(tmp_path / "dest")]) == 0
    assert (tmp_path / "dest" / "data.bin").read_bytes() == source.read_bytes()


def test_split_leaves_no_folder_behind_when_it_fails(tmp_path: Path, capsys: Capture) -> None:
    assert main(["split", "--size", "1K", str(tmp_path / "missing"), "-o", str(tmp_path / "out")]) == 2
    assert "missing" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_pack_force_leaves_the_old_archive_in_the_tree_out(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "keep.txt").write_text("keep")
    archive = tree / "inside.tar.gz"
    assert main(["pack", "-q", str(tree), str(archive)]) == 0
    assert main(["pack", "-q", "--force", str(tree), str(archive)]) == 0
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "keep.txt" in names and not any("inside" in name for name in names)


def test_join_into_a_folder_that_takes_no_new_files_says_so(tmp_path: Path, capsys: Capture) -> None:
    source = tmp_path / "f"
    source.write_bytes(os.urandom(3000))
    assert main(["split", "-q", "-n", "2", str(source), "-o", str(tmp_path / "p")]) == 0
    assert main(["join", str(tmp_path / "p"), "-o", "/proc/version", "--force"]) == 2
    assert "dirkit: /proc/version: its folder /proc does not accept new files" in capsys.readouterr().err
    assert main(["join", str(tmp_path / "p"), "-o", str(tmp_path / "no" / "out")]) == 2
    assert f"its folder {tmp_path / 'no'} does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["not a database", "a schema it cannot migrate"])
def test_a_state_database_that_cannot_be_opened_is_one_line_and_exit_two(
    damage: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capture
) -> None:
    import sqlite3

    state = tmp_path / "state"
    state.mkdir()
    database = state / "state.sqlite3"
    if damage == "not a database":
        database.write_bytes(b"this is no sqlite file\n" * 100)
    else:  # a table a later migration makes, there already under no recorded migration
        with sqlite3.connect(database) as connection:
            connection.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
            connection.execute("CREATE TABLE sync_base (x)")
    monkeypatch.setenv("DIRKIT_STATE_DIR", str(state))
    source, target = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    (source / "f").write_text("kept\n")
    capsys.readouterr()
    assert main(["mirror", "-q", str(source), str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"dirkit: {database}: cannot open state database: "), err
    assert not (target / "f").exists()
    if damage != "not a database":  # the failed migration was rolled back, the table left as it was
        with sqlite3.connect(database) as connection:
            assert [row[1] for row in connection.execute("PRAGMA table_info(sync_base)")] == ["x"]
            names = [row[0] for row in connection.execute("SELECT name FROM schema_migrations")]
            assert not [name for name in names if name.endswith("_sync_base")]
