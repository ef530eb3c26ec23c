"""The forked hashing child: results in order, its batches taken back if it dies, never left behind."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import blake3
import pytest

from dirkit.backends.local import LocalBackend
from dirkit.ops.checksums import digests as digests_module
from dirkit.ops.checksums.digests import DigestOptions
from dirkit.ops.checksums.hashing_child import HashingChild
from dirkit.ops.checksums.manifest import ManifestOptions, build_manifest

OLD = 1_600_000_000


def double(values: list[int]) -> list[int]:
    """Return each value twice over (work for the child)."""
    return [value * 2 for value in values]


def die(_: list[int]) -> list[int]:
    """End the child at once, as a crash would."""
    os.kill(os.getpid(), signal.SIGKILL)
    return []


def children_of_this_process() -> set[int]:
    """Return the live child processes of this process."""
    found: set[int] = set()
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        with open(f"/proc/{os.getpid()}/task/{task}/children", encoding="ascii") as stream:
            found.update(int(pid) for pid in stream.read().split())
    return found


def test_the_child_answers_in_order_and_is_reaped() -> None:
    before = children_of_this_process()
    with HashingChild[str]() as child:
        assert child.start()
        assert child.send("a", double, ([1, 2],)) and child.send("b", double, ([3],))
        assert not child.has_room()
        assert child.receive() == ("a", [2, 4])
        assert child.receive() == ("b", [6])
        assert child.receive() is None
    assert children_of_this_process() == before


def test_a_dead_child_gives_its_batches_back() -> None:
    with HashingChild[str]() as child:
        assert child.start()
        assert child.send("lost", die, ([1],))
        assert child.receive() is None
        assert not child.running
        assert child.take_back() == ["lost"]
        assert not child.send("later", double, ([1],))


def test_a_failing_block_kills_the_child() -> None:
    before = children_of_this_process()
    with pytest.raises(RuntimeError), HashingChild[str]() as child:
        assert child.start()
        child.send("slow", double, (list(range(10)),))
        raise RuntimeError("interrupted")
    assert children_of_this_process() == before


def test_manifest_of_many_files_uses_the_child_and_leaves_no_process(
    make_tree: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = {f"d{index % 9}/f{index:04d}": f"content {index}" for index in range(900)}
    root = make_tree("t", spec, mtime=OLD)
    monkeypatch.setattr(digests_module, "PROCESS_POOL_FILES", 50)
    monkeypatch.setattr(digests_module, "BATCH_FILES", 25)
    started: list[int] = []
    real_start = HashingChild.start

    def counting_start(self: HashingChild[object]) -> bool:
        running = real_start(self)
        started.append(int(running))
        return running

    monkeypatch.setattr(HashingChild, "start", counting_start)
    before = children_of_this_process()
    result = build_manifest(LocalBackend(str(root)), ManifestOptions(digest=DigestOptions(use_cache=False)))
    assert started == [1]
    assert children_of_this_process() == before
    expected = b"".join(
        f"{blake3.blake3(spec[name].encode()).hexdigest()}  {name}\n".encode() for name in sorted(spec)
    )
    assert result.text == expected
