"""What the FTP backend does beyond the shared contract, against real servers on 127.0.0.1."""

from __future__ import annotations

import errno
import ftplib
import io
import os
import socket
import ssl
import threading
from pathlib import Path

import pytest

from dirkit.backends.ftp import TEMPORARY_PREFIX, FtpBackend
from dirkit.backends.ftp_session import TlsOptions
from dirkit.backends.urls import Login, parse_remote_url
from dirkit.core.tree.paths import ROOT, RelPath
from dirkit.errors import BackendError, PermissionDeniedError, TransientError, TreeNotFoundError
from tests.backends import ftp_servers
from tests.backends.ftp_servers import PASSWORD, USER

P = RelPath


def test_stock_ftplib_tls_is_refused_by_vsftpd_and_the_backend_reuses_the_session() -> None:
    running = ftp_servers.server("vsftpd-tls")
    assert running.cert is not None
    _url, folder = running.new_tree()
    context = ssl.create_default_context(cafile=str(running.cert))
    stock = ftplib.FTP_TLS(context=context, timeout=10)
    try:
        stock.connect("127.0.0.1", running.port)
        stock.login("anonymous", "anonymous@")
        stock.prot_p()
        with pytest.raises(ftplib.error_perm, match=r"^522"):
            stock.storbinary(f"STOR /{folder.name}/stock", io.BytesIO(b"x"))
    finally:
        stock.close()
    backend, folder = ftp_servers.open_backend("vsftpd-tls")
    try:
        backend.write_file(P("ours"), io.BytesIO(b"over TLS"))
        assert (folder / "ours").read_bytes() == b"over TLS"
    finally:
        backend.close()


def test_implicit_tls_starts_before_the_greeting() -> None:
    backend, folder = ftp_servers.open_backend("vsftpd-tls-implicit")
    try:
        backend.write_file(P("a"), io.BytesIO(b"implicit"), mtime_ns=1_500_000_000_000_000_000)
        assert (folder / "a").read_bytes() == b"implicit"
        assert backend.stat(P("a")).mtime_ns == 1_500_000_000_000_000_000
    finally:
        backend.close()


def test_certificates_are_checked_unless_insecure_is_asked() -> None:
    running = ftp_servers.server("pyftpdlib-tls")
    url, _folder = running.new_tree()
    location, login = parse_remote_url(url), Login(USER, PASSWORD)
    with pytest.raises(PermissionDeniedError) as untrusted:
        FtpBackend(location, login)
    assert "--ca-file" in str(untrusted.value) and PASSWORD not in str(untrusted.value)
    backend = FtpBackend(location, login, tls=TlsOptions(insecure=True))
    try:
        assert backend.list_dir(ROOT) == []
    finally:
        backend.close()


def test_names_that_are_not_utf8_are_kept_exactly() -> None:
    backend, folder = ftp_servers.open_backend("vsftpd")
    try:
        with open(bytes(folder) + b"/caf\xe9.txt", "wb") as raw:
            raw.write(b"old")
        names = [entry.path for entry in backend.list_dir(ROOT)]
        assert names == ["caf\udce9.txt"]
        with backend.open_read(P("caf\udce9.txt")) as stream:
            assert stream.read() == b"old"
        backend.write_file(P("na\udcefve"), io.BytesIO(b"new"))
        assert sorted(os.listdir(bytes(folder))) == [b"caf\xe9.txt", b"na\xefve"]
    finally:
        backend.close()


def test_names_with_line_breaks_are_refused_before_anything_is_sent() -> None:
    backend, folder = ftp_servers.open_backend("pyftpdlib")
    try:
        (folder / "keep").write_bytes(b"k")
        with pytest.raises(BackendError) as refused:
            backend.write_file(P("x\r\nDELE keep"), io.BytesIO(b"x"))
        assert refused.value.errno == errno.EINVAL
        with pytest.raises(BackendError):
            backend.remove_file(P("keep\nx"))
        assert sorted(path.name for path in folder.iterdir()) == ["keep"]
    finally:
        backend.close()


def test_threads_share_a_bounded_pool() -> None:
    backend, folder = ftp_servers.open_backend("pyftpdlib", connections=2)
    errors: list[BaseException] = []

    def upload(number: int) -> None:
        try:
            for round_ in range(5):
                data = f"{number}-{round_}".encode()
                backend.write_file(P(f"f{number}"), io.BytesIO(data))
                with backend.open_read(P(f"f{number}")) as stream:
                    assert stream.read() == data
        except BaseException as error:
            errors.append(error)

    try:
        assert backend.capabilities.parallel_connections == 2
        workers = [threading.Thread(target=upload, args=(number,)) for number in range(6)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        assert not errors
        assert sorted(path.name for path in folder.iterdir()) == [f"f{n}" for n in range(6)]
        assert not any(name.name.startswith(TEMPORARY_PREFIX) for name in folder.iterdir())
    finally:
        backend.close()


def test_a_missing_root_or_a_wrong_password_is_said_without_the_secret(tmp_path: Path) -> None:
    running = ftp_servers.server("pyftpdlib")
    base = f"ftp://{USER}@127.0.0.1:{running.port}"
    with pytest.raises(TreeNotFoundError):
        FtpBackend(parse_remote_url(f"{base}/no-such-folder"), Login(USER, PASSWORD))
    with pytest.raises(PermissionDeniedError) as refused:
        FtpBackend(parse_remote_url(f"{base}/"), Login(USER, "wrong-" + PASSWORD))
    assert "login refused" in str(refused.value) and PASSWORD not in str(refused.value)


def test_a_server_gone_away_is_a_transient_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    running = ftp_servers.start_pyftpdlib(home, tls=False)
    try:
        backend = FtpBackend(
            parse_remote_url(f"ftp://{USER}@127.0.0.1:{running.port}/"), Login(USER, PASSWORD), timeout_s=5
        )
        backend.write_file(P("a"), io.BytesIO(b"a"))
        running.stop()
        with pytest.raises(TransientError):
            backend.list_dir(ROOT)
        with pytest.raises(TransientError):
            backend.stat(P("a"))
        backend.close()
    finally:
        running.stop()


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(tmp_path: Path) -> None:
    running = ftp_servers.server("pyftpdlib")
    url, _folder = running.new_tree()
    backend = FtpBackend(parse_remote_url(url), Login(USER, PASSWORD), connections=1, check_idle_after_s=0)
    try:
        backend.write_file(P("a"), io.BytesIO(b"a"))
        with backend._pool.connection() as ftp:  # the one pooled connection, cut as a server would
            assert ftp.sock is not None
            ftp.sock.shutdown(socket.SHUT_RDWR)
        assert [entry.path for entry in backend.list_dir(ROOT)] == ["a"]
    finally:
        backend.close()


def test_without_epsv_or_mlsd_passive_mode_and_list_are_used(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    running = ftp_servers.start_pyftpdlib(home, tls=False, refused="EPSV MLSD MLST")
    try:
        url = f"ftp://{USER}@127.0.0.1:{running.port}/"
        backend = FtpBackend(parse_remote_url(url), Login(USER, PASSWORD))
        try:
            backend.make_dir(P("d"))
            backend.write_file(P("d/f"), io.BytesIO(b"over PASV"), mtime_ns=1_500_000_000_000_000_000)
            (entry,) = backend.list_dir(P("d"))
            assert (entry.path, entry.size, entry.mtime_ns) == ("d/f", 9, 1_500_000_000_000_000_000)
            with backend.open_read(P("d/f")) as stream:
                assert stream.read() == b"over PASV"
        finally:
            backend.close()
    finally:
        running.stop()
