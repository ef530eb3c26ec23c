"""The partitioned compare gives exactly the single-process answer, with or without its helper."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest

from dirkit.backends.faulty import FaultyBackend
from dirkit.backends.local import LocalBackend
from dirkit.core.compare.diff import Status
from dirkit.core.tree.filters import make_filter
from dirkit.core.tree.paths import RelPath
from dirkit.ops.compare import compare_worker, partition
from dirkit.ops.compare.trees import CompareOptions, compare_snapshots, compare_trees, scan_both
from dirkit.ops.tree.scan import ScanOptions
from tests.support import MakeTree


def spread_tree(count: int) -> dict[str, str | None]:
    spec: dict[str, str | None] = {f"top{i % 7}/mid{i % 5}/f{i}.txt": f"file {i}" for i in range(count)}
    spec.update({"loose.txt": "top-level file", "empty": None, "a-b/x": "sorts after a/"})
    spec.update({f"a/{i}": "in a" for i in range(5)})
    return spec


@pytest.fixture
def trees(make_tree: MakeTree) -> tuple[LocalBackend, LocalBackend]:
    left = make_tree("l", spread_tree(400))
    right_spec = spread_tree(400)
    del right_spec["top3/mid1/f31.txt"]
    right_spec["top4/mid2/new.txt"] = "added"
    right_spec["top1/mid2/f37.txt"] = "different size now"
    right_spec["a"] = "now a file"
    for key in [k for k in right_spec if k.startswith("a/")]:
        del right_spec[key]
    right = make_tree("r", right_spec)
    os.utime(right / "top2/mid0/f100.txt", (1_700_000_000, 1_700_000_000))
    os.chmod(right / "top5/mid0/f5.txt", 0o4755)
    os.chmod(right / "top6", 0o700)
    return LocalBackend(str(left)), LocalBackend(str(right))


def reference(left: LocalBackend, right: LocalBackend, options: CompareOptions) -> list[tuple[str, Status]]:
    snapshots = scan_both(left, right, options.scan)
    diff = compare_snapshots(left, right, *snapshots, options)
    return [(change.path, change.status) for change in diff.changes]


@pytest.mark.parametrize("after", [0.0, 1000.0], ids=["with-helper-process", "in-process"])
@pytest.mark.parametrize("content", [False, True])
def test_partitioned_equals_single_process(
    trees: tuple[LocalBackend, LocalBackend], after: float, content: bool
) -> None:
    left, right = trees
    options = CompareOptions(content=content, keep_same=True)
    diff = partition.compare_partitioned(left, right, options, parallel_after_seconds=after)
    assert [(c.path, c.status) for c in diff.changes] == reference(left, right, options)
    details: dict[str, str] = {c.path: c.detail or "" for c in diff.changes}
    assert details["top5/mid0/f5.txt"] == "mode 0644 -> 4755"
    assert details["top6"].startswith("mode 0755 -> 0700")


def test_partitioned_counts_same_without_keeping_them(trees: tuple[LocalBackend, LocalBackend]) -> None:
    left, right = trees
    lean = partition.compare_partitioned(
        left, right, CompareOptions(keep_same=False), parallel_after_seconds=0.0
    )
    full = partition.compare_partitioned(left, right, CompareOptions(keep_same=True))
    assert lean.counts() == full.counts()
    assert all(change.status is not Status.SAME for change in lean.changes)
    assert lean.counts()["left_only"] >= 6 and lean.counts()["type_changed"] == 1


def test_partition_respects_excludes(trees: tuple[LocalBackend, LocalBackend]) -> None:
    left, right = trees
    options = CompareOptions(scan=ScanOptions(tree_filter=make_filter(["top4/", "a"])))
    diff = partition.compare_partitioned(left, right, options, parallel_after_seconds=0.0)
    assert not any(c.path.startswith(("top4", "a/")) or c.path == "a" for c in diff.changes)
    assert [(c.path, c.status) for c in diff.changes] == reference(left, right, options)


def test_helper_failure_falls_back_to_this_process(
    trees: tuple[LocalBackend, LocalBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A helper that dies on its first chunk (killed, or failing) leaves its chunks to this process."""
    left, right = trees
    parent = os.getpid()
    compare_work = partition.compare_work

    def dies_in_the_helper(*arguments: Any) -> partition.ChunkResult:
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return compare_work(*arguments)

    monkeypatch.setattr(partition, "compare_work", dies_in_the_helper)
    options = CompareOptions()
    diff = partition.compare_partitioned(left, right, options, parallel_after_seconds=0.0)
    assert [(c.path, c.status) for c in diff.changes] == reference(left, right, options)


def test_no_fork_compares_in_this_process(
    trees: tuple[LocalBackend, LocalBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    left, right = trees

    def refused() -> int:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refused)
    options = CompareOptions(content=True)
    diff = partition.compare_partitioned(left, right, options, parallel_after_seconds=0.0)
    assert [(c.path, c.status) for c in diff.changes] == reference(left, right, options)


def test_compare_trees_uses_partition_for_local_trees(trees: tuple[LocalBackend, LocalBackend]) -> None:
    left, right = trees
    assert partition.can_partition(left, right, CompareOptions())
    assert not partition.can_partition(left, right, CompareOptions(normalize_unicode=True))
    assert partition.can_partition(left, right, CompareOptions(content=True))
    diff = compare_trees(left, right, CompareOptions(keep_same=False))
    assert RelPath("top1/mid2/f37.txt") in {c.path for c in diff.changes}


def test_moves_across_chunks_are_found(make_tree: MakeTree) -> None:
    spec = spread_tree(300)
    left = make_tree("ml", spec)
    moved = {
        (key.replace("top3/mid1/", "top6/renamed/") if key.startswith("top3/mid1/") else key): value
        for key, value in spec.items()
    }
    right = make_tree("mr", moved)
    options = CompareOptions(detect_moves=True, keep_same=False)
    diff = partition.compare_partitioned(
        LocalBackend(str(left)), LocalBackend(str(right)), options, parallel_after_seconds=0.0
    )
    moves = [(c.moved_from, c.path) for c in diff.changes if c.status is Status.MOVED]
    assert moves == [("top3/mid1", "top6/renamed")]


HELPER_CHUNKS = 12
"""Chunks the helper process takes before the parent goes on, in the capabilities test."""


def test_the_helper_process_compares_with_the_capabilities_the_wrapper_declares(
    make_tree: MakeTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spread_tree(300)
    left, right = make_tree("cl", spec), make_tree("cr", spec)
    for name in [key for key in spec if key.endswith(".txt")]:
        os.chmod(right / name, 0o600)
    seen_helper: list[bool] = []
    take_high = partition.ChunkClaims.take_high

    def after_the_helper_took_one(claims: partition.ChunkClaims) -> int | None:
        """Let the parent go on only once the helper process has claimed a few chunks (bounded wait)."""
        if seen_helper or claims.high < claims.low:
            return take_high(claims)
        for _ in range(3000):
            if claims.low >= HELPER_CHUNKS:
                seen_helper.append(True)
                break
            time.sleep(0.01)
        return take_high(claims)

    options = CompareOptions(keep_same=False, jobs=2)
    fat = FaultyBackend(LocalBackend(str(right)), [], no_modes=True)
    assert partition.can_partition(LocalBackend(str(left)), fat, options)
    first = [True]

    def patient(claims: partition.ChunkClaims) -> int | None:
        if first:
            first.clear()
            return take_high(claims)
        return after_the_helper_took_one(claims)

    monkeypatch.setattr(partition.ChunkClaims, "take_high", patient)
    diff = partition.compare_partitioned(LocalBackend(str(left)), fat, options, parallel_after_seconds=0.0)
    assert seen_helper, "the helper process took too few chunks"
    assert [change.path for change in diff.changes if "mode" in (change.detail or "")] == []
    first.append(True)
    seen_helper.clear()
    plain = partition.compare_partitioned(
        LocalBackend(str(left)), LocalBackend(str(right)), options, parallel_after_seconds=0.0
    )
    assert seen_helper
    assert sum(1 for change in plain.changes if "mode" in (change.detail or "")) >= 300


def test_an_interrupt_kills_and_reaps_the_helper(
    trees: tuple[LocalBackend, LocalBackend], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in the parent while the helper works: the helper is killed and reaped, none is left."""
    left, right = trees
    parent = os.getpid()
    compare_work = partition.compare_work
    calls: list[int] = []
    started: list[int] = []
    start = compare_worker.start_compare_worker

    def interrupted_later(*arguments: Any) -> partition.ChunkResult:
        if os.getpid() == parent:
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
        return compare_work(*arguments)

    def recorded(work: Any) -> Any:
        worker = start(work)
        assert worker is not None
        started.append(worker._pid)
        return worker

    monkeypatch.setattr(partition, "compare_work", interrupted_later)
    monkeypatch.setattr(partition, "start_compare_worker", recorded)
    with pytest.raises(KeyboardInterrupt):
        partition.compare_partitioned(left, right, CompareOptions(), parallel_after_seconds=0.0)
    assert len(started) == 1
    with pytest.raises(ChildProcessError):
        os.waitpid(started[0], os.WNOHANG)
