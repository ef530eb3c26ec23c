"""Planners and ops read backend capabilities: mtimes, modes, symlinks, identities, connections, digests."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import blake3
import pytest

from dirkit.backends.faulty import Fault, FaultyBackend
from dirkit.backends.local import LocalBackend
from dirkit.backends.local_files import local_files
from dirkit.backends.memory import MemoryBackend
from dirkit.backends.protocol import NO_MTIMES, Capabilities, workers_for
from dirkit.backends.readonly import ReadOnlyBackend
from dirkit.core.checksums.digest import DigestAlgorithm
from dirkit.core.compare.diff import Status
from dirkit.core.compare.sameness import SamenessPolicy, mtimes_equal
from dirkit.core.run.guards import GuardOptions
from dirkit.core.run.mirror_plan import NO_SYMLINKS_REASON
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath
from dirkit.ops.checksums.digests import digest
from dirkit.ops.compare.trees import CompareOptions, compare_trees
from dirkit.ops.run.mirror import MirrorOptions, mirror_trees, plan_mirror_trees
from dirkit.ops.tree.scan import ScanOptions, scan_tree
from dirkit.state.journal import Journal

MakeTree = Callable[..., Path]
FORCE = MirrorOptions(guards=GuardOptions(force=True), jobs=2)
NO_IDENTITIES = Capabilities(parallel_connections=2, identities=False)


@pytest.fixture
def journal() -> Iterator[Journal]:
    """Yield the journal of the test's state folder."""
    opened = Journal.open()
    yield opened
    opened.close()


def test_a_missing_mtime_or_a_tree_without_mtimes_never_proves_sameness() -> None:
    exact = SamenessPolicy()
    assert mtimes_equal(5, 5, exact)
    assert not mtimes_equal(None, 5, exact)
    assert not mtimes_equal(5, None, exact)
    assert not mtimes_equal(5, 5, SamenessPolicy(mtime_resolution_ns=NO_MTIMES))


def test_quick_compare_on_a_tree_without_mtimes_calls_same_size_files_changed() -> None:
    left = MemoryBackend("left", Capabilities(mtime_resolution_ns=NO_MTIMES))
    right = MemoryBackend("right")
    for tree in (left, right):
        tree.add_file("a.txt", b"same size 1", mtime_ns=10**18)
    left.add_file("b.txt", b"same size 2", mtime_ns=10**18)
    right.add_file("b.txt", b"same size 3", mtime_ns=10**18)
    quick = {change.path: change.status for change in compare_trees(left, right).changes}
    assert quick == {"a.txt": Status.CHANGED, "b.txt": Status.CHANGED}
    content = compare_trees(left, right, CompareOptions(content=True)).changes
    by_content = {change.path: change.status for change in content}
    assert by_content == {"a.txt": Status.SAME, "b.txt": Status.CHANGED}


def test_workers_for_bounds_jobs_by_every_backends_connections() -> None:
    assert Capabilities().parallel_connections == 1
    four, two = MemoryBackend("four"), MemoryBackend("two", Capabilities(parallel_connections=2))
    assert workers_for(four, 8) == 4
    assert workers_for([four, two], 8) == 2
    assert workers_for(four, 3) == 3
    assert workers_for(MemoryBackend("one", Capabilities()), 8) == 1
    assert workers_for(four, 0) == 1


class DigestingServer(MemoryBackend):
    """A memory tree that says it computes SHA-256 itself, and counts the times it was asked."""

    def __init__(self) -> None:
        super().__init__("server", Capabilities(server_digests=("sha256",)))
        self.asked: list[tuple[RelPath, str]] = []

    def server_digest(self, path: RelPath, algorithm: str) -> str:
        """Return a digest the way a server would, noting the request."""
        self.asked.append((path, algorithm))
        return "AB" * 32


def test_digest_asks_the_server_for_what_it_offers_and_reads_the_rest() -> None:
    server = DigestingServer()
    server.add_file("f", b"bytes")
    assert digest(server, RelPath("f"), DigestAlgorithm.SHA256) == "ab" * 32
    assert server.asked == [("f", "sha256")]
    assert digest(server, RelPath("f"), DigestAlgorithm.BLAKE3) == blake3.blake3(b"bytes").hexdigest()
    assert server.asked == [("f", "sha256")]


def test_mirror_onto_a_tree_without_symlinks_skips_them_with_the_reason(journal: Journal) -> None:
    source = MemoryBackend("src")
    source.add_file("a.txt", b"a")
    source.make_symlink(RelPath("link"), "a.txt")
    target = MemoryBackend("dst", Capabilities(symlinks=False, parallel_connections=1))
    result = mirror_trees(source, target, journal, FORCE)
    assert result.ok, result.failures
    assert [(skip.path, skip.reason) for skip in result.plan.skipped] == [("link", NO_SYMLINKS_REASON)]
    assert "link" not in target.nodes
    assert target.nodes[RelPath("a.txt")].data == b"a"
    again = plan_mirror_trees(source, target, FORCE).plan
    assert again.is_empty and [skip.path for skip in again.skipped] == ["link"]


def test_a_target_without_modes_shows_and_settles_no_mode_difference(journal: Journal) -> None:
    source = MemoryBackend("src")
    source.add_file("run.sh", b"#!/bin/sh\n")
    source.set_mode(RelPath("run.sh"), 0o755)
    target = MemoryBackend("dst", Capabilities(can_set_mode=False, parallel_connections=1))
    target.add_file("run.sh", b"#!/bin/sh\n", mtime_ns=source.stat(RelPath("run.sh")).mtime_ns)
    assert [change.status for change in compare_trees(source, target).changes] == [Status.SAME]
    assert plan_mirror_trees(source, target, FORCE).plan.is_empty
    assert mirror_trees(source, target, journal, FORCE).ok


def test_a_local_target_wrapped_as_no_modes_compares_without_modes(make_tree: MakeTree) -> None:
    source = make_tree("src", {"run.sh": "#!/bin/sh\n", "d/f": "x"})
    target = make_tree("dst", {"run.sh": "#!/bin/sh\n", "d/f": "x"})
    os.chmod(source / "run.sh", 0o755)
    os.chmod(target / "run.sh", 0o644)
    plain = compare_trees(LocalBackend(str(source)), LocalBackend(str(target)), CompareOptions(jobs=1))
    plain_statuses: dict[str, Status] = {change.path: change.status for change in plain.changes}
    assert plain_statuses["run.sh"] is Status.CHANGED
    fat = FaultyBackend(LocalBackend(str(target)), [], no_modes=True)
    for jobs in (1, 4):
        diff = compare_trees(LocalBackend(str(source)), fat, CompareOptions(jobs=jobs))
        statuses: dict[str, Status] = {change.path: change.status for change in diff.changes}
        assert statuses["run.sh"] is Status.SAME, jobs


def test_a_followed_symlink_loop_is_found_on_a_tree_without_inodes() -> None:
    tree = MemoryBackend("loops", NO_IDENTITIES)
    tree.add_file("top/sub/f", b"f")
    tree.make_symlink(RelPath("top/sub/up"), "..")
    tree.make_symlink(RelPath("top/self"), ".")
    entries: dict[str, Entry] = {
        entry.path: entry for entry in scan_tree(tree, ScanOptions(follow_symlinks=True))
    }
    assert entries["top/sub/up"].error is not None and "loop" in entries["top/sub/up"].error
    assert entries["top/self"].error is not None and "loop" in entries["top/self"].error
    assert "top/sub/up/sub" not in entries
    assert entries["top/sub/f"].error is None


def test_a_directory_reached_by_two_links_is_no_loop_on_a_tree_without_inodes() -> None:
    tree = MemoryBackend("twice", NO_IDENTITIES)
    tree.add_file("real/f", b"f")
    tree.add_dirs("a")
    tree.add_dirs("b")
    tree.make_symlink(RelPath("a/to-real"), "../real")
    tree.make_symlink(RelPath("b/to-real"), "../real")
    entries: dict[str, Entry] = {
        entry.path: entry for entry in scan_tree(tree, ScanOptions(follow_symlinks=True))
    }
    assert all(entry.error is None for entry in entries.values()), entries
    assert entries["a/to-real"].is_dir and entries["b/to-real"].is_dir
    assert entries["a/to-real/f"].size == 1 and entries["b/to-real/f"].size == 1


def test_the_same_trees_on_local_disk_keep_the_inode_method(make_tree: MakeTree) -> None:
    root = make_tree("tree", {"real/f": "f", "a": None, "b": None, "top/sub": None})
    os.symlink("../real", root / "a/to-real")
    os.symlink("../real", root / "b/to-real")
    os.symlink("..", root / "top/sub/up")
    backend = LocalBackend(str(root))
    assert backend.capabilities.identities
    entries: dict[str, Entry] = {
        entry.path: entry for entry in scan_tree(backend, ScanOptions(follow_symlinks=True))
    }
    assert entries["a/to-real/f"].error is None and entries["b/to-real/f"].error is None
    assert entries["top/sub/up"].error is not None and "loop" in entries["top/sub/up"].error


def test_a_wrapped_local_tree_keeps_its_fast_paths_unless_a_fault_must_fire(tmp_path: Path) -> None:
    local = LocalBackend(str(tmp_path))
    assert local_files(local) is local
    assert local_files(FaultyBackend(local, [])) is local
    assert local_files(FaultyBackend(local, [], no_modes=True)) is local
    assert local_files(FaultyBackend(local, [Fault("rename", errno.EIO, nth=1)])) is local
    assert local_files(FaultyBackend(local, [Fault("open_read", errno.EIO, nth=1)])) is None
    assert local_files(MemoryBackend()) is None


def test_a_target_that_ignores_case_gets_no_names_it_cannot_tell_apart(journal: Journal) -> None:
    source = MemoryBackend("src")
    for name in ("A.txt", "a.txt", "README", "keep.txt"):
        source.add_file(name, name.encode())
    target = MemoryBackend("dst", Capabilities(case_sensitive=False, parallel_connections=1))
    target.add_file("readme", b"the target's own")
    result = mirror_trees(source, target, journal, FORCE)
    assert result.ok, result.failures
    reasons: dict[str, str] = {skip.path: skip.reason for skip in result.plan.skipped}
    assert sorted(reasons) == ["README", "a.txt", "readme"]
    assert "differs only by case from A.txt" in reasons["a.txt"]
    assert "differs only by case from readme" in reasons["README"]
    assert sorted(path for path in target.nodes if path and not path.startswith(".dirkit")) == [
        "A.txt",
        "keep.txt",
        "readme",
    ]
    assert target.nodes[RelPath("readme")].data == b"the target's own"
    sensitive = MemoryBackend("dst2", Capabilities(parallel_connections=1))
    assert not plan_mirror_trees(source, sensitive, FORCE).plan.skipped


def test_a_read_only_local_target_reads_fast_but_is_never_written_past_its_guard(
    make_tree: MakeTree, journal: Journal
) -> None:
    source = make_tree("src", {"a.txt": "new", "b.txt": "added"})
    target = make_tree("dst", {"a.txt": "old"})
    guard = ReadOnlyBackend(LocalBackend(str(target)))
    assert local_files(guard) is not None and local_files(guard, writing=True) is None
    result = mirror_trees(LocalBackend(str(source)), guard, journal, FORCE)
    assert not result.ok
    assert (target / "a.txt").read_text() == "old" and not (target / "b.txt").exists()
