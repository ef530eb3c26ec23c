"""Runs, the one-run lock and tree identity: concurrency, spellings, undo retries, recovery, options."""

from __future__ import annotations

import errno
import io
import os
import shutil
import sqlite3
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from dirkit.backends.faulty import Fault, FaultyBackend
from dirkit.backends.local import LocalBackend
from dirkit.cli.main import main
from dirkit.core.run.guards import GuardOptions
from dirkit.core.run.plan import Action, ActionKind, Fingerprint
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import RelPath
from dirkit.errors import RefusedError
from dirkit.ops.run.execute import ExecuteOptions, execute_plan
from dirkit.ops.run.mirror import MirrorOptions, mirror_trees, plan_mirror_trees
from dirkit.ops.run.recovery import claim_tree
from dirkit.ops.run.undo import undo_run
from dirkit.state.database import all_migrations, apply_migrations
from dirkit.state.journal import Journal, RunStatus
from dirkit.state.location import DATABASE_NAME
from dirkit.state.migrations import Migration
from tests.support import MakeTree, build_tree, dirkit_command, read_files, require_root, wait_until


def dirkit(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start dirkit as a child process."""
    return subprocess.Popen(
        dirkit_command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_migrations_applied_meanwhile_by_another_connection_are_skipped(tmp_path: Path) -> None:
    path = str(tmp_path / DATABASE_NAME)

    def applied_by_another_first() -> Iterator[Migration]:
        other = sqlite3.connect(path, isolation_level=None)
        apply_migrations(other, all_migrations())
        other.close()
        yield from all_migrations()

    mine = sqlite3.connect(path, isolation_level=None)
    mine.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    assert apply_migrations(mine, applied_by_another_first()) == []
    names = [row[0] for row in mine.execute("SELECT name FROM schema_migrations")]
    assert sorted(names) == sorted(migration.name for migration in all_migrations())
    mine.close()


def test_a_second_mirror_started_while_one_runs_is_refused_naming_it(
    make_tree: MakeTree, tmp_path: Path
) -> None:
    source = make_tree("src", {f"d/f{index}": f"data {index}" for index in range(20)})
    target = tmp_path / "dst"
    target.mkdir()
    link = tmp_path / "dst-link"
    link.symlink_to(target)
    release = tmp_path / "release"
    first = dirkit("mirror", str(source), str(target), env={"DIRKIT_TEST_HOLD_AFTER_LOCK": str(release)})
    try:
        assert wait_until(Path(f"{release}.held").exists), "the first run never took the lock"
        for spelling in (target, link):
            second = dirkit("mirror", str(source), str(spelling))
            out, err = second.communicate(timeout=60)
            assert second.returncode == 2, (out, err)
            assert "another dirkit run is working on this tree" in err
            assert f"pid {first.pid} " in err
    finally:
        release.touch()
        out, err = first.communicate(timeout=60)
    assert first.returncode == 0, (out, err)
    journal = Journal.open()
    runs = journal.runs_for_target(str(target))
    journal.close()
    assert [run.status for run in runs] == [RunStatus.DONE]
    assert read_files(target) == read_files(source)


def test_the_refusal_names_the_holding_run(
    make_tree: MakeTree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_tree("src", {"f": "new"})
    target = make_tree("dst", {"f": "old!"})
    holder = Journal.open()
    with claim_tree(holder, LocalBackend(str(target)), "mirror") as claim:
        assert main(["mirror", str(source), str(target)]) == 2
        err = capsys.readouterr().err
    holder.close()
    assert f"run {claim.run_id} (mirror, pid {os.getpid()} on " in err
    assert "started 20" in err
    assert (target / "f").read_text() == "old!"


def test_undo_apply_dupes_backups_and_unpack_are_refused_while_a_run_holds_the_tree(
    make_tree: MakeTree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_tree("src", {"f": "new", "g": "same", "h": "same"})
    target = make_tree("dst", {"f": "old!"})
    assert main(["mirror", "-q", str(source), str(target)]) == 0
    (source / "f").write_text("newer")
    plan = tmp_path / "plan.jsonl"
    assert main(["mirror", "-q", "--save-plan", str(plan), str(source), str(target)]) == 0
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w") as tar:
        member = tarfile.TarInfo("f")
        member.size = 3
        tar.addfile(member, io.BytesIO(b"tar"))
    holder = Journal.open()
    commands = [
        ["undo", str(target)],
        ["apply", str(plan)],
        ["dupes", "--link", str(target)],
        ["backups", "--prune", str(target)],
        ["unpack", "--overwrite", str(archive), str(target)],
    ]
    with claim_tree(holder, LocalBackend(str(target)), "mirror"):
        for command in commands:
            assert main(command) == 2, command
            assert "another dirkit run is working on this tree" in capsys.readouterr().err, command
    holder.close()
    assert read_files(target) == {"f": b"new", "g": b"same", "h": b"same"}
    assert main(["undo", "-q", str(target)]) == 0


def test_a_run_through_a_symlink_is_undone_and_listed_through_the_real_path(
    make_tree: MakeTree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_tree("src", {"f": "new", "d/g": "added"})
    target = make_tree("dst", {"f": "old!"})
    link = tmp_path / "link"
    link.symlink_to(target)
    assert main(["mirror", "-q", str(source), str(link)]) == 0
    assert main(["backups", "--json", str(target)]) == 0
    listed = capsys.readouterr().out
    assert '"operation": "mirror"' in listed
    assert main(["undo", "-q", str(target)]) == 0
    assert read_files(target) == {"f": b"old!"}


def test_a_run_through_a_bind_mount_is_seen_and_locked_through_the_real_path(
    make_tree: MakeTree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_root("a bind mount")
    source = make_tree("src", {"f": "new"})
    target = make_tree("dst", {"f": "old!"})
    bound = tmp_path / "bound"
    bound.mkdir()
    mounted = subprocess.run(
        ["mount", "--bind", str(target), str(bound)], capture_output=True, text=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind mount here: {mounted.stderr.strip()}")
    try:
        assert main(["mirror", "-q", str(source), str(bound)]) == 0
        assert main(["backups", "--json", str(target)]) == 0
        assert '"operation": "mirror"' in capsys.readouterr().out
        assert main(["undo", "-q", str(target)]) == 0
        assert read_files(target) == {"f": b"old!"}
        holder = Journal.open()
        with claim_tree(holder, LocalBackend(str(bound)), "mirror"):
            assert main(["mirror", str(source), str(target)]) == 2
            assert "another dirkit run is working on this tree" in capsys.readouterr().err
        holder.close()
    finally:
        subprocess.run(["umount", str(bound)], check=True)


def test_existing_runs_recorded_by_spelling_are_found_by_identity(tmp_path: Path, journal: Journal) -> None:
    target = build_tree(tmp_path / "dst", {"f": "x"})
    link = tmp_path / "link"
    link.symlink_to(target)
    journal.connection.execute(
        "INSERT INTO runs (run_id, operation, target, backup_dir, status, pid, host, started_at)"
        " VALUES ('r-old', 'mirror', ?, '\".dirkit/backups/r-old\"', 'done', 1, 'h', '2026')",
        (f'"{link}"',),
    )
    with claim_tree(journal, LocalBackend(str(target)), "undo"):
        pass
    row = journal.connection.execute("SELECT tree FROM runs WHERE run_id = 'r-old'").fetchone()
    assert row[0] == f"local:{target.stat().st_dev}:{target.stat().st_ino}"


def test_retrying_an_undo_that_stopped_finishes_it(make_tree: MakeTree, journal: Journal) -> None:
    old = {f"f{index}": f"old {index}" for index in range(6)}
    source = make_tree("src", {f"f{index}": f"new {index}!" for index in range(6)})
    target = make_tree("dst", old)
    options = MirrorOptions(guards=GuardOptions(force=True), jobs=1)
    assert mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, options).ok
    full = FaultyBackend(LocalBackend(str(target)), [Fault("rename", errno.ENOSPC, nth=4)])
    stopped = undo_run(journal, full, execute=ExecuteOptions(jobs=1))
    assert stopped.stopped_by is not None
    retried = undo_run(journal, LocalBackend(str(target)), execute=ExecuteOptions(jobs=1))
    assert retried.ok, retried.failures
    assert read_files(target) == {name: data.encode() for name, data in old.items()}
    redone = undo_run(journal, LocalBackend(str(target)), execute=ExecuteOptions(jobs=1))
    assert redone.ok, redone.failures
    assert read_files(target) == read_files(source), "undo of the finished undo redoes the whole run"


def test_the_message_of_a_stopped_undo_names_the_command_that_finishes_it(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    source = make_tree("src", {"f": "new", "g": "new"})
    target = make_tree("dst", {"f": "old!", "g": "old!"})
    assert main(["mirror", "-q", str(source), str(target)]) == 0
    journal = Journal.open()
    full = FaultyBackend(LocalBackend(str(target)), [Fault("rename", errno.ENOSPC, nth=1)])
    result = undo_run(journal, full)
    journal.close()
    assert result.stopped_by is not None
    assert main(["undo", str(target)]) == 0
    assert read_files(target) == {"f": b"old!", "g": b"old!"}
    from argparse import Namespace

    from dirkit.cli.runs import continue_hint

    hint = continue_hint(result, Namespace())
    assert f"dirkit undo {target}" in hint and "finish the undo" in hint
    typed = ("mirror", "--content", str(source), str(target))
    mirror_hint = continue_hint(replace(result, operation="mirror"), Namespace(command_line=typed))
    assert f"'dirkit mirror --content {source} {target}' again to finish" in mirror_hint


def test_undo_of_a_killed_run_skips_steps_below_a_file_quietly(tmp_path: Path, journal: Journal) -> None:
    target = build_tree(tmp_path / "dst", {"a": "still a file"})
    backend = LocalBackend(str(target))
    before = backend.stat(RelPath("a"))
    actions = [
        Action(
            ActionKind.BACKUP,
            RelPath("a"),
            expected=Fingerprint(EntryKind.FILE, before.size, before.mtime_ns),
        ),
        Action(ActionKind.MAKE_DIR, RelPath("a")),
        Action(ActionKind.COPY_FILE, RelPath("a/f"), source_path=RelPath("a/f"), size=3),
    ]
    dead = subprocess.Popen(["true"])
    dead.wait()
    journal.start_run(
        "r1",
        "mirror",
        backend.description,
        "src",
        RelPath(".dirkit/backups/r1"),
        dead.pid,
        os.uname().nodename,
        "2026-01-01T00:00:00",
        {},
        actions=actions,
    )
    journal.mark_started("r1", len(actions))
    result = undo_run(journal, backend)
    assert result.failures == ()
    assert (target / "a").read_text() == "still a file"


def test_a_file_named_as_backup_dir_is_refused_before_anything_starts(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_tree("src", {"f": "new"})
    target = make_tree("dst", {"f": "old!", "notes": "a file"})
    assert main(["mirror", "--backup-dir", "notes", str(source), str(target)]) == 2
    assert "notes: cannot keep backups there: it is a file" in capsys.readouterr().err
    assert (target / "f").read_text() == "old!"


def test_a_broken_run_record_does_not_break_later_mirrors_or_prune(
    make_tree: MakeTree, journal: Journal, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_tree("src", {"f": "new!", "g": "new!"})
    target = make_tree("dst", {"f": "old", "g": "old"})
    dst = LocalBackend(str(target))
    planning = plan_mirror_trees(LocalBackend(str(source)), dst, MirrorOptions())
    with pytest.raises(RefusedError, match="is not a directory"):
        execute_plan(
            planning.plan, dst, journal, LocalBackend(str(source)), ExecuteOptions(backup_root=RelPath("f"))
        )
    # The executor refuses a backup folder below a file before it starts; a run's record goes bad
    # when the path of its backup folder becomes a file after the run.
    done = execute_plan(
        planning.plan, dst, journal, LocalBackend(str(source)), ExecuteOptions(backup_root=RelPath("x/bk"))
    )
    assert done.ok
    shutil.rmtree(target / "x")
    (target / "x").write_text("a file where the run's backups were")
    (source / "g").write_text("newer")
    assert main(["mirror", "-q", str(source), str(target)]) == 0, capsys.readouterr().err
    (source / "g").write_text("newest")
    assert main(["mirror", "-q", str(source), str(target)]) == 0, capsys.readouterr().err
    assert main(["backups", "-q", "--prune", "--keep", "1", str(target)]) == 0, capsys.readouterr().err
    assert read_files(target) == {"f": b"new!", "g": b"newest"}


def test_keep_backups_0_is_refused_and_keeps_the_backups(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_tree("src", {"f": "new"})
    target = make_tree("dst", {"f": "old!"})
    assert main(["mirror", "-q", str(source), str(target)]) == 0
    (source / "f").write_text("newer")
    assert main(["mirror", "--keep-backups", "0", str(source), str(target)]) == 2
    assert "--keep-backups must be at least 1" in capsys.readouterr().err
    assert (target / "f").read_text() == "new"
    assert main(["undo", "-q", str(target)]) == 0
    assert (target / "f").read_text() == "old!"


def test_follow_symlinks_refuses_a_link_from_source_into_target(
    make_tree: MakeTree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_tree("src", {"f": "x"})
    target = make_tree("dst", {"f": "x"})
    (source / "into-dst").symlink_to(target)
    assert main(["mirror", "--follow-symlinks", str(source), str(target)]) == 2
    assert "reaches the target tree" in capsys.readouterr().err
    assert not (target / "into-dst").exists()
