"""The base and the journal together: a step's base row lands with its step, a failed step keeps the old
row, and a sync with nothing to do reads no file contents."""

from __future__ import annotations

import io

from dirkit.backends.faulty import Fault, FaultyBackend
from dirkit.backends.memory import MemoryBackend
from dirkit.core.run.plan import ActionKind
from dirkit.core.tree.paths import RelPath
from dirkit.ops.sync.planning import SyncOptions
from dirkit.ops.sync.run import sync_trees
from dirkit.state.journal import Journal


def pair(name: str) -> tuple[MemoryBackend, MemoryBackend]:
    a, b = MemoryBackend(f"memory-a-{name}"), MemoryBackend(f"memory-b-{name}")
    for index in range(6):
        a.add_file(f"d/f{index}", f"file {index}".encode(), mtime_ns=1_000_000_000 * (index + 1))
    return a, b


def test_a_no_change_sync_reads_no_file_contents(journal: Journal) -> None:
    a, b = pair("quiet")
    assert sync_trees(a, b, journal).in_step
    watched_a = FaultyBackend(a, [Fault("open_read", nth=1)])
    watched_b = FaultyBackend(b, [Fault("open_read", nth=1)])
    result = sync_trees(watched_a, watched_b, journal)
    assert result.in_step and result.planning.plan.is_empty and not result.runs
    assert watched_a.calls.get("open_read", 0) == watched_b.calls.get("open_read", 0) == 0


def test_a_failed_step_keeps_its_old_base_row_and_the_next_sync_does_only_it(journal: Journal) -> None:
    a, b = pair("failing")
    assert sync_trees(a, b, journal).in_step
    for index in (1, 4):
        a.write_file(RelPath(f"d/f{index}"), io.BytesIO(b"changed on A!"), 9_000_000_000 + index)
    failing = FaultyBackend(b, [Fault("write_file", nth=2)])
    first = sync_trees(a, failing, journal, SyncOptions(jobs=1))
    assert not first.in_step
    assert [failure.path for run in first.runs for failure in run.failures] == ["d/f4"]
    second = sync_trees(a, b, journal)
    copies = [
        step.action.path for step in second.planning.plan.b_steps if step.action.kind is ActionKind.COPY_FILE
    ]
    assert copies == ["d/f4"]
    assert second.in_step
    assert b.nodes[RelPath("d/f1")].data == b.nodes[RelPath("d/f4")].data == b"changed on A!"
    assert sync_trees(a, b, journal).planning.plan.is_empty
