"""A stateful property: random edits on both sides between syncs, syncs cut short by injected faults.

Rules write, delete, rename, chmod and touch files, and turn a folder into a file, on either side;
a sync runs with a fault wrapper that drops the connection at its Nth backend call (scan or
execution, either side). After every sync, each version that was on a side before it is still on
a side or in a backup, and each conflict it left alone holds on both sides what it held before.
At the end a clean sync, then another, must leave both sides equal except the conflicts listed,
and the last must have nothing to do.
"""

from __future__ import annotations

import errno
import io
import itertools
import uuid

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from dirkit.backends.faulty import ANY_METHOD, Fault, FaultKind, FaultyBackend
from dirkit.backends.memory import MemoryBackend
from dirkit.backends.protocol import Backend
from dirkit.core.run.guards import GuardOptions
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.filters import RESERVED_DIR_NAME, TEMP_MARKER
from dirkit.core.tree.paths import RelPath, parent_path
from dirkit.errors import BackendError
from dirkit.ops.sync.planning import SyncOptions
from dirkit.ops.sync.run import SyncResult, sync_trees
from dirkit.state.journal import Journal

NAMES = ["f", "g", "d/x", "d/y", "d/e/z"]
SIDES = st.sampled_from(["a", "b"])
FORCED = SyncOptions(guards=GuardOptions(force=True), jobs=2)
_VERSIONS = itertools.count()
_CLOCK = itertools.count(2_000_000_000_000_000_000, 1_000_000_000)
"""One clock for both trees, as on one machine (each memory tree's own counter would let two writes on
different sides share an mtime, which size-and-mtime detection cannot see, as in Unison or rclone)."""


def live_files(tree: MemoryBackend) -> dict[str, bytes]:
    """Return the files of a tree outside dirkit's own folder and temporary names."""
    return {
        path: node.data
        for path, node in tree.nodes.items()
        if node.kind is EntryKind.FILE
        and not path.startswith(RESERVED_DIR_NAME + "/")
        and TEMP_MARKER not in path
    }


def backed_up(tree: MemoryBackend) -> set[bytes]:
    """Return the contents of every file in a tree's backup folders."""
    prefix = f"{RESERVED_DIR_NAME}/backups/"
    return {
        node.data
        for path, node in tree.nodes.items()
        if node.kind is EntryKind.FILE and path.startswith(prefix)
    }


class SyncMachine(RuleBasedStateMachine):
    """Two memory trees synced again and again, edited in between."""

    def __init__(self) -> None:
        super().__init__()
        tag = uuid.uuid4().hex[:8]
        self.trees = {"a": MemoryBackend(f"memory-a-{tag}"), "b": MemoryBackend(f"memory-b-{tag}")}
        self.journal = Journal.open()

    def teardown(self) -> None:
        try:
            self.final_check()
        finally:
            self.journal.close()

    # --- edits -----------------------------------------------------------------------------------

    def make_parents(self, tree: MemoryBackend, path: RelPath) -> bool:
        parent = ancestor = parent_path(path)
        while ancestor:
            if ancestor in tree.nodes and tree.nodes[ancestor].kind is not EntryKind.DIR:
                return False
            ancestor = parent_path(ancestor)
        tree.add_dirs(parent)
        return True

    @rule(side=SIDES, name=st.sampled_from(NAMES))
    def write(self, side: str, name: str) -> None:
        tree = self.trees[side]
        path = RelPath(name)
        if (path in tree.nodes and tree.nodes[path].kind is EntryKind.DIR) or not self.make_parents(
            tree, path
        ):
            return
        data = f"version {next(_VERSIONS)} of {name} on {side}".encode()
        tree.write_file(path, io.BytesIO(data), next(_CLOCK))

    @rule(side=SIDES, name=st.sampled_from(NAMES))
    def delete(self, side: str, name: str) -> None:
        tree = self.trees[side]
        path = RelPath(name)
        if path in tree.nodes and tree.nodes[path].kind is EntryKind.FILE:
            tree.remove_file(path)

    @rule(side=SIDES, old=st.sampled_from(NAMES), new=st.sampled_from(NAMES))
    def rename(self, side: str, old: str, new: str) -> None:
        tree = self.trees[side]
        source, target = RelPath(old), RelPath(new)
        if source == target or source not in tree.nodes or target in tree.nodes:
            return
        if tree.nodes[source].kind is not EntryKind.FILE or not self.make_parents(tree, target):
            return
        tree.rename(source, target)

    @rule(side=SIDES, name=st.sampled_from(NAMES), mode=st.sampled_from([0o600, 0o644, 0o755]))
    def chmod(self, side: str, name: str, mode: int) -> None:
        tree = self.trees[side]
        if RelPath(name) in tree.nodes and tree.nodes[RelPath(name)].kind is EntryKind.FILE:
            tree.set_mode(RelPath(name), mode)

    @rule(side=SIDES, name=st.sampled_from(NAMES))
    def touch(self, side: str, name: str) -> None:
        tree = self.trees[side]
        path = RelPath(name)
        if path in tree.nodes and tree.nodes[path].kind is EntryKind.FILE:
            tree.set_mtime(path, next(_CLOCK))

    @rule(side=SIDES)
    def folder_becomes_file(self, side: str) -> None:
        tree = self.trees[side]
        for path in sorted((p for p in tree.nodes if p == "d" or p.startswith("d/")), reverse=True):
            if tree.nodes[path].kind is EntryKind.DIR:
                tree.remove_dir(path)
            else:
                tree.remove_file(path)
        tree.write_file(RelPath("d"), io.BytesIO(f"d as a file {next(_VERSIONS)}".encode()), next(_CLOCK))

    # --- syncs -----------------------------------------------------------------------------------

    def sync(self, fault_side: str | None = None, nth: int = 0) -> SyncResult | None:
        before_a, before_b = live_files(self.trees["a"]), live_files(self.trees["b"])
        sides: dict[str, Backend] = dict(self.trees)
        if fault_side is not None:
            fault = Fault(ANY_METHOD, errno.ECONNRESET, nth=nth, kind=FaultKind.TRANSIENT)
            sides[fault_side] = FaultyBackend(self.trees[fault_side], [fault])
        result: SyncResult | None = None
        try:
            result = sync_trees(sides["a"], sides["b"], self.journal, FORCED)
        except BackendError:
            result = None
        after_a, after_b = live_files(self.trees["a"]), live_files(self.trees["b"])
        kept = set(after_a.values()) | set(after_b.values())
        kept |= backed_up(self.trees["a"]) | backed_up(self.trees["b"])
        lost = (set(before_a.values()) | set(before_b.values())) - kept
        assert not lost, f"versions lost by the sync: {lost}"
        if result is not None:
            for conflict in result.conflicts:
                assert before_a.get(conflict.path) == after_a.get(conflict.path), conflict
                assert before_b.get(conflict.path) == after_b.get(conflict.path), conflict
        return result

    @rule()
    def clean_sync(self) -> None:
        self.sync()

    @rule(side=SIDES, nth=st.integers(1, 60))
    def interrupted_sync(self, side: str, nth: int) -> None:
        self.sync(side, nth)

    def final_check(self) -> None:
        self.sync()
        result = self.sync()
        assert result is not None
        assert result.planning.plan.is_empty, result.planning.plan
        conflicted = {path for conflict in result.conflicts for path in (conflict.path, *conflict.left_alone)}
        a, b = live_files(self.trees["a"]), live_files(self.trees["b"])

        def outside(files: dict[str, bytes]) -> dict[str, bytes]:
            return {
                p: v for p, v in files.items() if not any(p == c or p.startswith(c + "/") for c in conflicted)
            }

        assert outside(a) == outside(b)


def test_random_edits_and_cut_syncs_lose_nothing_and_converge() -> None:
    run_state_machine_as_test(
        SyncMachine,
        settings=settings(
            max_examples=int(__import__("os").environ.get("SYNC_EXAMPLES", "30")),
            stateful_step_count=14,
            deadline=None,
        ),
    )
