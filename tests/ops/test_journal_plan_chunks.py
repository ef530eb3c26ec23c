"""A run's plan is journaled in pieces (migration 0104); plans of runs recorded before still read."""

from __future__ import annotations

from pathlib import Path

from dirkit.backends.local import LocalBackend
from dirkit.core.run.compact import actions_to_compact
from dirkit.core.run.plan import Action, ActionKind
from dirkit.core.run.undo import StepStatus
from dirkit.core.tree.paths import RelPath
from dirkit.ops.run.undo import undo_run
from dirkit.state.journal import PLAN_CHUNK_ACTIONS, Journal, StepOutcome
from tests.support import build_tree, read_files


def _copies(count: int) -> list[Action]:
    return [
        Action(
            ActionKind.COPY_FILE,
            RelPath(f"f{index:05}"),
            RelPath(f"f{index:05}"),
            size=index,
            mtime_ns=index,
            mode=0o644,
        )
        for index in range(count)
    ]


def _start(journal: Journal, run_id: str, actions: list[Action]) -> None:
    journal.start_run(
        run_id, "mirror", "/t", "/s", RelPath(".dirkit/backups/x"), 1, "h", "2026", {}, actions=actions
    )


def test_a_large_plan_is_stored_in_pieces_and_read_back_whole(journal: Journal) -> None:
    actions = _copies(2 * PLAN_CHUNK_ACTIONS + 5)
    _start(journal, "r-big", actions)
    pieces = journal.connection.execute(
        "SELECT COUNT(*) FROM run_plan_chunks WHERE run_id = 'r-big'"
    ).fetchone()[0]
    assert pieces == 3
    assert journal.connection.execute("SELECT actions FROM runs WHERE run_id = 'r-big'").fetchone()[0] == "[]"
    assert journal.planned_actions("r-big") == actions
    assert journal.steps("r-big") == []
    through = PLAN_CHUNK_ACTIONS + 7
    journal.record_steps("r-big", [StepOutcome(0, StepStatus.DONE)], through)
    steps = journal.steps("r-big")
    assert [step.action for step in steps] == actions[:through]
    assert steps[0].status is StepStatus.DONE
    assert steps[-1].status is StepStatus.PENDING


def test_a_run_without_actions_stores_no_piece(journal: Journal) -> None:
    _start(journal, "r-empty", [])
    assert journal.planned_actions("r-empty") == []
    assert journal.connection.execute("SELECT COUNT(*) FROM run_plan_chunks").fetchone()[0] == 0


def test_a_run_recorded_before_0104_with_its_plan_in_one_row_is_undone(
    tmp_path: Path, journal: Journal
) -> None:
    target = build_tree(tmp_path / "dst", {"kept": "k", "new": "made by the old run"})
    run_id = "20200101T000000.000000Z-0ld0"
    plan = [
        Action(
            ActionKind.COPY_FILE,
            RelPath("new"),
            RelPath("new"),
            size=19,
            mtime_ns=1_600_000_000_000_000_000,
            mode=0o644,
        )
    ]
    journal.connection.execute(
        "INSERT INTO runs (run_id, operation, target, backup_dir, status, pid, host, started_at, actions,"
        " started_through) VALUES (?, 'mirror', ?, ?, 'done', 1, 'h', '2020', ?, 1)",
        (run_id, f'"{target}"', f'".dirkit/backups/{run_id}"', actions_to_compact(plan)),
    )
    journal.connection.execute(
        "INSERT INTO step_marks (run_id, status, seqs) VALUES (?, 'done', '0')", (run_id,)
    )
    journal.connection.commit()
    assert journal.planned_actions(run_id) == plan
    assert [step.status for step in journal.steps(run_id)] == [StepStatus.DONE]
    result = undo_run(journal, LocalBackend(str(target)), run_id)
    assert result.ok, result.failures
    assert read_files(target) == {"kept": b"k"}
