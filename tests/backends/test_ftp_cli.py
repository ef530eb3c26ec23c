"""The CLI on ftp:// and ftps:// trees end to end: compare, mirror both ways, undo, rerun; no secret shown."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from dirkit.cli.main import main
from tests.backends import ftp_servers
from tests.backends.ftp_servers import PASSWORD, USER

MakeTree = Callable[..., Path]
SITE = {"index.html": "<h1>hi</h1>", "css/site.css": "body {}", "img/logo.svg": "<svg/>", "empty": None}


def every_state_byte(state: Path) -> str:
    """Return the state folder's files and a dump of its databases as text, to grep for secrets."""
    parts = []
    for path in sorted(state.rglob("*")):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", "replace"))
            if path.suffix == ".sqlite3":
                with sqlite3.connect(path) as database:
                    parts.extend(database.iterdump())
                database.close()
    return "\n".join(parts)


@pytest.fixture
def netrc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME at a folder whose .netrc holds the test user's password."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
    (home / ".netrc").chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("DIRKIT_PASSWORD", raising=False)
    return home


@pytest.mark.parametrize("server", ["pyftpdlib", "vsftpd-tls", "proftpd"])
def test_upload_a_site_download_it_back_undo_and_rerun(
    server: str,
    make_tree: MakeTree,
    tmp_path: Path,
    netrc_home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = ftp_servers.server(server)
    tls_flags = [] if running.cert is None else ["--ca-file", str(running.cert)]
    url, folder = running.new_tree()
    site = make_tree("site", SITE)
    shown: list[str] = []

    def run(*argv: str) -> int:
        code = main([*argv, *tls_flags, "--connections", "3"])
        captured = capsys.readouterr()
        shown.extend((captured.out, captured.err))
        return code

    assert run("compare", str(site), url) == 1
    assert run("mirror", str(site), f"{url}/new/deeper") == 0
    assert (folder / "new" / "deeper" / "index.html").read_text() == "<h1>hi</h1>"
    assert run("mirror", str(site), url) == 0
    assert (folder / "css" / "site.css").read_text() == "body {}"
    assert (folder / "empty").is_dir() and not (folder / "new").exists()
    assert os.stat(folder / "index.html").st_mtime == 1_600_000_000
    assert not [path for path in folder.rglob("*") if ".dirkit-part-" in path.name]
    assert run("mirror", str(site), url) == 0
    assert shown[-2].strip().endswith("nothing to do")
    assert run("compare", str(site), url) == 0

    (site / "index.html").write_text("<h1>changed</h1>")
    assert run("mirror", str(site), url) == 0
    assert (folder / "index.html").read_text() == "<h1>changed</h1>"
    assert run("undo", url) == 0
    assert (folder / "index.html").read_text() == "<h1>hi</h1>"

    back = tmp_path / "back"
    assert run("mirror", url, str(back)) == 0
    assert (back / "img" / "logo.svg").read_text() == "<svg/>"
    assert (back / "index.html").read_text() == "<h1>hi</h1>"
    assert run("mirror", url, str(back)) == 0
    assert shown[-2].strip().endswith("nothing to do")

    plan = tmp_path / "plan.jsonl"
    (site / "new.txt").write_text("new")
    assert run("mirror", "--save-plan", str(plan), str(site), url) == 0
    assert run("apply", str(plan)) == 0
    assert (folder / "new.txt").read_text() == "new"

    assert not any(PASSWORD in text for text in shown)
    assert PASSWORD not in plan.read_text()
    assert PASSWORD not in every_state_byte(Path(os.environ["DIRKIT_STATE_DIR"]))


def test_a_password_in_the_url_works_with_a_warning_that_hides_it(
    make_tree: MakeTree, netrc_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (netrc_home / ".netrc").unlink()
    running = ftp_servers.server("pyftpdlib")
    url, folder = running.new_tree()
    with_password = url.replace(f"{USER}@", f"{USER}:{PASSWORD}@")
    site = make_tree("site", {"a.txt": "a"})
    assert main(["mirror", str(site), with_password]) == 0
    captured = capsys.readouterr()
    assert "warning:" in captured.err and "password written in the URL" in captured.err
    assert PASSWORD not in captured.out + captured.err
    assert (folder / "a.txt").read_text() == "a"
    assert main(["compare", str(site), url]) == 2
    assert "no password for alice" in capsys.readouterr().err
    assert PASSWORD not in every_state_byte(Path(os.environ["DIRKIT_STATE_DIR"]))


def test_find_grep_manifest_and_verify_take_an_ftp_tree(
    make_tree: MakeTree, tmp_path: Path, netrc_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    running = ftp_servers.server("pyftpdlib")
    url, folder = running.new_tree()
    assert main(["mirror", "-q", str(make_tree("site", SITE)), url]) == 0
    capsys.readouterr()
    assert main(["find", url, "--name", "*.css"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{url}/css/site.css"]
    assert main(["grep", "-n", "hi", url]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{url}/index.html:1:<h1>hi</h1>"]
    manifest = tmp_path / "site.b3"
    assert main(["manifest", url, "-o", str(manifest)]) == 0
    assert main(["verify", str(manifest), url]) == 0
    (folder / "index.html").write_text("tampered")
    assert main(["verify", str(manifest), url]) == 1
    assert PASSWORD not in capsys.readouterr().out + manifest.read_text()


def test_connections_below_one_are_refused_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--connections", "0", ".", "."]) == 2
    assert capsys.readouterr().err.strip() == "dirkit: --connections 0: must be at least 1"
