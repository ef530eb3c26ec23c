"""The wrappers on their own: retrying (attempts, backoff, what counts as done), read-only, faults."""

from __future__ import annotations

import errno
import io
from collections.abc import Callable
from pathlib import Path

import pytest

from dirkit.backends.faulty import Fault, FaultKind, FaultyBackend
from dirkit.backends.local import LocalBackend
from dirkit.backends.memory import MemoryBackend
from dirkit.backends.protocol import Backend
from dirkit.backends.readonly import ReadOnlyBackend
from dirkit.backends.retrying import Retry, RetryingBackend, RetryPolicy
from dirkit.backends.wrapping import BackendWrapper, backends_within
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import ROOT, RelPath
from dirkit.errors import (
    EXIT_ERROR,
    AlreadyExistsError,
    BackendError,
    ConnectionLostError,
    DirkitError,
    NotFoundError,
    PermissionDeniedError,
    ReadOnlyTreeError,
    TimedOutError,
    TransientError,
    UsageError,
    translate_os_error,
)

P = RelPath
BEFORE, AFTER = FaultKind.TRANSIENT, FaultKind.TRANSIENT_AFTER


class ReconnectingMemory(MemoryBackend):
    """A memory tree that counts its reconnects, as a remote backend would renew its connection."""

    def __init__(self) -> None:
        super().__init__("reconnecting")
        self.reconnects = 0

    def reconnect(self) -> None:
        self.reconnects += 1


def retrying(inner: Backend, attempts: int = 4) -> tuple[RetryingBackend, list[float]]:
    waits: list[float] = []
    policy = RetryPolicy(attempts=attempts, first_delay_s=0.5, backoff=2.0, max_delay_s=3.0)
    return RetryingBackend(inner, policy, sleep=waits.append), waits


def memory_with(*paths: str) -> MemoryBackend:
    tree = MemoryBackend()
    for path in paths:
        tree.add_file(path, path.encode())
    return tree


# TransientError and its kinds.


def test_transient_kinds_are_builtin_os_errors_with_exit_code_2() -> None:
    lost = ConnectionLostError(errno.ECONNRESET, "connection reset", "ftp://host/a")
    timed_out = TimedOutError(errno.ETIMEDOUT, "timed out", "ftp://host/a")
    for error in (lost, timed_out):
        assert isinstance(error, TransientError) and isinstance(error, DirkitError)
        assert error.exit_code == EXIT_ERROR and error.may_have_taken_effect
    assert isinstance(lost, ConnectionError) and isinstance(timed_out, TimeoutError)
    assert not issubclass(NotFoundError, TransientError)
    assert not issubclass(PermissionDeniedError, TransientError)


def test_translation_tells_transient_from_permanent() -> None:
    assert type(translate_os_error(OSError(errno.ECONNRESET, "reset"), "a")) is ConnectionLostError
    assert type(translate_os_error(OSError(errno.ETIMEDOUT, "timed out"), "a")) is TimedOutError
    assert type(translate_os_error(TimeoutError("timed out"), "a")) is TimedOutError
    assert type(translate_os_error(ConnectionAbortedError("aborted"), "a")) is ConnectionLostError
    assert type(translate_os_error(BrokenPipeError(errno.EPIPE, "broken pipe"), "a")) is BackendError
    assert type(translate_os_error(OSError(errno.EIO, "I/O error"), "a")) is BackendError


# The retrying wrapper.


def test_backoff_grows_by_the_factor_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=6, first_delay_s=0.5, backoff=2.0, max_delay_s=3.0)
    assert policy.delays() == (0.5, 1.0, 2.0, 3.0, 3.0)
    assert RetryPolicy(attempts=1).delays() == ()
    with pytest.raises(UsageError):
        RetryPolicy(attempts=0)
    with pytest.raises(UsageError):
        RetryPolicy(backoff=0.5)


def test_attempts_are_bounded_and_the_last_transient_error_is_raised() -> None:
    faulty = FaultyBackend(memory_with("a"), [Fault("stat", path=P("a"), kind=AFTER)])
    wrapper, waits = retrying(faulty, attempts=4)
    with pytest.raises(ConnectionLostError):
        wrapper.stat(P("a"))
    assert faulty.calls["stat"] == 4
    assert waits == [0.5, 1.0, 2.0]
    assert [(retry.method, retry.attempt) for retry in wrapper.retries] == [
        ("stat", 2),
        ("stat", 3),
        ("stat", 4),
    ]


def test_a_transient_error_is_retried_after_a_wait_and_a_reconnect() -> None:
    inner = ReconnectingMemory()
    inner.add_file("a", b"bytes")
    faulty = FaultyBackend(
        inner, [Fault("open_read", nth=1, kind=BEFORE), Fault("list_dir", nth=2, kind=AFTER)]
    )
    wrapper, waits = retrying(faulty)
    with wrapper.open_read(P("a")) as stream:
        assert stream.read() == b"bytes"
    assert [entry.path for entry in wrapper.list_dir(ROOT)] == ["a"]
    assert [entry.path for entry in wrapper.list_dir(ROOT)] == ["a"]
    assert waits == [0.5, 0.5] and inner.reconnects == 2
    assert wrapper.retries[0] == Retry("open_read", P("a"), 2, wrapper.retries[0].error)
    assert faulty.fired == [("open_read", "a"), ("list_dir", "")]


def test_permanent_errors_are_not_retried() -> None:
    faulty = FaultyBackend(memory_with("a"), [Fault("open_read", errno.EACCES, path=P("a"))])
    wrapper, waits = retrying(faulty)
    with pytest.raises(PermissionDeniedError):
        wrapper.open_read(P("a"))
    with pytest.raises(NotFoundError):
        wrapper.stat(P("missing"))
    assert faulty.calls["open_read"] == 1 and faulty.calls["stat"] == 1
    assert waits == [] and wrapper.retries == []


def test_a_retried_delete_that_finds_nothing_is_done(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    (tmp_path / "d").mkdir()
    faulty = FaultyBackend(
        LocalBackend(str(tmp_path)),
        [Fault("remove_file", nth=1, kind=AFTER), Fault("remove_dir", nth=1, kind=AFTER)],
    )
    wrapper, _ = retrying(faulty)
    wrapper.remove_file(P("f"))
    wrapper.remove_dir(P("d"))
    assert sorted(path.name for path in tmp_path.iterdir()) == []
    assert faulty.calls == {"remove_file": 2, "remove_dir": 2, "*": 4}


def test_a_delete_whose_request_never_left_still_reports_a_missing_file() -> None:
    faulty = FaultyBackend(MemoryBackend(), [Fault("remove_file", nth=1, kind=BEFORE)])
    wrapper, _ = retrying(faulty)
    with pytest.raises(NotFoundError):
        wrapper.remove_file(P("missing"))
    assert faulty.calls["remove_file"] == 2


def test_a_first_attempt_that_finds_nothing_is_not_done() -> None:
    wrapper, _ = retrying(MemoryBackend())
    with pytest.raises(NotFoundError):
        wrapper.remove_file(P("missing"))
    with pytest.raises(NotFoundError):
        wrapper.remove_dir(P("missing"))


def test_a_retried_make_dir_that_finds_the_dir_is_done_but_not_one_that_finds_a_file() -> None:
    tree = memory_with("file")
    faulty = FaultyBackend(tree, [Fault("make_dir", kind=AFTER, path=P("d"), times=1)])
    wrapper, _ = retrying(faulty)
    wrapper.make_dir(P("d"))
    assert tree.stat(P("d")).kind is EntryKind.DIR
    lost = FaultyBackend(tree, [Fault("make_dir", kind=AFTER, path=P("file"), times=1)])
    other, _ = retrying(lost)
    with pytest.raises(AlreadyExistsError):
        other.make_dir(P("file"))


def test_a_retried_rename_that_finds_it_done_is_done(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"A")
    (tmp_path / "b").write_bytes(b"B")
    faulty = FaultyBackend(LocalBackend(str(tmp_path)), [Fault("rename", nth=1, kind=AFTER)])
    wrapper, _ = retrying(faulty)
    wrapper.rename(P("a"), P("b"), replace=True)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["b"]
    assert (tmp_path / "b").read_bytes() == b"A"


def test_a_retried_symlink_and_hard_link_that_find_them_made_are_done(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"A")
    faults = [Fault("make_symlink", nth=1, kind=AFTER), Fault("hard_link", nth=1, kind=AFTER)]
    wrapper, _ = retrying(FaultyBackend(LocalBackend(str(tmp_path)), faults))
    wrapper.make_symlink(P("link"), "a")
    wrapper.hard_link(P("a"), P("twin"))
    assert (tmp_path / "link").readlink() == Path("a")
    assert (tmp_path / "twin").stat().st_ino == (tmp_path / "a").stat().st_ino
    elsewhere = FaultyBackend(LocalBackend(str(tmp_path)), [Fault("make_symlink", nth=1, kind=AFTER)])
    (tmp_path / "b").symlink_to("other")
    with pytest.raises(AlreadyExistsError):
        retrying(elsewhere)[0].make_symlink(P("b"), "a")


def test_a_retried_write_starts_again_where_the_source_stood() -> None:
    tree = MemoryBackend()
    faulty = FaultyBackend(
        tree, [Fault("write_file", nth=1, kind=AFTER), Fault("write_file", nth=2, kind=BEFORE)]
    )
    wrapper, waits = retrying(faulty)
    source = io.BytesIO(b"--payload")
    source.seek(2)
    entry = wrapper.write_file(P("f"), source, mtime_ns=1_000_000_000)
    assert entry.size == 7 and tree.nodes[P("f")].data == b"payload"
    assert faulty.calls["write_file"] == 3 and len(waits) == 2


class Unseekable(io.RawIOBase):
    """A stream that can be read once, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        size = min(len(buffer), len(self._data))
        buffer[:size] = self._data[:size]
        self._data = self._data[size:]
        return size


def test_a_write_from_a_source_that_cannot_seek_is_not_retried() -> None:
    faulty = FaultyBackend(MemoryBackend(), [Fault("write_file", nth=1, kind=BEFORE)])
    wrapper, waits = retrying(faulty)
    with pytest.raises(ConnectionLostError):
        wrapper.write_file(P("f"), io.BufferedReader(Unseekable(b"data")))
    assert faulty.calls["write_file"] == 1 and waits == []


def test_a_reconnect_that_fails_counts_as_nothing_but_the_attempts_stay_bounded() -> None:
    class DeadServer(ReconnectingMemory):
        def reconnect(self) -> None:
            super().reconnect()
            raise ConnectionLostError(errno.ECONNREFUSED, "connection refused", "memory:dead")

    inner = DeadServer()
    faulty = FaultyBackend(inner, [Fault("list_dir", path=ROOT, kind=BEFORE)])
    wrapper, waits = retrying(faulty, attempts=3)
    with pytest.raises(ConnectionLostError):
        wrapper.list_dir(ROOT)
    assert faulty.calls["list_dir"] == 3 and inner.reconnects == 2 and len(waits) == 2


# The read-only wrapper.


def test_read_only_refuses_every_change_naming_the_path_and_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"A")
    (tmp_path / "d").mkdir()
    guard = ReadOnlyBackend(LocalBackend(str(tmp_path)))
    changes: dict[str, Callable[[], object]] = {
        "write_file": lambda: guard.write_file(P("a"), io.BytesIO(b"new")),
        "make_dir": lambda: guard.make_dir(P("e")),
        "make_symlink": lambda: guard.make_symlink(P("l"), "a"),
        "remove_file": lambda: guard.remove_file(P("a")),
        "hard_link": lambda: guard.hard_link(P("a"), P("twin")),
        "remove_dir": lambda: guard.remove_dir(P("d")),
        "rename": lambda: guard.rename(P("a"), P("b")),
        "set_mtime": lambda: guard.set_mtime(P("a"), 0),
        "set_mode": lambda: guard.set_mode(P("a"), 0o600),
    }
    before = (tmp_path / "a").stat()
    for name, change in changes.items():
        with pytest.raises(ReadOnlyTreeError) as refused:
            change()
        error = refused.value
        assert isinstance(error, PermissionError) and isinstance(error, DirkitError), name
        assert error.errno == errno.EROFS and "read-only" in str(error), name
        assert error.filename.startswith(str(tmp_path) + "/") and error.filename != str(tmp_path) + "/", name
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a", "d"]
    after = (tmp_path / "a").stat()
    assert (after.st_mtime_ns, after.st_mode, (tmp_path / "a").read_bytes()) == (
        before.st_mtime_ns,
        before.st_mode,
        b"A",
    )
    assert guard.stat(P("a")).size == 1 and guard.capabilities == LocalBackend(str(tmp_path)).capabilities


def test_optional_interfaces_pass_wrappers_as_each_allows(tmp_path: Path) -> None:
    local = LocalBackend(str(tmp_path))
    guard = ReadOnlyBackend(FaultyBackend(local, []))
    assert list(backends_within(guard)) == [guard, guard.wrapped, local]
    assert list(backends_within(guard, writing=True)) == [guard]
    assert guard.native_path(ROOT) is None
    armed = FaultyBackend(local, [Fault("open_read", errno.EIO, nth=1)])
    assert list(backends_within(armed)) == [armed]
    assert armed.native_path(ROOT) is None
    quiet = FaultyBackend(local, [Fault("set_mtime", errno.EIO, nth=1)])
    assert quiet.native_path(ROOT) == str(tmp_path)
    assert list(backends_within(RetryingBackend(local), writing=True))[-1] is local
    assert list(backends_within(FaultyBackend(local, [], no_modes=True), writing=True))[-1] is not local


def test_every_protocol_call_of_the_base_reaches_the_wrapped_backend() -> None:
    tree = MemoryBackend()
    base = BackendWrapper(tree)
    wrappers = (base, ReadOnlyBackend(tree), RetryingBackend(tree), FaultyBackend(tree, []))
    assert all(isinstance(wrapper, Backend) for wrapper in wrappers)
    base.make_dir(P("d"))
    base.write_file(P("d/a"), io.BytesIO(b"A"))
    base.make_symlink(P("l"), "d/a")
    base.hard_link(P("d/a"), P("twin"))
    base.rename(P("twin"), P("twin2"))
    base.set_mtime(P("twin2"), 5_000_000_000)
    base.set_mode(P("twin2"), 0o600)
    with base.open_read(P("twin2")) as stream:
        assert stream.read() == b"A"
    assert (base.stat(P("twin2")).mtime_ns, base.stat(P("twin2")).mode) == (5_000_000_000, 0o600)
    base.remove_file(P("twin2"))
    base.remove_file(P("l"))
    base.remove_file(P("d/a"))
    base.remove_dir(P("d"))
    assert base.list_dir(ROOT) == [] and tree.nodes.keys() == {ROOT}
    assert base.capabilities is tree.capabilities and base.description == tree.description
    assert base.native_path(ROOT) is None and base.local_files() is None
    base.reconnect()
    base.close()


# The fault wrapper's transient modes.


def test_transient_faults_fire_before_or_after_the_call_and_only_as_often_as_asked() -> None:
    tree = MemoryBackend()
    faulty = FaultyBackend(
        tree,
        [
            Fault("make_dir", path=P("a"), kind=BEFORE, times=1),
            Fault("make_dir", path=P("b"), kind=AFTER, times=1),
        ],
    )
    with pytest.raises(ConnectionLostError) as before:
        faulty.make_dir(P("a"))
    assert not before.value.may_have_taken_effect and P("a") not in tree.nodes
    faulty.make_dir(P("a"))
    with pytest.raises(ConnectionLostError) as after:
        faulty.make_dir(P("b"))
    assert after.value.may_have_taken_effect and tree.stat(P("b")).kind is EntryKind.DIR
    assert faulty.fired == [("make_dir", "a"), ("make_dir", "b")]


def test_whole_second_memory_trees_keep_times_cut_down_to_the_second() -> None:
    tree = MemoryBackend(whole_second_times=True)
    tree.add_file("a", b"A", mtime_ns=1_999_999_999)
    assert tree.stat(P("a")).mtime_ns == 1_000_000_000
    tree.set_mtime(P("a"), 7_500_000_000)
    assert tree.stat(P("a")).mtime_ns == 7_000_000_000
