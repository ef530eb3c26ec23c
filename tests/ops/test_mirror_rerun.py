"""A mirror with nothing to do records no run: undo still reverts the last run that changed something."""

from __future__ import annotations

from dirkit.backends.local import LocalBackend
from dirkit.core.run.guards import GuardOptions
from dirkit.ops.run.mirror import MirrorOptions, mirror_trees
from dirkit.ops.run.recovery import runs_on_tree
from dirkit.ops.run.undo import undo_run
from dirkit.state.journal import Journal
from tests.support import MakeTree, tree_state


def test_a_rerun_with_nothing_to_do_writes_no_run_and_frees_the_lock(
    make_tree: MakeTree, journal: Journal
) -> None:
    source = make_tree("src", {"d/a.txt": "new a", "d/e/b.txt": "b", "c.txt": "c"})
    target = make_tree("dst", {"d/a.txt": "old a", "gone.txt": "gone"})
    before = tree_state(target)
    options = MirrorOptions(guards=GuardOptions(force=True))
    first = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, options)
    assert first.ok and first.run_id
    again = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, options)
    assert again.ok and again.run_id == "" and again.plan.is_empty
    assert [run.run_id for run in runs_on_tree(journal, LocalBackend(str(target)))] == [first.run_id]
    assert journal.connection.execute("SELECT COUNT(*) FROM tree_locks").fetchone() == (0,)
    undone = undo_run(journal, LocalBackend(str(target)))
    assert undone.ok, undone.failures
    assert tree_state(target) == before
