"""A mirror whose copies do not fit in the target's free space is refused before any step."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from dirkit.backends.faulty import FaultyBackend
from dirkit.backends.free_space import free_bytes_of
from dirkit.backends.local import LocalBackend
from dirkit.backends.memory import MemoryBackend
from dirkit.backends.retrying import RetryingBackend, RetryPolicy
from dirkit.cli.main import main
from dirkit.core.run.free_space import BLOCK_BYTES, MARGIN_BYTES, bytes_needed, margin_for, space_violation
from dirkit.core.run.plan import Action, ActionKind, make_plan
from dirkit.core.tree.paths import RelPath
from dirkit.state.journal import Journal
from tests.support import MakeTree, build_tree, read_tree

MiB = 1024 * 1024


def _copies(*sizes: int) -> list[Action]:
    return [Action(ActionKind.COPY_FILE, RelPath(f"f{index}"), size=size) for index, size in enumerate(sizes)]


def test_the_need_rounds_every_copied_file_up_to_whole_blocks() -> None:
    plan = make_plan(
        "mirror", "dst", [*_copies(1, 0, BLOCK_BYTES + 1), Action(ActionKind.MAKE_DIR, RelPath("d"))]
    )
    assert bytes_needed(plan) == 4 * BLOCK_BYTES
    assert bytes_needed(make_plan("mirror", "dst", [])) == 0


def test_the_margin_is_64_mib_or_a_twentieth_of_a_small_filesystem() -> None:
    assert margin_for(10 * 1024 * MiB) == MARGIN_BYTES
    assert margin_for(20 * MiB) == MiB
    assert margin_for(-5) == 0


def test_a_plan_that_does_not_fit_is_named_with_its_need_and_the_free_space() -> None:
    plan = make_plan("mirror", "dst", _copies(2 * MiB, 10))
    reason = space_violation(plan, MiB, force=False)
    assert reason is not None
    assert "2 files needing 2.0 MiB" in reason and "1.0 MiB free" in reason and "--force" in reason
    assert space_violation(plan, None, force=False) is None
    assert space_violation(plan, MiB, force=True) is None
    assert space_violation(plan, 100 * MiB, force=False) is None
    assert space_violation(make_plan("mirror", "dst", _copies(2 * MiB)), 2 * MiB + 200 * 1024, False) is None


def test_free_space_is_asked_through_wrappers_and_unknown_where_no_backend_says(tmp_path: Path) -> None:
    local = LocalBackend(str(tmp_path))
    wrapped = RetryingBackend(FaultyBackend(local, []), RetryPolicy(attempts=1))
    free = free_bytes_of(wrapped)
    assert free is not None and abs(free - local.free_bytes()) < 64 * MiB  # type: ignore[operator]
    assert free_bytes_of(MemoryBackend("m")) is None


def test_a_mirror_onto_a_too_small_disk_is_refused_before_any_step_unless_forced(
    make_tree: MakeTree, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = make_tree("src", {"big.bin": os.urandom(2 * MiB), "note.txt": "a new note"})
    target = build_tree(small_disk / "dst", {"note.txt": "old note"})
    before = read_tree(target)

    assert main(["mirror", str(source), str(target)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(f"dirkit: {target}: refusing to mirror: ")
    assert (
        "not enough free space: the plan copies 2 files needing 2.0 MiB and the target has 1020.0 KiB free"
        in error
    )
    assert read_tree(target) == before
    assert not (target / ".dirkit").exists()
    with contextlib.closing(Journal.open()) as journal:
        assert journal.runs_for_target(str(target)) == []

    assert main(["mirror", "--dry-run", str(source), str(target)]) == 0
    assert "a real run would refuse: not enough free space" in capsys.readouterr().err

    plan_file = small_disk.parent / "plan.jsonl"
    assert main(["mirror", "--save-plan", str(plan_file), str(source), str(target)]) == 0
    capsys.readouterr()
    assert main(["apply", str(plan_file)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "refusing to apply: not enough free space" in error
    assert read_tree(target) == before

    assert main(["mirror", "--force", str(source), str(target)]) != 0
    assert "No space left" in capsys.readouterr().err
    assert (target / "note.txt").read_text() in ("old note", "a new note")

    little = make_tree("little", {"note.txt": "another note"})
    assert main(["mirror", "-q", str(little), str(target)]) == 0
    assert (target / "note.txt").read_text() == "another note"
