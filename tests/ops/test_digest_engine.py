"""The digest engine on real files: right digests, the cache (with reads counted), no stale answers."""

from __future__ import annotations

import hashlib
import io
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import blake3
import pytest

from dirkit.backends.local import LocalBackend
from dirkit.backends.memory import MemoryBackend
from dirkit.backends.protocol import Backend, Capabilities
from dirkit.core.checksums.digest import DigestAlgorithm
from dirkit.core.tree.entry import Entry
from dirkit.core.tree.paths import RelPath
from dirkit.ops.checksums import digests as digests_module
from dirkit.ops.checksums import local_digests
from dirkit.ops.checksums.digests import DigestOptions, DigestResults, open_digest_engine
from dirkit.ops.checksums.manifest import ManifestOptions, build_manifest
from dirkit.ops.tree.scan import scan_tree
from dirkit.state.database import connect_state, schema_names
from dirkit.state.digest_cache import FileIdentity

OPENED: list[str] = []
_COUNTING = threading.Event()


def _count_opens(event: str, arguments: tuple[Any, ...]) -> None:
    if _COUNTING.is_set() and event == "open" and isinstance(arguments[0], str):
        OPENED.append(arguments[0])


sys.addaudithook(_count_opens)


@pytest.fixture
def opened_files() -> Iterator[list[str]]:
    """Collect every path the process opens (os.open and open) while the test runs."""
    OPENED.clear()
    _COUNTING.set()
    yield OPENED
    _COUNTING.clear()


OLD = 1_500_000_000
"""An mtime far enough in the past that files are not 'racily clean'."""


def _files(backend: Backend) -> list[Entry]:
    return [entry for entry in scan_tree(backend) if entry.is_file]


def _digest_tree(root: Path, **options: Any) -> DigestResults:
    backend = LocalBackend(str(root))
    chosen = DigestOptions(**{"racy_window_ns": 0, **options})
    with open_digest_engine(backend, chosen) as engine:
        return engine.digest_entries(_files(backend))


def test_digests_match_blake3_and_hashlib(make_tree: Callable[..., Path]) -> None:
    big = os.urandom(9 * 1024 * 1024)
    root = make_tree("t", {"small": b"abc", "empty": b"", "mid": b"m" * 300_000, "big.bin": big})
    expected_data = {"small": b"abc", "empty": b"", "mid": b"m" * 300_000, "big.bin": big}
    references: list[tuple[DigestAlgorithm, Callable[[bytes], str]]] = [
        (DigestAlgorithm.BLAKE3, lambda data: blake3.blake3(data).hexdigest()),
        (DigestAlgorithm.SHA256, lambda data: hashlib.sha256(data).hexdigest()),
    ]
    for algorithm, reference in references:
        results = _digest_tree(root, algorithm=algorithm, use_cache=False)
        assert results.digests == {RelPath(name): reference(data) for name, data in expected_data.items()}


def test_cache_serves_untouched_files_without_reading_them(
    make_tree: Callable[..., Path], opened_files: list[str]
) -> None:
    root = make_tree("t", {"a.txt": "alpha", "b/c.txt": "gamma", "b/d.bin": b"\0" * 5000}, mtime=OLD)
    opened_files.clear()
    first = _digest_tree(root)
    assert (first.hashed_files, first.cached_files) == (3, 0)
    assert sorted(os.path.basename(path) for path in opened_files if path.startswith(str(root))) == [
        "a.txt",
        "c.txt",
        "d.bin",
    ]
    opened_files.clear()
    second = _digest_tree(root)
    assert (second.hashed_files, second.cached_files) == (0, 3)
    assert second.digests == first.digests
    assert [path for path in opened_files if path.startswith(str(root)) and os.path.isfile(path)] == []


def test_a_rewrite_with_size_and_mtime_restored_is_hashed_again(
    make_tree: Callable[..., Path], opened_files: list[str]
) -> None:
    root = make_tree("t", {"doc.txt": "version 1", "other.txt": "untouched"}, mtime=OLD)
    first = _digest_tree(root)
    target = root / "doc.txt"
    target.write_bytes(b"version 2")
    os.utime(target, (OLD, OLD))
    assert target.stat().st_size == len("version 1") and target.stat().st_mtime_ns == OLD * 10**9
    opened_files.clear()
    second = _digest_tree(root)
    assert [os.path.basename(path) for path in opened_files if path.startswith(str(root))] == ["doc.txt"]
    assert (second.hashed_files, second.cached_files) == (1, 1)
    assert second.digests[RelPath("doc.txt")] != first.digests[RelPath("doc.txt")]
    assert second.digests[RelPath("doc.txt")] == blake3.blake3(b"version 2").hexdigest()


def test_no_cache_reads_every_time_and_writes_nothing(make_tree: Callable[..., Path]) -> None:
    root = make_tree("t", {"a": "1", "b": "2"}, mtime=OLD)
    assert _digest_tree(root, use_cache=False).hashed_files == 2
    assert _digest_tree(root, use_cache=False).hashed_files == 2
    assert _digest_tree(root).hashed_files == 2


def test_recently_changed_files_are_not_cached(make_tree: Callable[..., Path]) -> None:
    root = make_tree("t", {"fresh": "just written"}, mtime=None)
    for _ in range(2):
        backend = LocalBackend(str(root))
        with open_digest_engine(backend, DigestOptions()) as engine:
            assert engine.digest_entries(_files(backend)).hashed_files == 1


def test_algorithms_have_separate_cache_rows(make_tree: Callable[..., Path]) -> None:
    root = make_tree("t", {"a": "1"}, mtime=OLD)
    blake = _digest_tree(root).digests
    sha = _digest_tree(root, algorithm=DigestAlgorithm.SHA256).digests
    assert sha[RelPath("a")] == hashlib.sha256(b"1").hexdigest() != blake[RelPath("a")]
    assert _digest_tree(root, algorithm=DigestAlgorithm.SHA256).cached_files == 1


def test_the_cache_migration_is_registered() -> None:
    connection = connect_state()
    try:
        assert "0200_digest_cache" in schema_names(connection)
    finally:
        connection.close()


def test_unreadable_files_are_failures_not_errors(make_tree: Callable[..., Path]) -> None:
    root = make_tree("t", {"ok": "fine", "gone": "soon"}, mtime=OLD)
    backend = LocalBackend(str(root))
    entries = _files(backend)
    (root / "gone").unlink()
    with open_digest_engine(backend, DigestOptions(use_cache=False)) as engine:
        results = engine.digest_entries(entries)
    assert list(results.digests) == ["ok"]
    assert "No such file" in results.failures[RelPath("gone")]


def test_many_small_files_hashed_in_worker_processes(
    make_tree: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = {f"d{index % 7}/f{index}": f"content {index}" for index in range(300)}
    root = make_tree("t", spec, mtime=OLD)
    monkeypatch.setattr(digests_module, "PROCESS_POOL_FILES", 10)
    monkeypatch.setattr(digests_module, "BATCH_FILES", 16)
    results = _digest_tree(root)
    assert results.digests == {
        RelPath(name): blake3.blake3(data.encode()).hexdigest() for name, data in spec.items()
    }
    assert _digest_tree(root).cached_files == 300


class CountingBackend:
    """A wrapper that counts open_read calls and hides local fast paths (like a remote tree)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.reads: list[RelPath] = []
        self._lock = threading.Lock()

    @property
    def capabilities(self) -> Capabilities:
        """Return the inner capabilities."""
        return self.inner.capabilities

    def open_read(self, path: RelPath) -> BinaryIO:
        """Count, then open through the inner backend."""
        with self._lock:
            self.reads.append(path)
        return self.inner.open_read(path)

    def local_files(self) -> None:
        """Return None: reads go through open_read."""
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_remote_like_trees_are_read_through_the_backend_and_never_cached() -> None:
    memory = MemoryBackend()
    for index in range(5):
        memory.write_file(RelPath(f"f{index}"), _bytes_stream(f"data {index}".encode()))
    counting = CountingBackend(memory)
    entries = _files(memory)
    for _ in range(2):
        with open_digest_engine(counting, DigestOptions(jobs=3)) as engine:
            results = engine.digest_entries(entries)
        assert results.cached_files == 0
    assert sorted(counting.reads) == sorted([entry.path for entry in entries] * 2)
    assert results.digests[RelPath("f3")] == blake3.blake3(b"data 3").hexdigest()


def _bytes_stream(data: bytes) -> BinaryIO:
    return io.BytesIO(data)


def _cached_paths() -> list[bytes]:
    connection = connect_state()
    try:
        return sorted(row[0] for row in connection.execute("SELECT path FROM digest_cache"))
    finally:
        connection.close()


def test_a_whole_tree_manifest_forgets_files_that_are_gone(make_tree: Callable[..., Path]) -> None:
    root = make_tree("t", {"a": "1", "b": "2"}, mtime=OLD)
    options = ManifestOptions(digest=DigestOptions(racy_window_ns=0))
    build_manifest(LocalBackend(str(root)), options)
    assert _cached_paths() == [b"a", b"b"]
    (root / "b").unlink()
    build_manifest(LocalBackend(str(root)), options)
    assert _cached_paths() == [b"a"]


def test_an_unusable_state_folder_only_costs_the_cache(
    make_tree: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_tree("t", {"a": "1"}, mtime=OLD)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("DIRKIT_STATE_DIR", str(blocker / "state"))
    result = build_manifest(LocalBackend(str(root)), ManifestOptions())
    assert result.listed_files == 1 and not result.failures


def test_manifest_with_worker_processes_equals_one_without(
    make_tree: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec: dict[str, str | bytes] = {f"d{index % 5}/f{index:03d}": f"content {index}" for index in range(200)}
    spec["big.bin"] = b"\1" * (9 * 1024 * 1024)
    root = make_tree("t", spec, mtime=OLD)
    options = ManifestOptions(digest=DigestOptions(use_cache=False))
    alone = build_manifest(LocalBackend(str(root)), options)
    monkeypatch.setattr(digests_module, "PROCESS_POOL_FILES", 20)
    monkeypatch.setattr(digests_module, "BATCH_FILES", 7)
    pooled = build_manifest(LocalBackend(str(root)), options)
    assert pooled.text == alone.text and pooled.listed_files == 201


def test_files_with_future_mtimes_are_still_cached(make_tree: Callable[..., Path]) -> None:
    root = make_tree("t", {"from-the-future": "x"}, mtime=4_000_000_000)
    assert _digest_tree(root).hashed_files == 1
    assert _digest_tree(root).cached_files == 1


def test_large_files_are_hashed_a_mapped_window_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mmap

    monkeypatch.setattr(local_digests, "MAP_WINDOW", mmap.PAGESIZE)
    data = os.urandom(mmap.PAGESIZE * 5 + 123)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    st = os.stat(path)
    expected = FileIdentity(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    found = local_digests.digest_local_file(str(path), DigestAlgorithm.BLAKE3, expected)
    assert found == (blake3.blake3(data).hexdigest(), True)
