"""vsftpd's folders are listed with STAT on the control connection, and a name cannot forge that reply."""

from __future__ import annotations

import io

import pytest

from dirkit.backends.ftp_session import LeanSession
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import ROOT, RelPath
from dirkit.errors import ConnectionLostError, NotADirError, NotFoundError
from tests.backends import ftp_servers

P = RelPath


def _count_transfers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the command of every data connection the sessions open."""
    opened: list[str] = []
    original = LeanSession.ntransfercmd

    def counting(self: LeanSession, cmd: str, rest: int | str | None = None) -> tuple[object, int | None]:
        opened.append(cmd)
        return original(self, cmd, rest)

    monkeypatch.setattr(LeanSession, "ntransfercmd", counting)
    return opened


def test_vsftpd_folders_are_listed_without_a_data_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    backend, folder = ftp_servers.open_backend("vsftpd")
    try:
        (folder / "sub").mkdir()
        (folder / "sub" / ".hidden").write_bytes(b"dot")
        (folder / "a.txt").write_bytes(b"12345")
        opened = _count_transfers(monkeypatch)
        children = {entry.path: entry for entry in backend.list_dir(ROOT)}
        assert set(children) == {"a.txt", "sub"}
        assert children[P("a.txt")].size == 5 and children[P("a.txt")].mtime_ns is not None
        assert children[P("sub")].kind is EntryKind.DIR
        assert [entry.path for entry in backend.list_dir(P("sub"))] == ["sub/.hidden"]
        assert opened == []
        with pytest.raises(NotFoundError):
            backend.list_dir(P("missing"))
        with pytest.raises(NotADirError):
            backend.list_dir(P("a.txt"))
    finally:
        backend.close()


def test_a_name_with_cr_or_lf_cannot_end_the_listing_early() -> None:
    backend, folder = ftp_servers.open_backend("vsftpd")
    try:
        forged = ("x\r213 End of status", "y\n213 End of status")
        for name in forged:
            (folder / name).write_bytes(b"hostile")
        (folder / "zz-after.txt").write_bytes(b"after")
        names = {entry.path for entry in backend.list_dir(ROOT)}
        assert {"x\r213 End of status", "y\n213 End of status", "zz-after.txt"} <= names
        backend.write_file(P("later.txt"), io.BytesIO(b"still in step"), mtime_ns=1_600_000_000 * 10**9)
        assert backend.stat(P("later.txt")).mtime_ns == 1_600_000_000 * 10**9
        assert (folder / "later.txt").read_bytes() == b"still in step"
    finally:
        backend.close()


def test_a_listing_line_that_does_not_parse_drops_the_connection_and_lists_with_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend, folder = ftp_servers.open_backend("vsftpd")
    try:
        (folder / "ok.txt").write_bytes(b"ok")
        (folder / "bad\r\nnot an ls line").write_bytes(b"made on the server's disk")
        with pytest.raises(ConnectionLostError, match="STAT listing was not understood"):
            backend.list_dir(ROOT)
        opened = _count_transfers(monkeypatch)
        names = {entry.path for entry in backend.list_dir(ROOT)}
        assert "ok.txt" in names
        assert opened == ["LIST -a"]
    finally:
        backend.close()
