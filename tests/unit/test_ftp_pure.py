"""The pure parts of FTP: LIST and MLSD parsing, time stamps, names on the wire, URLs and logins."""

from __future__ import annotations

import ftplib
import os
from pathlib import Path

import pytest

from dirkit.backends.ftp_listing import (
    Listed,
    format_ftp_time,
    from_wire,
    parse_ftp_time,
    parse_list_line,
    parse_mlsd_facts,
    read_traits,
    to_wire,
)
from dirkit.backends.ftp_session import translate_ftp_error
from dirkit.backends.urls import find_login, parse_remote_url
from dirkit.core.tree.entry import EntryKind
from dirkit.errors import (
    ConnectionLostError,
    NoSpaceError,
    NotFoundError,
    PermissionDeniedError,
    TransientError,
    UnsupportedError,
    UsageError,
)


def test_unix_list_lines_give_kind_size_and_mode_but_no_trusted_time() -> None:
    line = "-rw-r-----    1 102      105          1234 Dec 01 21:54 my file.txt"
    assert parse_list_line(line) == Listed("my file.txt", EntryKind.FILE, 1234, None, 0o640)
    folder = parse_list_line("drwxr-sr-x  3 root root 4096 Jan 01  2020 sub")
    assert folder == Listed("sub", EntryKind.DIR, 0, None, 0o2755)
    link = parse_list_line("lrwxrwxrwx 1 u g 5 Jan 01  2020 ln -> target")
    assert link is not None and (link.name, link.kind) == ("ln", EntryKind.SYMLINK)
    assert parse_list_line("drwxr-xr-x 2 u g 4096 Dec 01 21:54 .") is None
    assert parse_list_line("total 12") is None


def test_ms_dos_list_lines() -> None:
    assert parse_list_line("12-01-26  09:15PM       <DIR>          Web Site") == Listed(
        "Web Site", EntryKind.DIR, 0, None, 0
    )
    assert parse_list_line("01-02-2026  10:00AM              42 a b.txt") == Listed(
        "a b.txt", EntryKind.FILE, 42, None, 0
    )


def test_mlsd_facts_are_exact_and_skip_the_folder_itself() -> None:
    facts = {"type": "file", "size": "5", "modify": "20200101000001.5", "unix.mode": "0644"}
    assert parse_mlsd_facts("a", facts) == Listed("a", EntryKind.FILE, 5, 1_577_836_801_500_000_000, 0o644)
    assert parse_mlsd_facts(".", {"type": "cdir"}) is None
    assert parse_mlsd_facts("..", {"type": "pdir"}) is None
    assert parse_mlsd_facts("d", {"type": "dir", "size": "4096"}) == Listed("d", EntryKind.DIR, 0, None, 0)


def test_ftp_times_are_utc_and_whole_seconds_when_written() -> None:
    assert parse_ftp_time("20200101000000") == 1_577_836_800_000_000_000
    assert parse_ftp_time("2020010100000") is None
    assert parse_ftp_time("20201301000000") is None
    assert format_ftp_time(1_577_836_800_999_999_999) == "20200101000000"


def test_names_on_the_wire_keep_undecodable_bytes() -> None:
    name = b"caf\xe9 \xc3\xa9".decode("utf-8", "surrogateescape")
    assert to_wire(name) == "caf\xe9 \xc3\xa9"
    assert from_wire(to_wire(name)) == name


def test_traits_follow_feat_and_the_banner() -> None:
    vsftpd_feat = "211-Features:\n EPSV\n MDTM\n PASV\n SIZE\n211 End"
    vsftpd = read_traits("220 (vsFTPd 3.0.3)", vsftpd_feat, "")
    assert (vsftpd.mlsd, vsftpd.mfmt, vsftpd.mdtm_sets_time, vsftpd.can_set_mtime) == (
        False,
        False,
        True,
        True,
    )
    proftpd_feat = "211-Features:\n MFMT\n MLST type*;size*;\n UTF8\n211 End"
    proftpd = read_traits("220 ProFTPD Server", proftpd_feat, "214 CHMOD UTIME")
    assert proftpd.mlsd and proftpd.utf8 and proftpd.site_chmod and proftpd.mfmt
    assert not proftpd.replaces_on_rename
    bare = read_traits("220 hello", "", "")
    assert not bare.can_set_mtime and not bare.mlsd


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ftplib.error_temp("421 Too many connections"), ConnectionLostError),
        (ftplib.error_temp("450 busy"), TransientError),
        (ftplib.error_perm("550 No such file"), NotFoundError),
        (ftplib.error_perm("552 Quota exceeded"), NoSpaceError),
        (ftplib.error_perm("553 Not allowed"), PermissionDeniedError),
        (ftplib.error_perm("502 Not implemented"), UnsupportedError),
        (EOFError(), ConnectionLostError),
        (TimeoutError("timed out"), TransientError),
        (ConnectionResetError(104, "reset"), ConnectionLostError),
    ],
)
def test_ftp_errors_become_dirkit_kinds(error: Exception, kind: type[Exception]) -> None:
    translated = translate_ftp_error(error, "ftp://h/x")
    assert isinstance(translated, kind)
    assert translated.filename == "ftp://h/x"


def test_urls_relative_absolute_and_normalized() -> None:
    relative = parse_remote_url("FTP://Bob@Example.COM:2121/www/site/")
    assert (relative.host, relative.port, relative.user, relative.path) == (
        "example.com",
        2121,
        "Bob",
        "www/site",
    )
    assert relative.url == "ftp://Bob@example.com:2121/www/site"
    absolute = parse_remote_url("ftp://example.com/%2Fvar/www")
    assert absolute.path == "/var/www" and absolute.url == "ftp://example.com/%2Fvar/www"
    assert parse_remote_url("ftp://example.com").url == "ftp://example.com"
    assert parse_remote_url("ftp://EXAMPLE.com:21/x//").url == "ftp://example.com/x"
    assert parse_remote_url("ftps://h:990/x").implicit_tls
    assert not parse_remote_url("ftps://h/x").implicit_tls
    spaced = parse_remote_url("ftp://h/a%20b/caf%E9")
    assert spaced.path == "a b/caf\udce9" and spaced.url == "ftp://h/a%20b/caf%E9"


def test_a_password_in_the_url_is_used_with_a_warning_that_does_not_show_it() -> None:
    location = parse_remote_url("ftp://bob:hunter2-secret@h/x")
    assert "hunter2" not in location.url and "hunter2" not in repr(location)
    login = find_login(location, {}, None)
    assert (login.user, login.password) == ("bob", "hunter2-secret")
    assert login.warnings and not any("hunter2" in warning for warning in login.warnings)
    assert "hunter2" not in repr(login)
    with pytest.raises(UsageError) as bad:
        parse_remote_url("ftp://bob:hunter2-secret@h:99999/x")
    assert "hunter2" not in str(bad.value)


def test_logins_come_from_netrc_then_the_environment_then_a_prompt(tmp_path: Path) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine h login bob password from-netrc\nmachine other login x password y\n")
    os.chmod(netrc, 0o600)
    home = {"HOME": str(tmp_path)}
    assert find_login(parse_remote_url("ftp://h/x"), home, None).password == "from-netrc"
    assert find_login(parse_remote_url("ftp://h/x"), home, None).user == "bob"
    carol = parse_remote_url("ftp://carol@h/x")
    with_env = {"HOME": str(tmp_path), "DIRKIT_PASSWORD": "from-env"}
    assert find_login(carol, with_env, None).password == "from-env"
    assert find_login(carol, home, lambda prompt: "typed").password == "typed"
    with pytest.raises(UsageError, match="no password for carol"):
        find_login(carol, home, None)
    anonymous = find_login(parse_remote_url("ftp://nohost-in-netrc/x"), home, None)
    assert anonymous.user == "anonymous"


@pytest.mark.parametrize("name", ["../up.txt", "a/../../up.txt", "a/b", "/etc/passwd", "nul\0name", ""])
def test_a_listed_name_that_is_not_one_child_is_dropped(name: str) -> None:
    assert parse_mlsd_facts(name, {"type": "file", "size": "1"}) is None
    assert parse_list_line(f"-rw-r--r--   1 u g   1 Jan  1  2020 {name}") is None
    assert parse_list_line(f"01-01-20  10:00AM                    1 {name}") is None
