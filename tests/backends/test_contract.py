"""One contract every backend passes; parametrised over every backend that can run here."""

from __future__ import annotations

import errno
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from dirkit.backends.local import LocalBackend
from dirkit.backends.memory import MemoryBackend
from dirkit.backends.protocol import Backend
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import ROOT, RelPath
from dirkit.errors import (
    AlreadyExistsError,
    BackendError,
    IsADirError,
    NotFoundError,
)

P = RelPath


@pytest.fixture(params=["memory", "local"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Yield an empty tree on each backend."""
    made: Backend
    if request.param == "memory":
        made = MemoryBackend()
    else:
        root = tmp_path / "tree"
        root.mkdir()
        made = LocalBackend(str(root))
    yield made
    made.close()


def write(backend: Backend, path: str, data: bytes, mtime_ns: int | None = None) -> None:
    backend.write_file(P(path), io.BytesIO(data), mtime_ns=mtime_ns)


def read(backend: Backend, path: str) -> bytes:
    with backend.open_read(P(path)) as stream:
        return stream.read()


def test_empty_tree_lists_nothing(backend: Backend) -> None:
    assert backend.list_dir(ROOT) == []


def test_write_then_read_and_stat(backend: Backend) -> None:
    entry = backend.write_file(P("a.txt"), io.BytesIO(b"hello"), mtime_ns=1_500_000_000_123_456_789)
    assert entry.kind is EntryKind.FILE and entry.size == 5
    assert read(backend, "a.txt") == b"hello"
    stat = backend.stat(P("a.txt"))
    assert stat.size == 5
    assert stat.mtime_ns == 1_500_000_000_123_456_789


def test_write_replaces_existing_file(backend: Backend) -> None:
    write(backend, "a", b"old")
    write(backend, "a", b"newer")
    assert read(backend, "a") == b"newer"
    assert [entry.path for entry in backend.list_dir(ROOT)] == ["a"]


def test_write_sets_mode(backend: Backend) -> None:
    backend.write_file(P("x"), io.BytesIO(b""), mode=0o640)
    assert backend.stat(P("x")).mode == 0o640


def test_make_dir_and_list(backend: Backend) -> None:
    backend.make_dir(P("d"))
    write(backend, "d/f", b"1")
    write(backend, "g", b"2")
    names = sorted(entry.path for entry in backend.list_dir(ROOT))
    assert names == ["d", "g"]
    children = backend.list_dir(P("d"))
    assert [(entry.path, entry.kind) for entry in children] == [("d/f", EntryKind.FILE)]


def test_make_dir_twice_fails(backend: Backend) -> None:
    backend.make_dir(P("d"))
    with pytest.raises(AlreadyExistsError):
        backend.make_dir(P("d"))
    with pytest.raises(FileExistsError):
        backend.make_dir(P("d"))


def test_stat_missing_raises_not_found(backend: Backend) -> None:
    with pytest.raises(NotFoundError):
        backend.stat(P("nope"))
    with pytest.raises(FileNotFoundError):
        backend.open_read(P("nope"))


def test_open_read_of_dir_fails(backend: Backend) -> None:
    backend.make_dir(P("d"))
    with pytest.raises(IsADirError) as raised:
        read(backend, "d")
    assert isinstance(raised.value, IsADirectoryError)


def test_symlinks_are_reported_not_followed(backend: Backend) -> None:
    write(backend, "target", b"data")
    backend.make_symlink(P("link"), "target")
    entry = backend.stat(P("link"))
    assert entry.kind is EntryKind.SYMLINK and entry.target == "target"
    followed = backend.stat(P("link"), follow_symlinks=True)
    assert followed.kind is EntryKind.FILE and followed.size == 4
    assert followed.path == "link"


def test_remove_file_and_dir(backend: Backend) -> None:
    backend.make_dir(P("d"))
    write(backend, "d/f", b"1")
    with pytest.raises(BackendError) as raised:
        backend.remove_dir(P("d"))
    assert raised.value.errno == errno.ENOTEMPTY
    backend.remove_file(P("d/f"))
    backend.remove_dir(P("d"))
    assert backend.list_dir(ROOT) == []


def test_rename_refuses_to_replace_unless_asked(backend: Backend) -> None:
    write(backend, "a", b"A")
    write(backend, "b", b"B")
    with pytest.raises(AlreadyExistsError):
        backend.rename(P("a"), P("b"))
    backend.rename(P("a"), P("b"), replace=True)
    assert read(backend, "b") == b"A"
    with pytest.raises(NotFoundError):
        backend.stat(P("a"))


def test_rename_moves_a_whole_directory(backend: Backend) -> None:
    backend.make_dir(P("d"))
    backend.make_dir(P("d/e"))
    write(backend, "d/e/f", b"deep")
    backend.rename(P("d"), P("moved"))
    assert read(backend, "moved/e/f") == b"deep"
    assert [entry.path for entry in backend.list_dir(ROOT)] == ["moved"]


def test_set_mtime_and_mode(backend: Backend) -> None:
    write(backend, "a", b"A")
    backend.set_mtime(P("a"), 1_234_567_890_000_000_001)
    backend.set_mode(P("a"), 0o600)
    entry = backend.stat(P("a"))
    assert entry.mtime_ns == 1_234_567_890_000_000_001
    assert entry.mode == 0o600


def test_write_into_missing_dir_fails(backend: Backend) -> None:
    with pytest.raises(FileNotFoundError):
        write(backend, "missing/a", b"x")


def test_capabilities_are_data(backend: Backend) -> None:
    capabilities = backend.capabilities
    assert capabilities.mtime_resolution_ns >= 1
    assert capabilities.parallel_connections >= 1


def test_hard_link_gives_a_file_a_second_name(backend: Backend) -> None:
    write(backend, "a", b"shared", mtime_ns=1_400_000_000_000_000_000)
    backend.hard_link(P("a"), P("b"))
    assert read(backend, "b") == b"shared"
    first, second = backend.stat(P("a")), backend.stat(P("b"))
    assert first.ino == second.ino and second.mtime_ns == 1_400_000_000_000_000_000
    assert backend.capabilities.hard_links
    with pytest.raises(AlreadyExistsError):
        backend.hard_link(P("a"), P("b"))
    with pytest.raises(NotFoundError):
        backend.hard_link(P("missing"), P("c"))
