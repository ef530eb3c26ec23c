"""What the SFTP backend does beyond the shared contract, against a real OpenSSH sshd on 127.0.0.1."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import os
import signal
import threading
from pathlib import Path

import pytest

from dirkit.backends.sftp import SftpBackend
from dirkit.backends.sftp_streams import CHUNK
from dirkit.backends.urls import parse_remote_url
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import ROOT, RelPath
from dirkit.errors import PermissionDeniedError, TransientError, TreeNotFoundError
from tests.backends import ssh_server
from tests.backends.ssh_server import HOST_ALIAS, PASSPHRASE

P = RelPath


def sftp_threads() -> list[threading.Thread]:
    """Return the running threads of SFTP event loops."""
    return [thread for thread in threading.enumerate() if thread.name == "dirkit-sftp"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME at an empty folder (no ssh-agent), for tests that fill its .ssh themselves."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.delenv("DIRKIT_PASSWORD", raising=False)
    return folder


def test_an_unknown_host_is_refused_and_accept_new_records_its_key(home: Path) -> None:
    running = ssh_server.sshd()
    running.make_home(home, known=False)
    url, _folder = running.new_tree()
    with pytest.raises(PermissionDeniedError) as refused:
        SftpBackend(parse_remote_url(url))
    message = str(refused.value.strerror)
    assert "--accept-new-host-key" in message and f"[127.0.0.1]:{running.port}" in message
    assert "\n" not in message
    assert not (home / ".ssh" / "known_hosts").exists()
    assert sftp_threads() == []

    SftpBackend(parse_remote_url(url), accept_new_host_keys=True).close()
    assert (home / ".ssh" / "known_hosts").read_text() == running.known_hosts_line()
    backend = SftpBackend(parse_remote_url(url))
    assert backend.list_dir(ROOT) == []
    backend.close()
    assert sftp_threads() == []


def test_a_changed_host_key_is_refused_even_with_accept_new(home: Path) -> None:
    import asyncssh

    running = ssh_server.sshd()
    running.make_home(home, known=False)
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()
    known_hosts = home / ".ssh" / "known_hosts"
    known_hosts.write_text(f"# first line\n[127.0.0.1]:{running.port} {other[0]} {other[1]}\n")
    url, _folder = running.new_tree()
    with pytest.raises(PermissionDeniedError) as refused:
        SftpBackend(parse_remote_url(url), accept_new_host_keys=True)
    message = str(refused.value.strerror)
    assert "CHANGED" in message and f"{known_hosts} line 2" in message
    assert known_hosts.read_text().count("\n") == 2
    assert sftp_threads() == []


def test_an_alias_of_ssh_config_gives_host_port_user_and_key(home: Path) -> None:
    running = ssh_server.sshd()
    running.make_home(home, key_name="only_by_identity_file")
    _url, folder = running.new_tree()
    (folder / "a").write_bytes(b"via alias")
    backend = SftpBackend(parse_remote_url(f"sftp://{HOST_ALIAS}{folder}"))
    try:
        assert backend.description == f"sftp://{HOST_ALIAS}{folder}"
        with backend.open_read(P("a")) as stream:
            assert stream.read() == b"via alias"
    finally:
        backend.close()
    with pytest.raises(PermissionDeniedError) as refused:
        SftpBackend(parse_remote_url(f"sftp://127.0.0.1:{running.port}{folder}"))
    assert "accepted none of the keys" in str(refused.value)


def test_an_encrypted_key_opens_with_its_passphrase_which_is_never_shown(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = ssh_server.sshd()
    running.make_home(home, passphrase=PASSPHRASE)
    url, _folder = running.new_tree()
    with pytest.raises(PermissionDeniedError) as refused:
        SftpBackend(parse_remote_url(url))
    monkeypatch.setenv("DIRKIT_PASSWORD", "wrong-" + PASSPHRASE)
    with pytest.raises(PermissionDeniedError) as wrong:
        SftpBackend(parse_remote_url(url))
    assert PASSPHRASE not in str(refused.value) + str(wrong.value)
    monkeypatch.setenv("DIRKIT_PASSWORD", PASSPHRASE)
    SftpBackend(parse_remote_url(url)).close()
    assert sftp_threads() == []


def test_a_missing_root_is_refused_or_made_and_tilde_is_the_login_folder(home: Path) -> None:
    running = ssh_server.sshd()
    running.make_home(home)
    url, folder = running.new_tree()
    with pytest.raises(TreeNotFoundError):
        SftpBackend(parse_remote_url(f"{url}/new/deeper"))
    SftpBackend(parse_remote_url(f"{url}/new/deeper"), create=True).close()
    assert (folder / "new" / "deeper").is_dir()
    login = SftpBackend(parse_remote_url(f"sftp://127.0.0.1:{running.port}/~"))
    try:
        assert login.stat(ROOT).kind is EntryKind.DIR
        names = {entry.path for entry in login.list_dir(ROOT)}
        assert names == set(os.listdir(os.path.expanduser(f"~{running.user}")))
    finally:
        login.close()


def test_big_files_stream_in_chunks_and_many_threads_share_the_pool() -> None:
    backend, folder = ssh_server.open_backend(connections=4)
    try:
        big = os.urandom(2 * CHUNK + 12_345)
        entry = backend.write_file(P("big"), io.BytesIO(big), mtime_ns=1_600_000_000_900_000_000, mode=0o600)
        assert (entry.size, entry.mtime_ns, entry.mode) == (len(big), 1_600_000_000_000_000_000, 0o600)
        assert (folder / "big").read_bytes() == big
        assert os.stat(folder / "big").st_mtime_ns == 1_600_000_000_000_000_000
        with backend.open_read(P("big")) as stream:
            assert stream.read(10) == big[:10]
            stream.seek(CHUNK + 5)
            assert stream.read(CHUNK) == big[CHUNK + 5 : 2 * CHUNK + 5]
            assert stream.read() == big[2 * CHUNK + 5 :]

        def round_trip(number: int) -> bytes:
            data = f"file {number}".encode() * number
            backend.write_file(P(f"f{number}"), io.BytesIO(data))
            with backend.open_read(P(f"f{number}")) as stream:
                return stream.read()

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(round_trip, range(40)))
        assert results == [f"file {number}".encode() * number for number in range(40)]
        assert len(backend.list_dir(ROOT)) == 41
        assert not [name for name in os.listdir(folder) if name.startswith(".dirkit")]
        free = backend.free_bytes()
        assert free is not None and free > 0
    finally:
        backend.close()
    assert sftp_threads() == []


def test_a_dropped_connection_is_transient_and_reconnect_recovers() -> None:
    running = ssh_server.sshd()
    before = set(running.sessions())
    backend, folder = ssh_server.open_backend()
    try:
        backend.write_file(P("a"), io.BytesIO(b"before"))
        for pid in set(running.sessions()) - before:
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(TransientError):
            for _attempt in range(50):
                backend.list_dir(ROOT)
        backend.reconnect()
        backend.write_file(P("a"), io.BytesIO(b"after"))
        assert (folder / "a").read_bytes() == b"after"
    finally:
        backend.close()
    assert sftp_threads() == []


def test_a_file_that_appeared_after_its_folder_was_listed_is_never_replaced() -> None:
    backend, folder = ssh_server.open_backend()
    try:
        assert backend.list_dir(ROOT) == []
        backend.make_dir(P("made"))
        with pytest.raises(FileNotFoundError):
            backend.stat(P("late"))  # answered from the listing, as the executor's check before a write
        with pytest.raises(FileNotFoundError):
            backend.stat(P("made/late"))  # a folder this backend made is known empty
        (folder / "late").write_bytes(b"someone else's")
        (folder / "made" / "late").write_bytes(b"theirs too")
        for path in (P("late"), P("made/late")):
            with pytest.raises(FileExistsError, match="appeared after its folder was listed"):
                backend.write_file(path, io.BytesIO(b"ours"), mtime_ns=1_600_000_000_000_000_000)
        assert (folder / "late").read_bytes() == b"someone else's"
        assert (folder / "made" / "late").read_bytes() == b"theirs too"
        assert sorted(os.listdir(folder)) == ["late", "made"]  # no temporary file left
        assert backend.stat(P("late")).size == len(b"someone else's")  # the server is asked again
        backend.write_file(P("late"), io.BytesIO(b"ours"))  # a file known there is replaced as asked
        assert (folder / "late").read_bytes() == b"ours"
        backend.write_file(P("new"), io.BytesIO(b"n"))
        assert backend.stat(P("new")).size == 1  # what this backend wrote is never answered absent
        backend.rename(P("new"), P("made/moved"))
        assert backend.stat(P("made/moved")).size == 1
        with pytest.raises(FileNotFoundError):
            backend.stat(P("new"))
    finally:
        backend.close()


def test_calls_from_inside_a_running_event_loop_work() -> None:
    backend, _folder = ssh_server.open_backend(connections=2)

    big = os.urandom(CHUNK + 10)

    async def use_it() -> bytes:
        backend.write_file(P("from-a-coroutine"), io.BytesIO(big))
        with backend.open_read(P("from-a-coroutine")) as stream:  # holds the first connection
            assert [entry.path for entry in backend.list_dir(ROOT)] == ["from-a-coroutine"]  # a second
            return stream.read()

    try:
        assert asyncio.run(use_it()) == big
    finally:
        backend.close()
    assert sftp_threads() == []
