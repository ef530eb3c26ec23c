"""One contract every backend passes; parametrised over every backend (and wrapper) that can run here.

The suite reads each backend's declared capabilities and asserts what they promise: times kept to
the declared resolution, symlinks and hard links where declared (else UnsupportedError and nothing
made), a replacing rename whether or not it is atomic. The read half also runs through the
read-only wrapper, over a tree seeded beforehand.
"""

from __future__ import annotations

import errno
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dirkit.backends.faulty import Fault, FaultKind, FaultyBackend
from dirkit.backends.local import LocalBackend
from dirkit.backends.memory import MemoryBackend
from dirkit.backends.protocol import Backend
from dirkit.backends.readonly import ReadOnlyBackend
from dirkit.backends.retrying import RetryingBackend, RetryPolicy
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import ROOT, RelPath
from dirkit.errors import (
    AlreadyExistsError,
    BackendError,
    IsADirError,
    NotADirError,
    NotFoundError,
    UnsupportedError,
)
from tests.backends import ftp_servers, ssh_server

P = RelPath
PROTOCOL_CALLS = (
    "stat",
    "list_dir",
    "open_read",
    "write_file",
    "make_dir",
    "make_symlink",
    "remove_file",
    "hard_link",
    "remove_dir",
    "rename",
    "set_mtime",
    "set_mode",
)
TRANSIENT_FAULTS = [
    fault
    for method in PROTOCOL_CALLS
    for fault in (
        Fault(method, nth=1, kind=FaultKind.TRANSIENT),
        Fault(method, nth=3, kind=FaultKind.TRANSIENT_AFTER),
    )
]
"""Per call kind: the first attempt fails before reaching the disk; the third takes effect, then fails."""
SEED_TIME = 1_500_000_000_123_456_789


@dataclass(frozen=True, slots=True)
class Made:
    """A backend under test, and a check to run when the test is done."""

    backend: Backend
    check: Callable[[], None] = lambda: None


def make_local(root: Path) -> Made:
    return Made(LocalBackend(str(root)))


def make_memory(root: Path) -> Made:
    return Made(MemoryBackend())


def make_ftp_like_memory(root: Path) -> Made:
    return Made(
        MemoryBackend(whole_second_times=True, symlinks=False, hard_links=False, atomic_replace=False)
    )


def make_faulty_local(root: Path) -> Made:
    return Made(FaultyBackend(LocalBackend(str(root)), []))


def make_retrying_local(root: Path) -> Made:
    faulty = FaultyBackend(LocalBackend(str(root)), TRANSIENT_FAULTS)
    waits: list[float] = []
    retrying = RetryingBackend(faulty, RetryPolicy(attempts=3, first_delay_s=0.25), sleep=waits.append)

    def every_fault_was_retried() -> None:
        assert faulty.fired, "the test made no call that a fault could fail"
        assert len(retrying.retries) == len(faulty.fired) == len(waits)
        assert set(waits) <= {0.25}

    return Made(retrying, every_fault_was_retried)


def make_ftp(server: str) -> Callable[[Path], Made]:
    def make(root: Path) -> Made:
        return Made(ftp_servers.open_backend(server)[0])

    return make


def make_sftp(root: Path) -> Made:
    return Made(ssh_server.open_backend()[0])


WRITABLE: dict[str, Callable[[Path], Made]] = {
    "ftp-pyftpdlib": make_ftp("pyftpdlib"),
    "ftps-pyftpdlib": make_ftp("pyftpdlib-tls"),
    "ftp-vsftpd": make_ftp("vsftpd"),
    "ftps-vsftpd": make_ftp("vsftpd-tls"),
    "ftp-proftpd": make_ftp("proftpd"),
    "memory": make_memory,
    "memory-ftp-like": make_ftp_like_memory,
    "local": make_local,
    "local-faulty": make_faulty_local,
    "local-retrying": make_retrying_local,
    "sftp-openssh": make_sftp,
}


@pytest.fixture(params=sorted(WRITABLE))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Yield an empty tree on each writable backend."""
    root = tmp_path / "tree"
    root.mkdir()
    made = WRITABLE[request.param](root)
    yield made.backend
    made.backend.close()
    made.check()


def seed(backend: Backend) -> None:
    """Build the tree the read half expects, with what the backend can hold."""
    backend.write_file(P("a.txt"), io.BytesIO(b"hello"), mtime_ns=SEED_TIME)
    backend.make_dir(P("d"))
    backend.make_dir(P("d/e"))
    write(backend, "d/f", b"1")
    write(backend, "d/e/deep", b"deep")
    if backend.capabilities.symlinks:
        backend.make_symlink(P("link"), "a.txt")
        backend.make_symlink(P("dirlink"), "d")
    if backend.capabilities.hard_links:
        backend.hard_link(P("a.txt"), P("d/twin"))


@pytest.fixture(params=[*sorted(WRITABLE), "local-read-only"])
def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Yield the seeded tree on each backend, the read-only wrapper included."""
    root = tmp_path / "tree"
    root.mkdir()
    if request.param == "local-read-only":
        seed(LocalBackend(str(root)))
        made = Made(ReadOnlyBackend(LocalBackend(str(root))))
    else:
        made = WRITABLE[request.param](root)
        seed(made.backend)
    yield made.backend
    made.backend.close()
    made.check()


def write(backend: Backend, path: str, data: bytes, mtime_ns: int | None = None) -> None:
    backend.write_file(P(path), io.BytesIO(data), mtime_ns=mtime_ns)


def read(backend: Backend, path: str) -> bytes:
    with backend.open_read(P(path)) as stream:
        return stream.read()


def assert_time_kept(backend: Backend, actual: int | None, wanted: int) -> None:
    """Assert a stored time is the wanted one, to within the backend's declared resolution.

    A backend without usable times (a resolution of None) promises nothing about them.
    """
    resolution = backend.capabilities.mtime_resolution_ns
    if resolution is None:
        return
    assert actual is not None
    assert abs(actual - wanted) < resolution, (actual, wanted, resolution)


DECLARED = {
    "ftp-pyftpdlib": (1_000_000_000, False, False, True),
    "ftps-pyftpdlib": (1_000_000_000, False, False, True),
    "ftp-vsftpd": (1_000_000_000, False, False, True),
    "ftps-vsftpd": (1_000_000_000, False, False, True),
    "ftp-proftpd": (1_000_000_000, False, False, False),
    "memory": (1, True, True, True),
    "memory-ftp-like": (1_000_000_000, False, False, False),
    "local": (1, True, True, True),
    "local-faulty": (1, True, True, True),
    "local-retrying": (1, True, True, True),
    "sftp-openssh": (1_000_000_000, True, True, True),
}
"""Per variant: mtime resolution, symlinks, hard links, one-step replace; no adaptation hides a loss."""


@pytest.mark.parametrize("name", sorted(WRITABLE))
def test_each_variant_declares_what_it_is_meant_to(name: str, tmp_path: Path) -> None:
    made = WRITABLE[name](tmp_path)
    capabilities = made.backend.capabilities
    made.backend.close()
    declared = (
        capabilities.mtime_resolution_ns,
        capabilities.symlinks,
        capabilities.hard_links,
        capabilities.rename_replaces,
    )
    assert declared == DECLARED[name]


# The read half: every backend, the read-only wrapper too.


def test_listing_gives_each_child_once_with_its_kind(seeded: Backend) -> None:
    kinds = {entry.path: entry.kind for entry in seeded.list_dir(ROOT)}
    expected = {"a.txt": EntryKind.FILE, "d": EntryKind.DIR}
    if seeded.capabilities.symlinks:
        expected |= {"link": EntryKind.SYMLINK, "dirlink": EntryKind.SYMLINK}
    assert kinds == expected
    below = sorted((entry.path, entry.kind) for entry in seeded.list_dir(P("d")))
    twin = [("d/twin", EntryKind.FILE)] if seeded.capabilities.hard_links else []
    assert below == sorted([("d/e", EntryKind.DIR), ("d/f", EntryKind.FILE), *twin])


def test_stat_and_read_give_size_time_and_bytes(seeded: Backend) -> None:
    entry = seeded.stat(P("a.txt"))
    assert (entry.path, entry.kind, entry.size) == ("a.txt", EntryKind.FILE, 5)
    assert_time_kept(seeded, entry.mtime_ns, SEED_TIME)
    assert read(seeded, "a.txt") == b"hello"
    assert read(seeded, "d/f") == b"1"
    assert read(seeded, "d/e/deep") == b"deep"
    assert seeded.stat(ROOT).kind is EntryKind.DIR


def test_missing_paths_raise_not_found(seeded: Backend) -> None:
    with pytest.raises(NotFoundError):
        seeded.stat(P("nope"))
    with pytest.raises(FileNotFoundError):
        seeded.open_read(P("nope"))
    with pytest.raises(NotFoundError):
        seeded.list_dir(P("d/nope"))


def test_reading_a_dir_or_listing_a_file_fails_with_its_kind(seeded: Backend) -> None:
    with pytest.raises(IsADirError):
        read(seeded, "d")
    with pytest.raises(NotADirError):
        seeded.list_dir(P("a.txt"))


def test_symlinks_are_reported_not_followed(seeded: Backend) -> None:
    if not seeded.capabilities.symlinks:
        with pytest.raises(NotFoundError):
            seeded.stat(P("link"))
        return
    entry = seeded.stat(P("link"))
    assert entry.kind is EntryKind.SYMLINK and entry.target == "a.txt"
    followed = seeded.stat(P("link"), follow_symlinks=True)
    assert followed.kind is EntryKind.FILE and followed.size == 5
    assert followed.path == "link"
    assert seeded.stat(P("dirlink"), follow_symlinks=True).kind is EntryKind.DIR


def test_hard_links_share_one_file(seeded: Backend) -> None:
    if not seeded.capabilities.hard_links:
        return
    first, second = seeded.stat(P("a.txt")), seeded.stat(P("d/twin"))
    assert first.ino is not None and first.ino == second.ino
    assert read(seeded, "d/twin") == b"hello"
    assert_time_kept(seeded, second.mtime_ns, SEED_TIME)


def test_capabilities_are_data(seeded: Backend) -> None:
    capabilities = seeded.capabilities
    assert capabilities.mtime_resolution_ns is None or capabilities.mtime_resolution_ns >= 1
    assert capabilities.parallel_connections >= 1


# The write half: every writable backend.


def test_empty_tree_lists_nothing(backend: Backend) -> None:
    assert backend.list_dir(ROOT) == []


def test_write_returns_the_entry_it_made(backend: Backend) -> None:
    entry = backend.write_file(P("a.txt"), io.BytesIO(b"hello"), mtime_ns=SEED_TIME)
    assert (entry.path, entry.kind, entry.size) == ("a.txt", EntryKind.FILE, 5)
    assert_time_kept(backend, entry.mtime_ns, SEED_TIME)
    assert read(backend, "a.txt") == b"hello"
    stat = backend.stat(P("a.txt"))
    assert stat.size == 5
    assert_time_kept(backend, stat.mtime_ns, SEED_TIME)


def test_write_replaces_existing_file_and_leaves_no_temporary_name(backend: Backend) -> None:
    write(backend, "a", b"old")
    write(backend, "a", b"newer")
    assert read(backend, "a") == b"newer"
    assert [entry.path for entry in backend.list_dir(ROOT)] == ["a"]


def test_write_sets_mode(backend: Backend) -> None:
    backend.write_file(P("x"), io.BytesIO(b""), mode=0o640)
    if backend.capabilities.can_set_mode:
        assert backend.stat(P("x")).mode == 0o640


def test_write_onto_a_dir_or_into_a_missing_dir_fails(backend: Backend) -> None:
    backend.make_dir(P("d"))
    with pytest.raises(IsADirError):
        write(backend, "d", b"x")
    with pytest.raises(FileNotFoundError):
        write(backend, "missing/a", b"x")
    assert [entry.path for entry in backend.list_dir(ROOT)] == ["d"]
    assert backend.list_dir(P("d")) == []


def test_make_dir_and_list(backend: Backend) -> None:
    backend.make_dir(P("d"))
    write(backend, "d/f", b"1")
    write(backend, "g", b"2")
    names = sorted(entry.path for entry in backend.list_dir(ROOT))
    assert names == ["d", "g"]
    children = backend.list_dir(P("d"))
    assert [(entry.path, entry.kind) for entry in children] == [("d/f", EntryKind.FILE)]


def test_make_dir_twice_or_in_a_missing_dir_fails(backend: Backend) -> None:
    backend.make_dir(P("d"))
    with pytest.raises(AlreadyExistsError):
        backend.make_dir(P("d"))
    with pytest.raises(FileExistsError):
        backend.make_dir(P("d"))
    with pytest.raises(FileNotFoundError):
        backend.make_dir(P("missing/d"))


def test_make_symlink_or_say_unsupported(backend: Backend) -> None:
    write(backend, "target", b"data")
    if not backend.capabilities.symlinks:
        with pytest.raises(UnsupportedError):
            backend.make_symlink(P("link"), "target")
        assert [entry.path for entry in backend.list_dir(ROOT)] == ["target"]
        return
    backend.make_symlink(P("link"), "target")
    entry = backend.stat(P("link"))
    assert entry.kind is EntryKind.SYMLINK and entry.target == "target"
    with pytest.raises(AlreadyExistsError):
        backend.make_symlink(P("link"), "target")
    backend.remove_file(P("link"))
    assert read(backend, "target") == b"data"


def test_remove_file_and_dir(backend: Backend) -> None:
    backend.make_dir(P("d"))
    write(backend, "d/f", b"1")
    with pytest.raises(BackendError) as not_empty:
        backend.remove_dir(P("d"))
    assert not_empty.value.errno == errno.ENOTEMPTY
    backend.remove_file(P("d/f"))
    backend.remove_dir(P("d"))
    assert backend.list_dir(ROOT) == []


def test_removing_what_is_not_there_or_of_the_wrong_kind_fails(backend: Backend) -> None:
    write(backend, "f", b"1")
    backend.make_dir(P("d"))
    with pytest.raises(NotFoundError):
        backend.remove_file(P("nope"))
    with pytest.raises(NotFoundError):
        backend.remove_dir(P("nope"))
    with pytest.raises(NotADirError):
        backend.remove_dir(P("f"))
    with pytest.raises(IsADirError):
        backend.remove_file(P("d"))
    assert sorted(entry.path for entry in backend.list_dir(ROOT)) == ["d", "f"]


def test_rename_refuses_to_replace_unless_asked(backend: Backend) -> None:
    write(backend, "a", b"A")
    write(backend, "b", b"B")
    with pytest.raises(AlreadyExistsError):
        backend.rename(P("a"), P("b"))
    assert read(backend, "b") == b"B"
    backend.rename(P("a"), P("b"), replace=True)
    assert read(backend, "b") == b"A"
    with pytest.raises(NotFoundError):
        backend.stat(P("a"))


def test_rename_of_a_missing_name_fails_and_frees_nothing(backend: Backend) -> None:
    write(backend, "b", b"B")
    with pytest.raises(NotFoundError):
        backend.rename(P("nope"), P("b"), replace=True)
    assert read(backend, "b") == b"B"


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
    entry = backend.stat(P("a"))
    assert_time_kept(backend, entry.mtime_ns, 1_234_567_890_000_000_001)
    if backend.capabilities.can_set_mode:
        backend.set_mode(P("a"), 0o600)
        assert backend.stat(P("a")).mode == 0o600


def test_set_mtime_keeps_whole_seconds_exactly(backend: Backend) -> None:
    write(backend, "a", b"A")
    backend.set_mtime(P("a"), 1_234_567_890_000_000_000)
    if backend.capabilities.mtime_resolution_ns is not None:
        assert backend.stat(P("a")).mtime_ns == 1_234_567_890_000_000_000


def test_hard_link_or_say_unsupported(backend: Backend) -> None:
    write(backend, "a", b"shared", mtime_ns=1_400_000_000_000_000_000)
    if not backend.capabilities.hard_links:
        with pytest.raises(UnsupportedError):
            backend.hard_link(P("a"), P("b"))
        assert [entry.path for entry in backend.list_dir(ROOT)] == ["a"]
        return
    backend.hard_link(P("a"), P("b"))
    assert read(backend, "b") == b"shared"
    first, second = backend.stat(P("a")), backend.stat(P("b"))
    assert first.ino == second.ino and second.mtime_ns == 1_400_000_000_000_000_000
    with pytest.raises(AlreadyExistsError):
        backend.hard_link(P("a"), P("b"))
    with pytest.raises(NotFoundError):
        backend.hard_link(P("missing"), P("c"))
