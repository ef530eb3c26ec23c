"""Fixtures of the backend tests: the FTP servers and the sshd they start are stopped once, at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backends import ftp_servers, ssh_server


@pytest.fixture(scope="session", autouse=True)
def stop_ftp_servers() -> Iterator[None]:
    """Stop every FTP server the tests started, and fail if one would not stop."""
    yield
    leaked = ftp_servers.stop_all()
    sshd_leaked = ssh_server.stop_all()
    assert not leaked, f"FTP servers still running: {leaked}"
    assert not sshd_leaked, "sshd (or one of its connection processes) still running"
