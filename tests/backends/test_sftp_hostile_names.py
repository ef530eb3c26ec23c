"""A hostile SFTP server cannot steer a download out of the target tree with names holding '/'."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncssh
import pytest

from dirkit.cli.main import main

HOSTILE_NAMES = (b"../escaped.txt", b"sub/../../escaped.txt")
STOP_SECONDS = 10.0


class HostileSftp(asyncssh.SFTPServer):
    """Serves the real files, and lists names that climb out of any folder called 'site'."""

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        async for name in super().scandir(path):
            yield name
        if path.rstrip(b"/").endswith(b"/site"):
            escaped = os.path.join(os.fsdecode(path), "..", "escaped.txt")
            attrs = asyncssh.SFTPAttrs.from_local(os.lstat(escaped))
            for hostile in HOSTILE_NAMES:
                yield asyncssh.SFTPName(hostile, b"", attrs)


@pytest.fixture
def hostile_sftp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """Yield the port of an asyncssh SFTP server on 127.0.0.1 that HOME's ssh settings trust."""
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="hostile-sftp")
    thread.start()
    authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode())

    async def start() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[host_key],
            authorized_client_keys=authorized,
            sftp_factory=HostileSftp,
        )

    listening = asyncio.run_coroutine_threadsafe(start(), loop).result(STOP_SECONDS)
    port = listening.sockets[0].getsockname()[1]
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True, mode=0o700)
    (ssh / "id_ed25519").write_bytes(client_key.export_private_key())
    (ssh / "id_ed25519").chmod(0o600)
    public = host_key.export_public_key().decode().split()
    (ssh / "known_hosts").write_text(f"[127.0.0.1]:{port} {public[0]} {public[1]}\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    try:
        yield port
    finally:

        async def stop() -> None:
            listening.close()
            await listening.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(STOP_SECONDS)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_SECONDS)
        loop.close()
        assert not thread.is_alive()


def test_names_with_slashes_in_a_listing_are_not_followed_out_of_the_tree(
    hostile_sftp: int, tmp_path: Path
) -> None:
    served = tmp_path / "served"
    (served / "site").mkdir(parents=True)
    (served / "site" / "fine.txt").write_text("fine")
    (served / "escaped.txt").write_text("pwned!")
    outside = tmp_path / "local"
    target = outside / "target"
    target.mkdir(parents=True)
    main(["mirror", "-q", f"sftp://tester@127.0.0.1:{hostile_sftp}{served}/site", str(target)])
    assert not (outside / "escaped.txt").exists()
    assert (target / "fine.txt").read_text() == "fine"
