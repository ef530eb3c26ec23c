"""The CLI on sftp:// trees end to end against a real sshd: compare, mirror both ways, undo, host keys."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import asyncssh
import pytest

from dirkit.backends.free_space import free_bytes_of
from dirkit.backends.trees import RemoteOptions, open_tree
from dirkit.cli.main import main
from tests.backends import ssh_server
from tests.backends.ssh_server import HOST_ALIAS, PASSPHRASE
from tests.backends.test_ftp_cli import every_state_byte

MakeTree = Callable[..., Path]
SITE = {"index.html": "<h1>hi</h1>", "css/site.css": "body {}", "img/logo.svg": "<svg/>", "empty": None}


@pytest.fixture
def ssh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME at a folder of the test's own (no ssh-agent); its .ssh is filled by each test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.delenv("DIRKIT_PASSWORD", raising=False)
    return home


def test_upload_a_site_download_it_back_undo_and_rerun(
    make_tree: MakeTree,
    tmp_path: Path,
    ssh_home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = ssh_server.sshd()
    running.make_home(ssh_home, passphrase=PASSPHRASE)
    monkeypatch.setenv("DIRKIT_PASSWORD", PASSPHRASE)
    _url, folder = running.new_tree()
    url = f"sftp://{HOST_ALIAS}{folder}"
    site = make_tree("site", SITE)
    os.symlink("index.html", site / "home.html")
    shown: list[str] = []

    def run(*argv: str) -> int:
        code = main([*argv, "--connections", "3"])
        captured = capsys.readouterr()
        shown.extend((captured.out, captured.err))
        return code

    assert run("compare", str(site), url) == 1
    assert run("mirror", str(site), url) == 0
    assert (folder / "css" / "site.css").read_text() == "body {}"
    assert (folder / "empty").is_dir()
    assert os.readlink(folder / "home.html") == "index.html"
    assert os.stat(folder / "index.html").st_mtime == 1_600_000_000
    assert not [path for path in folder.rglob("*") if path.name.startswith(".dirkit-") and path.is_file()]
    assert run("mirror", str(site), url) == 0
    assert shown[-2].strip().endswith("nothing to do")
    assert run("compare", str(site), url) == 0

    (site / "index.html").write_text("<h1>changed</h1>")
    (site / "css" / "site.css").unlink()
    assert run("mirror", str(site), url) == 0
    assert (folder / "index.html").read_text() == "<h1>changed</h1>"
    assert not (folder / "css" / "site.css").exists()
    assert run("undo", url) == 0
    assert (folder / "index.html").read_text() == "<h1>hi</h1>"
    assert (folder / "css" / "site.css").read_text() == "body {}"
    assert os.stat(folder / "index.html").st_mtime == 1_600_000_000

    back = tmp_path / "back"
    assert run("mirror", url, str(back)) == 0
    assert (back / "img" / "logo.svg").read_text() == "<svg/>"
    assert (back / "index.html").read_text() == "<h1>hi</h1>"
    assert os.readlink(back / "home.html") == "index.html"
    assert os.stat(back / "css" / "site.css").st_mtime == 1_600_000_000
    assert run("mirror", url, str(back)) == 0
    assert shown[-2].strip().endswith("nothing to do")

    assert not any(PASSPHRASE in text for text in shown)
    assert PASSPHRASE not in every_state_byte(Path(os.environ["DIRKIT_STATE_DIR"]))


def test_host_keys_unknown_accepted_then_changed(
    make_tree: MakeTree, ssh_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = ssh_server.sshd()
    running.make_home(ssh_home, known=False)
    url, folder = running.new_tree()
    site = make_tree("site", {"a.txt": "a"})
    known_hosts = ssh_home / ".ssh" / "known_hosts"

    assert main(["mirror", str(site), url]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(f"dirkit: {url}: ")
    assert "--accept-new-host-key" in error and "SHA256:" in error
    assert not known_hosts.exists() and not (folder / "a.txt").exists()

    assert main(["mirror", "--accept-new-host-key", str(site), url]) == 0
    assert (folder / "a.txt").read_text() == "a"
    assert known_hosts.read_text() == running.known_hosts_line()
    capsys.readouterr()
    assert main(["compare", str(site), url]) == 0

    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()
    known_hosts.write_text(f"[127.0.0.1]:{running.port} {other[0]} {other[1]}\n")
    assert main(["compare", "--accept-new-host-key", str(site), url]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "CHANGED" in error and f"{known_hosts} line 1" in error


def test_find_grep_manifest_verify_and_dupes_take_an_sftp_tree(
    make_tree: MakeTree, tmp_path: Path, ssh_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = ssh_server.sshd()
    running.make_home(ssh_home)
    url, folder = running.new_tree()
    site = make_tree("site", {**SITE, "copy/site.css": "body {}"})
    assert main(["mirror", "-q", str(site), url]) == 0
    capsys.readouterr()
    assert main(["find", url, "--name", "*.css"]) == 0
    assert sorted(capsys.readouterr().out.splitlines()) == [f"{url}/copy/site.css", f"{url}/css/site.css"]
    assert main(["grep", "-n", "hi", url]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{url}/index.html:1:<h1>hi</h1>"]
    assert main(["dupes", url]) == 1
    assert capsys.readouterr().out.split("\n\n")[0].splitlines() == [
        f"{url}/copy/site.css",
        f"{url}/css/site.css",
    ]
    manifest = tmp_path / "site.b3"
    assert main(["manifest", url, "-o", str(manifest)]) == 0
    assert main(["verify", str(manifest), url]) == 0
    (folder / "index.html").write_text("tampered")
    assert main(["verify", str(manifest), url]) == 1
    assert "index.html" in capsys.readouterr().out


def test_the_free_space_of_an_sftp_tree_comes_from_the_servers_statvfs(ssh_home: Path) -> None:
    running = ssh_server.sshd()
    running.make_home(ssh_home)
    url, folder = running.new_tree()
    tree = open_tree(url, remote=RemoteOptions(connections=1))
    try:
        free = free_bytes_of(tree)
    finally:
        tree.close()
    usage = os.statvfs(folder)
    assert free is not None and abs(free - usage.f_bavail * usage.f_frsize) < 256 * 1024 * 1024
