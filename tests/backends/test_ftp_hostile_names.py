"""A hostile FTP server cannot steer a download out of the target tree with names holding '/' or '..'."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dirkit.cli.main import main
from tests.backends.ftp_servers import PASSWORD, USER, RunningServer, wait_for_port

HOSTILE_NAMES = ("../escaped.txt", "sub/../../escaped.txt", "d/inner.txt")
HOSTILE_SERVER = """
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.filesystems import AbstractedFS
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

home, user, password, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]


class HostileFS(AbstractedFS):
    def format_mlsx(self, basedir, listing, perms, facts, ignore_err=True):
        yield from super().format_mlsx(basedir, listing, perms, facts, ignore_err)
        if basedir.rstrip("/").endswith("/site"):
            for name in names:
                yield f"type=file;size=6;modify=20200101000000; {name}\\r\\n".encode()


authorizer = DummyAuthorizer()
authorizer.add_user(user, password, home, perm="elradfmwMT")
FTPHandler.authorizer = authorizer
FTPHandler.abstracted_fs = HostileFS
FTPHandler.auth_failed_timeout = 0
server = FTPServer(("127.0.0.1", 0), FTPHandler)
print(server.socket.getsockname()[1], flush=True)
server.serve_forever(timeout=0.2)
"""


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[RunningServer]:
    """Yield a pyftpdlib whose listing of /site adds names that climb out of it."""
    home = tmp_path / "served"
    (home / "site" / "d").mkdir(parents=True)
    (home / "site" / "fine.txt").write_text("fine")
    (home / "escaped.txt").write_text("pwned!")
    (home / "site" / "d" / "inner.txt").write_text("inner!")
    process = subprocess.Popen(
        [sys.executable, "-c", HOSTILE_SERVER, str(home), USER, PASSWORD, *HOSTILE_NAMES],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    port = int(process.stdout.readline())
    wait_for_port(port, process)
    running = RunningServer("hostile-pyftpdlib", process, port, home)
    yield running
    running.stop()


def test_names_with_slashes_in_a_listing_are_not_followed_out_of_the_tree(
    hostile: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIRKIT_PASSWORD", PASSWORD)
    outside = tmp_path / "local"
    target = outside / "target"
    target.mkdir(parents=True)
    url = f"ftp://{USER}@127.0.0.1:{hostile.port}/site"
    main(["mirror", "-q", url, str(target)])
    assert not (outside / "escaped.txt").exists()
    assert not (tmp_path / "escaped.txt").exists()
    assert (target / "fine.txt").read_text() == "fine"
    assert (target / "d" / "inner.txt").read_text() == "inner!"
