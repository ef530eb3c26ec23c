"""pack from and unpack into ftp:// and sftp:// trees against real servers, with every unpack check kept."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from dirkit.cli.main import main
from tests.backends import ftp_servers, ssh_server
from tests.backends.ftp_servers import PASSWORD, USER

MakeTree = Callable[..., Path]
SITE = {
    "index.html": "<h1>hi</h1>",
    "css/site.css": "body {}",
    "img/deep/logo.svg": "<svg/>",
    "empty": None,
}


@dataclass(frozen=True, slots=True)
class RemoteFolder:
    """An empty folder on a running server: its URL and where the test sees it on disk."""

    url: str
    folder: Path


@pytest.fixture(params=["ftp", "sftp"])
def remote_folder(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> RemoteFolder:
    """Return an empty folder on pyftpdlib or sshd, with HOME holding the login (.netrc or a key)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("DIRKIT_PASSWORD", raising=False)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    if request.param == "ftp":
        (home / ".netrc").write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
        (home / ".netrc").chmod(0o600)
        url, folder = ftp_servers.server("pyftpdlib").new_tree()
    else:
        running = ssh_server.sshd()
        running.make_home(home)
        url, folder = running.new_tree()
    return RemoteFolder(url, folder)


def test_unpack_into_a_remote_tree_then_pack_it_back_gives_the_same_tree(
    remote_folder: RemoteFolder, make_tree: MakeTree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = make_tree("site", SITE)
    archive = tmp_path / "site.tar.gz"
    dest = f"{remote_folder.url}/new/site"
    if remote_folder.url.startswith("ftp://"):
        os.symlink("index.html", site / "home.html")
        assert main(["pack", "-q", str(site), str(archive)]) == 0
        assert main(["unpack", str(archive), dest]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "home.html: is a symlink" in error
        assert not (remote_folder.folder / "new" / "site" / "index.html").exists()
        (site / "home.html").unlink()
        archive.unlink()
    else:
        os.symlink("index.html", site / "home.html")
    assert main(["pack", "-q", str(site), str(archive)]) == 0

    assert main(["unpack", "-q", str(archive), dest, "--connections", "2"]) == 0
    unpacked = remote_folder.folder / "new" / "site"
    assert (unpacked / "img" / "deep" / "logo.svg").read_text() == "<svg/>"
    assert (unpacked / "empty").is_dir()
    assert not [path for path in unpacked.rglob("*") if path.name.startswith(".dirkit-")]
    capsys.readouterr()
    assert main(["compare", str(site), dest]) == 0, capsys.readouterr().out

    back = tmp_path / "back.zip"
    assert main(["pack", "-q", dest, str(back), "--connections", "2"]) == 0
    again = tmp_path / "again"
    assert main(["unpack", "-q", str(back), str(again)]) == 0
    assert _files_of(again) == _files_of(site)

    assert main(["unpack", "-q", str(archive), dest]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["undo", "-q", dest]) == 0
    assert sorted(path.name for path in unpacked.iterdir()) == [".dirkit"]
    assert PASSWORD not in capsys.readouterr().err


def _files_of(root: Path) -> dict[str, object]:
    """Return each path below root with its kind and, for files and links, its bytes and file mtime."""
    found: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        name = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[name] = ("link", os.readlink(path))
        elif path.is_dir():
            found[name] = "dir"
        else:
            found[name] = ("file", path.read_bytes(), int(path.stat().st_mtime))
    return found


def _tar_with(tmp_path: Path, names: list[str]) -> Path:
    archive = tmp_path / "bad.tar"
    with tarfile.open(archive, "w") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"x\n"))
    return archive


@pytest.mark.parametrize("bad", ["../escape.txt", "/abs.txt", ".dirkit/locks/x"])
def test_unsafe_members_are_refused_on_a_remote_tree_before_anything_is_written(
    remote_folder: RemoteFolder, tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    archive = _tar_with(tmp_path, ["ok.txt", bad])
    assert main(["unpack", str(archive), remote_folder.url]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("dirkit: ")
    assert not (remote_folder.folder / "ok.txt").exists()
    assert not (remote_folder.folder.parent / "escape.txt").exists()


def test_a_size_cap_stops_a_remote_unpack_and_removes_what_it_wrote(
    remote_folder: RemoteFolder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _tar_with(tmp_path, [f"f{index}.txt" for index in range(8)])
    assert main(["unpack", "--max-size", "5", str(archive), remote_folder.url]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert [path.name for path in remote_folder.folder.iterdir() if not path.name.startswith(".dirkit")] == []
