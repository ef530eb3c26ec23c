"""Faults between dirkit and a real FTP server, made by a relay of our own: runs retry, resume and finish."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dirkit.backends import trees
from dirkit.backends.ftp import TEMPORARY_PREFIX, FtpBackend
from dirkit.backends.retrying import RetryingBackend, RetryPolicy
from dirkit.backends.urls import Login, parse_remote_url
from dirkit.cli.main import main
from dirkit.core.tree.paths import RelPath
from dirkit.errors import AlreadyExistsError, NotFoundError, TransientError
from tests.backends import ftp_servers
from tests.backends.fault_proxy import FaultProxy
from tests.backends.ftp_servers import PASSWORD, USER

MakeTree = Callable[..., Path]
FAST_RETRY = RetryPolicy(attempts=5, first_delay_s=0.02, backoff=2.0, max_delay_s=0.2)
P = RelPath
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    """Yield a fault relay in front of the shared pyftpdlib server."""
    with FaultProxy(ftp_servers.server("pyftpdlib").port) as relay:
        yield relay


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make remote retries wait milliseconds, and give the CLI the test user's password by .netrc."""
    monkeypatch.setattr(trees, "REMOTE_RETRY", FAST_RETRY)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
    (home / ".netrc").chmod(0o600)
    monkeypatch.setenv("HOME", str(home))


def tree_behind(proxy: FaultProxy, server: str = "pyftpdlib") -> tuple[str, Path]:
    """Make an empty folder on the server; return its URL through the relay and its local path."""
    running = ftp_servers.server(server)
    _url, folder = running.new_tree()
    return f"ftp://{running.user}@127.0.0.1:{proxy.port}/{folder.name}", folder


def backend_behind(proxy: FaultProxy, **options: float) -> tuple[FtpBackend, Path]:
    """Return an FTP backend reaching a new empty folder through the relay, and the folder."""
    url, folder = tree_behind(proxy)
    return FtpBackend(parse_remote_url(url), Login(USER, PASSWORD), **options), folder  # type: ignore[arg-type]


def site_spec(files: int, size: int) -> dict[str, str | None]:
    """Return a tree spec of files spread over ten folders, each file's text unique."""
    return {f"d{n % 10}/f{n:04}.txt": f"{n:04}-" + "x" * (size - 5) for n in range(files)}


def same_files(left: Path, right: Path) -> None:
    """Assert that two folders hold the same files with the same bytes, and no temporary name."""
    names = sorted(str(path.relative_to(left)) for path in left.rglob("*") if path.is_file())
    assert names == sorted(str(path.relative_to(right)) for path in right.rglob("*") if path.is_file())
    for name in names:
        assert (left / name).read_bytes() == (right / name).read_bytes(), name
    assert not [path for path in right.rglob("*") if path.name.startswith(TEMPORARY_PREFIX)]


@pytest.mark.parametrize("server", ["pyftpdlib", "vsftpd"])
def test_a_server_that_drops_every_50th_transfer_still_gets_every_file_up_and_down(
    server: str,
    fast_retries: None,
    make_tree: MakeTree,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proxy = FaultProxy(ftp_servers.server(server).port)
    try:
        mirror_both_ways_through_cuts(proxy, server, make_tree, tmp_path, capsys)
    finally:
        proxy.stop()


def mirror_both_ways_through_cuts(
    proxy: FaultProxy, server: str, make_tree: MakeTree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Mirror 300 files up and back down while every 50th transfer is cut; check both copies and reruns."""
    url, folder = tree_behind(proxy, server)
    site = make_tree("site", site_spec(300, 3000))
    proxy.faults.cut_every_data = 50
    proxy.faults.cut_data_after_bytes = 1000
    assert main(["mirror", "-q", str(site), url]) == 0
    same_files(site, folder)
    back = tmp_path / "back"
    assert main(["mirror", "-q", url, str(back)]) == 0
    same_files(site, back)
    cuts = proxy.counts.cuts
    assert cuts >= 10
    capsys.readouterr()
    assert main(["mirror", str(site), url]) == 0
    assert capsys.readouterr().out.strip().endswith("nothing to do")
    assert main(["mirror", url, str(back)]) == 0
    assert capsys.readouterr().out.strip().endswith("nothing to do")


def test_a_server_that_takes_two_connections_serves_a_run_asking_for_four(
    proxy: FaultProxy, fast_retries: None, make_tree: MakeTree
) -> None:
    url, folder = tree_behind(proxy)
    site = make_tree("site", site_spec(60, 20_000))
    proxy.faults.refuse_beyond = 2
    assert main(["mirror", "-q", "--connections", "4", str(site), url]) == 0
    same_files(site, folder)
    assert proxy.counts.refused >= 1


def test_a_server_restarting_mid_run_is_waited_for(
    proxy: FaultProxy, fast_retries: None, make_tree: MakeTree
) -> None:
    url, folder = tree_behind(proxy)
    site = make_tree("site", site_spec(80, 2000))
    proxy.faults.restart_at_data = 40
    proxy.faults.down_for = 3
    assert main(["mirror", "-q", str(site), url]) == 0
    same_files(site, folder)
    assert proxy.counts.refused == 3


def test_a_download_cut_in_the_middle_resumes_with_rest(proxy: FaultProxy) -> None:
    backend, folder = backend_behind(proxy)
    data = bytes(range(256)) * 16384  # 4 MiB
    (folder / "big.bin").write_bytes(data)
    retrying = RetryingBackend(backend, FAST_RETRY)
    try:
        before = proxy.counts.data_to_client
        proxy.faults.cut_every_data = 1
        proxy.faults.cut_data_after_bytes = 3_000_000
        proxy.faults.cut_data_times = 1
        with retrying.open_read(P("big.bin")) as stream:
            assert stream.read() == data
        assert [retry.method for retry in retrying.retries] == ["open_read"]
        assert "REST 3000000" in proxy.counts.commands
        assert proxy.counts.data_to_client - before == len(data)
    finally:
        retrying.close()


def test_a_server_that_hangs_times_out_and_the_retry_gets_the_file(proxy: FaultProxy) -> None:
    backend, folder = backend_behind(proxy, timeout_s=0.5)
    (folder / "a.txt").write_bytes(b"after a hang")
    retrying = RetryingBackend(backend, FAST_RETRY)
    try:
        proxy.faults.stall_data_times = 1
        with retrying.open_read(P("a.txt")) as stream:
            assert stream.read() == b"after a hang"
        (retry,) = retrying.retries
        assert retry.method == "open_read" and "timed out" in retry.error
    finally:
        retrying.close()


def test_a_rename_whose_reply_is_lost_counts_as_done_on_retry(proxy: FaultProxy) -> None:
    backend, folder = backend_behind(proxy)
    (folder / "old").write_bytes(b"moved once")
    retrying = RetryingBackend(backend, FAST_RETRY)
    try:
        proxy.faults.cut_after_command = "RNTO"
        retrying.rename(P("old"), P("new"))
        assert [retry.method for retry in retrying.retries] == ["rename"]
        assert sorted(path.name for path in folder.iterdir()) == ["new"]
        assert (folder / "new").read_bytes() == b"moved once"
    finally:
        retrying.close()


def test_an_upload_whose_rename_reply_is_lost_is_done_on_retry_not_a_conflict(proxy: FaultProxy) -> None:
    backend, folder = backend_behind(proxy)
    retrying = RetryingBackend(backend, FAST_RETRY)
    try:
        retrying.list_dir(P(""))
        with pytest.raises(NotFoundError):
            retrying.stat(P("new"))  # forecast free from the listing: the upload checks the name itself
        proxy.faults.cut_after_command = "RNTO"
        written = retrying.write_file(P("new"), io.BytesIO(b"uploaded once"), 1_700_000_000 * 10**9)
        assert [retry.method for retry in retrying.retries] == ["write_file"]
        assert written.size == len(b"uploaded once")
        assert sorted(path.name for path in folder.iterdir()) == ["new"]
        assert (folder / "new").read_bytes() == b"uploaded once"
    finally:
        retrying.close()


def test_a_file_put_at_a_forecast_free_name_while_an_upload_was_cut_is_left_alone(proxy: FaultProxy) -> None:
    backend, folder = backend_behind(proxy)
    retrying = RetryingBackend(backend, FAST_RETRY)
    try:
        retrying.list_dir(P(""))
        with pytest.raises(NotFoundError):
            retrying.stat(P("new"))
        proxy.faults.cut_after_command = "STOR"
        (folder / "new").write_bytes(b"someone else's")
        with pytest.raises(AlreadyExistsError):
            retrying.write_file(P("new"), io.BytesIO(b"uploaded once"), 1_700_000_000 * 10**9)
        assert (folder / "new").read_bytes() == b"someone else's"
        assert sorted(path.name for path in folder.iterdir()) == ["new"]
    finally:
        retrying.close()


def test_an_upload_cut_short_leaves_no_temporary_file(proxy: FaultProxy) -> None:
    backend, folder = backend_behind(proxy)
    retrying = RetryingBackend(backend, FAST_RETRY)
    try:
        proxy.faults.cut_every_data = 1
        proxy.faults.cut_data_after_bytes = 100_000
        proxy.faults.cut_data_times = 2
        retrying.write_file(P("a.bin"), io.BytesIO(b"a" * 300_000))
        assert (folder / "a.bin").read_bytes() == b"a" * 300_000
        assert sorted(path.name for path in folder.iterdir()) == ["a.bin"]
        assert len(retrying.retries) == 2
    finally:
        retrying.close()


def test_long_transfers_keep_the_control_connection_alive_with_noop(proxy: FaultProxy) -> None:
    backend, folder = backend_behind(proxy, keepalive_s=0.1)
    quiet, _folder = backend_behind(proxy, keepalive_s=0)
    data = b"k" * 600_000
    (folder / "slow.bin").write_bytes(data)
    try:
        proxy.faults.data_bytes_per_s = 800_000
        proxy.faults.idle_control_cut_s = 0.4
        with backend.open_read(P("slow.bin")) as stream:
            assert stream.read() == data
        backend.write_file(P("up.bin"), io.BytesIO(data))
        assert (folder / "up.bin").read_bytes() == data
        assert proxy.counts.commands.count("NOOP") >= 4
        with pytest.raises(TransientError):
            quiet.write_file(P("up.bin"), io.BytesIO(data))
    finally:
        backend.close()
        quiet.close()


def test_a_fault_that_persists_fails_that_file_only_with_exit_1(
    proxy: FaultProxy,
    fast_retries: None,
    make_tree: MakeTree,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, folder = tree_behind(proxy)
    spec: dict[str, str | None] = {"small1.txt": "one", "small2.txt": "two", "big.txt": "b" * 50_000}
    site = make_tree("site", spec)
    proxy.faults.cut_data_beyond_bytes = 20_000
    assert main(["mirror", str(site), url]) == 1
    err = capsys.readouterr().err
    assert f"dirkit: failed: {url}/big.txt: Connection reset by peer; gave up after 5 attempts" in err
    assert "small" not in err
    assert (folder / "small1.txt").read_text() == "one" and (folder / "small2.txt").read_text() == "two"
    assert not (folder / "big.txt").exists()
    assert not [path for path in folder.rglob("*") if path.name.startswith(TEMPORARY_PREFIX)]
    proxy.faults.cut_data_beyond_bytes = None
    assert main(["mirror", "-q", str(site), url]) == 0
    same_files(site, folder)
