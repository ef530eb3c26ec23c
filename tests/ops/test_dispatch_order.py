"""Units unrelated to the batch of small copies being filled run ahead of it; a stop records the batch."""

from __future__ import annotations

import threading

from dirkit.backends.local import LocalBackend
from dirkit.core.run.guards import GuardOptions
from dirkit.core.run.plan import ActionKind
from dirkit.core.run.undo import StepStatus
from dirkit.ops.run.execute import ExecuteOptions, Progress
from dirkit.ops.run.mirror import MirrorOptions, mirror_trees
from dirkit.state.journal import Journal
from tests.support import MakeTree, tree_state

FORCE = MirrorOptions(guards=GuardOptions(force=True), jobs=4)


def test_a_stop_after_a_folder_made_ahead_of_the_batch_records_the_batch_skipped_and_a_rerun_converges(
    make_tree: MakeTree, journal: Journal
) -> None:
    source = make_tree("src", {"a/f1": "1", "a/f2": "2", "b/g": "3", "c/h": "4"})
    target = make_tree("dst", {})
    stop = threading.Event()

    def stop_after_two(progress: Progress) -> None:
        if progress.actions_done >= 2:
            stop.set()

    options = ExecuteOptions(stop=stop, on_progress=stop_after_two)
    result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, FORCE, options)
    assert result.interrupted
    steps = journal.steps(result.run_id)
    assert all(step.status in (StepStatus.DONE, StepStatus.SKIPPED) for step in steps)
    made = {step.action.path for step in steps if step.status is StepStatus.DONE}
    assert {"a", "b"} <= made, made
    skipped_copies = [
        step.action.path
        for step in steps
        if step.action.kind is ActionKind.COPY_FILE and step.status is StepStatus.SKIPPED
    ]
    assert "a/f1" in skipped_copies, "the batch of a/ waited while b was made ahead of it"
    assert all(not (target / path).exists() for path in skipped_copies)
    again = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, FORCE)
    assert again.ok, again.failures
    assert tree_state(target) == tree_state(source)
