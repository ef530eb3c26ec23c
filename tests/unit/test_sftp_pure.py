"""The pure parts of SFTP trees: sftp:// URLs, known_hosts lines, and the one translation of errors."""

from __future__ import annotations

import base64
import errno
import hmac

import asyncssh
import pytest

from dirkit.backends.sftp_session import translate_sftp_error
from dirkit.backends.ssh_hosts import host_pattern, known_host_line, lines_naming
from dirkit.backends.urls import parse_remote_url
from dirkit.errors import (
    AlreadyExistsError,
    BackendError,
    ConnectionLostError,
    NotFoundError,
    PermissionDeniedError,
    TimedOutError,
    TransientError,
    UsageError,
)


@pytest.mark.parametrize(
    ("url", "path", "normalized"),
    [
        ("sftp://host", "/", "sftp://host/"),
        ("sftp://host/", "/", "sftp://host/"),
        ("sftp://bob@Host:2222/srv/www/", "/srv/www", "sftp://bob@host:2222/srv/www"),
        ("sftp://host:22/a%20b", "/a b", "sftp://host/a%20b"),
        ("sftp://host/~", "~", "sftp://host/~"),
        ("sftp://host/~/site/", "~/site", "sftp://host/~/site"),
        ("sftp://host//srv", "/srv", "sftp://host/srv"),
    ],
)
def test_an_sftp_path_is_absolute_and_tilde_is_the_login_folder(url: str, path: str, normalized: str) -> None:
    parsed = parse_remote_url(url)
    assert (parsed.scheme, parsed.path, parsed.url) == ("sftp", path, normalized)
    assert parse_remote_url(normalized).url == normalized


def test_an_sftp_url_default_port_is_22_and_bad_ones_are_refused() -> None:
    assert parse_remote_url("sftp://h/x").port == 22
    with pytest.raises(UsageError, match="port"):
        parse_remote_url("sftp://h:99999/x")
    with pytest.raises(UsageError, match="no host"):
        parse_remote_url("sftp:///x")


def test_known_hosts_names_a_host_off_port_22_in_brackets() -> None:
    assert host_pattern("example.org", 22) == "example.org"
    assert host_pattern("127.0.0.1", 2222) == "[127.0.0.1]:2222"
    line = known_host_line("127.0.0.1", 2222, "ssh-ed25519 AAAAC3Nza comment words")
    assert line == "[127.0.0.1]:2222 ssh-ed25519 AAAAC3Nza\n"


def test_lines_naming_a_host_are_found_plain_hashed_and_by_port() -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    public = key.export_public_key().decode().split()
    other = " ".join(public[:2])
    salt = bytes(range(20))
    digest = hmac.new(salt, b"[127.0.0.1]:4444", "sha1").digest()
    hashed = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    text = "\n".join(
        [
            "# a comment",
            f"example.org {other}",
            f"[127.0.0.1]:2222 {other}",
            "not a valid line",
            f"[127.0.0.1]:3333 {other}",
            f"{hashed} {other}",
        ]
    )
    assert lines_naming(text, "127.0.0.1", "127.0.0.1", 2222) == [3]
    assert lines_naming(text, "example.org", "192.0.2.1", 22) == [2]
    assert lines_naming(text, "127.0.0.1", "127.0.0.1", 4444) == [6]
    assert lines_naming(text, "elsewhere", "192.0.2.9", 22) == []


@pytest.mark.parametrize(
    ("raised", "kind", "code"),
    [
        (asyncssh.SFTPNoSuchFile("No such file"), NotFoundError, errno.ENOENT),
        (asyncssh.SFTPPermissionDenied("Permission denied"), PermissionDeniedError, errno.EACCES),
        (asyncssh.SFTPFileAlreadyExists("exists"), AlreadyExistsError, errno.EEXIST),
        (asyncssh.SFTPConnectionLost("gone"), ConnectionLostError, errno.ECONNRESET),
        (asyncssh.ConnectionLost("reset"), ConnectionLostError, errno.ECONNRESET),
        (TimeoutError(), TimedOutError, errno.ETIMEDOUT),
        (ConnectionResetError(errno.ECONNRESET, "reset"), ConnectionLostError, errno.ECONNRESET),
        (asyncssh.PermissionDenied("auth failed"), PermissionDeniedError, errno.EACCES),
        (asyncssh.SFTPFailure("Failure"), BackendError, errno.EIO),
    ],
)
def test_sftp_errors_become_dirkit_kinds_in_one_place(raised: BaseException, kind: type, code: int) -> None:
    translated = translate_sftp_error(raised, "sftp://h/x")
    assert type(translated) is kind
    assert translated.errno == code and translated.filename == "sftp://h/x"
    assert isinstance(translated, TransientError) == (kind in (ConnectionLostError, TimedOutError))


def test_a_password_in_an_sftp_url_is_refused_without_showing_it() -> None:
    from dirkit.backends.trees import open_tree

    with pytest.raises(UsageError) as refused:
        open_tree("sftp://me:s3cret-pw@example.invalid/srv")
    assert "s3cret-pw" not in str(refused.value) and "ssh-agent" in str(refused.value)
