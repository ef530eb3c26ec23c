"""Sync tests: the FTP servers and sshd started for remote pairs are stopped at the end of the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backends import ftp_servers, ssh_server


@pytest.fixture(scope="session", autouse=True)
def stop_ftp_servers_of_sync_tests() -> Iterator[None]:
    """Stop every FTP server and sshd the sync tests started, and fail if one would not stop."""
    yield
    leaked = ftp_servers.stop_all()
    sshd_leaked = ssh_server.stop_all()
    assert not leaked, f"FTP servers still running: {leaked}"
    assert not sshd_leaked, "sshd (or one of its connection processes) still running"
