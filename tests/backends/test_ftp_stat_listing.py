"""vsftpd's folders are listed with STAT on the control connection, and a name cannot forge that reply.

And a name a listing showed free is not asked again before an upload, which checks it itself.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from dirkit.backends.ftp_session import LeanSession
from dirkit.backends.local import LocalBackend
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import ROOT, RelPath
from dirkit.errors import AlreadyExistsError, ConnectionLostError, NotADirError, NotFoundError
from dirkit.ops.run.execute import ExecuteOptions, execute_plan
from dirkit.ops.run.mirror import MirrorOptions, plan_mirror_trees
from dirkit.state.journal import Journal
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


def test_a_name_listed_free_is_checked_by_the_upload_itself_and_never_replaced() -> None:
    backend, folder = ftp_servers.open_backend("vsftpd")
    try:
        (folder / "sub").mkdir()
        os.chown(folder / "sub", ftp_servers._ftp_uid(), -1)
        assert backend.list_dir(ROOT)[0].path == "sub"
        assert backend.list_dir(P("sub")) == []
        (folder / "sub" / "late.txt").write_bytes(b"made by someone else after the listing")
        with pytest.raises(NotFoundError):
            backend.stat(P("sub/late.txt"))  # a forecast from the listing, not asked again
        with pytest.raises(AlreadyExistsError, match="appeared after the tree was listed"):
            backend.write_file(P("sub/late.txt"), io.BytesIO(b"ours"), mtime_ns=1_600_000_000 * 10**9)
        assert (folder / "sub" / "late.txt").read_bytes() == b"made by someone else after the listing"
        assert sorted(path.name for path in (folder / "sub").iterdir()) == ["late.txt"]
        assert backend.stat(P("sub/late.txt")).size == len(b"made by someone else after the listing")
        backend.write_file(P("sub/free.txt"), io.BytesIO(b"ours"))
        assert (folder / "sub" / "free.txt").read_bytes() == b"ours"
    finally:
        backend.close()


def test_a_mirror_leaves_alone_a_file_that_appeared_between_plan_and_run(
    tmp_path: Path, journal: Journal
) -> None:
    source = tmp_path / "site"
    (source / "pages").mkdir(parents=True)
    for name in ("a.html", "b.html"):
        (source / "pages" / name).write_text(f"new {name}")
    backend, folder = ftp_servers.open_backend("vsftpd")
    try:
        (folder / "pages").mkdir()
        os.chown(folder / "pages", ftp_servers._ftp_uid(), -1)
        plan = plan_mirror_trees(LocalBackend(str(source)), backend, MirrorOptions()).plan
        (folder / "pages" / "b.html").write_text("theirs, made after the plan")
        result = execute_plan(plan, backend, journal, LocalBackend(str(source)), ExecuteOptions(jobs=2))
        assert (folder / "pages" / "a.html").read_text() == "new a.html"
        assert (folder / "pages" / "b.html").read_text() == "theirs, made after the plan"
        assert [(failure.path, failure.conflict) for failure in result.failures] == [("pages/b.html", True)]
        assert sorted(path.name for path in (folder / "pages").iterdir()) == ["a.html", "b.html"]
    finally:
        backend.close()


def test_small_uploads_use_the_passive_port_the_last_rename_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    backend, folder = ftp_servers.open_backend("vsftpd", connections=1)
    try:
        opened = _count_transfers(monkeypatch)
        stamp = 1_600_000_000 * 10**9
        for number in range(4):
            backend.write_file(P(f"f{number}"), io.BytesIO(b"x" * number * 1000), mtime_ns=stamp)
        assert len(opened) == 1 and opened[0].startswith("STOR ")  # the first only: then spare ports
        backend.write_file(P("big"), io.BytesIO(b"y" * 200_000), mtime_ns=stamp)  # larger than a block
        monkeypatch.setattr("dirkit.backends.ftp.SPARE_PORT_S", -1.0)  # a spare port too old to trust
        backend.write_file(P("late"), io.BytesIO(b"late"), mtime_ns=stamp)
        assert len(opened) == 3
        for number in range(4):
            assert (folder / f"f{number}").read_bytes() == b"x" * number * 1000
            assert backend.stat(P(f"f{number}")).mtime_ns == stamp
        assert (folder / "big").read_bytes() == b"y" * 200_000
        assert (folder / "late").read_bytes() == b"late"
        assert not [path for path in folder.iterdir() if path.name.startswith(".dirkit")]
    finally:
        backend.close()
