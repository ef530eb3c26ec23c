"""The local copy fast paths and the batched journal: exact bytes, kept holes, and kill -9 mid-batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.backends.local_copy import copy_descriptor
from dirkit.core.run.guards import GuardOptions
from dirkit.core.run.plan import Action, ActionKind, Plan, count_totals
from dirkit.core.run.undo import StepStatus
from dirkit.core.tree.filters import TEMP_MARKER
from dirkit.core.tree.paths import RelPath
from dirkit.ops.run.execute import execute_plan
from dirkit.ops.run.mirror import MirrorOptions, mirror_trees
from dirkit.ops.run.outcomes import JOURNAL_BATCH
from dirkit.ops.run.undo import undo_run
from dirkit.state.journal import Journal, RunStatus
from tests.support import read_files

MIB = 1024 * 1024


def _copy(source: Path, target: Path) -> int:
    with open(source, "rb") as reading, open(target, "wb") as writing:
        return copy_descriptor(reading.fileno(), writing.fileno())


def test_kernel_copy_moves_exactly_the_bytes_of_large_and_empty_files(tmp_path: Path) -> None:
    large = tmp_path / "large"
    data = os.urandom(MIB) * 3 + b"tail bytes"
    large.write_bytes(data)
    assert _copy(large, tmp_path / "large.copy") == len(data)
    assert (tmp_path / "large.copy").read_bytes() == data
    (tmp_path / "empty").write_bytes(b"")
    assert _copy(tmp_path / "empty", tmp_path / "empty.copy") == 0
    assert (tmp_path / "empty.copy").read_bytes() == b""


def test_kernel_copy_keeps_a_sparse_file_sparse_and_exact(tmp_path: Path) -> None:
    sparse = tmp_path / "sparse"
    with open(sparse, "wb") as stream:
        stream.write(b"head")
        stream.seek(64 * MIB)
        stream.write(b"middle")
        stream.truncate(128 * MIB)
    info = sparse.stat()
    if info.st_blocks * 512 >= info.st_size:
        pytest.skip("this filesystem does not keep holes")
    copied = tmp_path / "sparse.copy"
    assert _copy(sparse, copied) == info.st_size
    assert copied.stat().st_size == info.st_size
    assert copied.stat().st_blocks * 512 < 4 * MIB
    with open(sparse, "rb") as one, open(copied, "rb") as other:
        while block := one.read(8 * MIB):
            assert other.read(8 * MIB) == block


def test_clone_file_reports_what_the_disk_holds(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.write_bytes(b"x" * 5000)
    tree = tmp_path / "tree"
    tree.mkdir()
    backend = LocalBackend(str(tree))
    entry = backend.clone_file(str(source), RelPath("copy"), 1_600_000_000_123_456_789, 0o640)
    on_disk = backend.stat(RelPath("copy"))
    assert (entry.kind, entry.size, entry.mtime_ns, entry.mode) == (
        on_disk.kind,
        on_disk.size,
        on_disk.mtime_ns,
        on_disk.mode,
    )
    assert (tree / "copy").read_bytes() == b"x" * 5000


def test_make_dir_over_a_path_that_appeared_is_a_conflict(tmp_path: Path, journal: Journal) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "taken").write_bytes(b"keep me")
    actions = (
        Action(ActionKind.MAKE_DIR, RelPath("taken"), mode=0o755),
        Action(ActionKind.MAKE_DIR, RelPath("new")),
    )
    plan = Plan("mirror", str(tree), actions, count_totals(actions))
    result = execute_plan(plan, LocalBackend(str(tree)), journal)
    assert [failure.path for failure in result.conflicts] == ["taken"]
    assert (tree / "taken").read_bytes() == b"keep me"
    assert (tree / "new").is_dir()
    statuses = [step.status for step in journal.steps(result.run_id)]
    assert statuses == [StepStatus.CONFLICT, StepStatus.DONE]


def test_kill_9_in_the_middle_of_a_second_journal_batch_loses_nothing(
    tmp_path: Path, journal: Journal
) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    files = JOURNAL_BATCH + JOURNAL_BATCH // 2
    for index in range(files):
        folder = source / f"d{index % 20:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{index}").write_bytes(b"new %d" % index)
    target.mkdir()
    (target / "d00").mkdir()
    (target / "d00" / "f0").write_bytes(b"old content")
    kill_after = JOURNAL_BATCH + JOURNAL_BATCH // 4
    child = subprocess.run(
        [sys.executable, "-m", "dirkit", "mirror", "--force", "-q", "-j", "4", str(source), str(target)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "DIRKIT_TEST_KILL_AFTER_STEPS": str(kill_after)},
        timeout=120,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-500:]
    (killed,) = journal.runs_for_target(str(target))
    steps = journal.steps(killed.run_id)
    assert len(steps) >= kill_after, "every step that may have begun is in the journal"
    # The first batch's outcomes were written with the second window of starts (all but those in flight).
    assert sum(step.status is StepStatus.DONE for step in steps) >= JOURNAL_BATCH // 2
    undone = undo_run(journal, LocalBackend(str(target)))
    assert undone.ok, undone.failures[:3]
    assert read_files(target) == {"d00/f0": b"old content"}
    options = MirrorOptions(guards=GuardOptions(force=True), jobs=4)
    assert mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, options).ok
    after = read_files(target)
    assert after == read_files(source)
    assert not any(TEMP_MARKER in path for path in after)
    assert all(run.status is not RunStatus.RUNNING for run in journal.runs_for_target(str(target)))


def test_started_steps_are_read_from_run_starts_and_from_runs_of_before_0103(journal: Journal) -> None:
    actions = tuple(Action(ActionKind.MAKE_DIR, RelPath(f"d{index}")) for index in range(5))
    journal.start_run("r1", "mirror", "/t", None, RelPath("b"), 1, "h", "now", {}, actions=actions)
    journal.mark_started("r1", 3)
    assert [step.seq for step in journal.steps("r1")] == [0, 1, 2]
    (stored,) = journal.connection.execute("SELECT started_through FROM runs WHERE run_id = 'r1'").fetchone()
    assert stored == 0, "moving the start window leaves the run's row (and its stored actions) alone"
    journal.start_run("r0", "mirror", "/t", None, RelPath("b"), 1, "h", "now", {}, actions=actions)
    with journal.connection:
        journal.connection.execute("UPDATE runs SET started_through = 4 WHERE run_id = 'r0'")
    assert [step.seq for step in journal.steps("r0")] == [0, 1, 2, 3]
