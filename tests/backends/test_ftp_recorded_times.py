"""A server that cannot set file times: what dirkit wrote is recorded in its state, so reruns converge."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dirkit.cli.main import main
from dirkit.core.tree.paths import RelPath
from dirkit.core.tree.written import WrittenFile
from dirkit.state.written_files import StateWrittenFiles
from tests.backends import ftp_servers
from tests.backends.ftp_servers import PASSWORD, USER, RunningServer

MakeTree = Callable[..., Path]


@pytest.fixture(scope="module")
def without_mfmt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Yield pyftpdlib refusing MFMT, so no command can set a file's time."""
    home = tmp_path_factory.mktemp("no-mfmt") / "home"
    home.mkdir()
    running = ftp_servers.start_pyftpdlib(home, tls=False, refused="MFMT")
    yield running
    running.stop()


def test_reruns_upload_only_what_changed_and_a_change_on_the_server_is_seen(
    without_mfmt: RunningServer,
    make_tree: MakeTree,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DIRKIT_PASSWORD", PASSWORD)
    folder = without_mfmt.home / "site"
    folder.mkdir()
    url = f"ftp://{USER}@127.0.0.1:{without_mfmt.port}/site"
    site = make_tree("site", {"a.txt": "a", "d/b.txt": "bb", "d/c.txt": "ccc"})
    assert main(["mirror", "-q", str(site), url]) == 0
    assert os.stat(folder / "a.txt").st_mtime != 1_600_000_000  # the server kept its own time
    capsys.readouterr()
    assert main(["mirror", str(site), url]) == 0
    assert capsys.readouterr().out.strip().endswith("nothing to do")
    assert main(["compare", str(site), url]) == 0

    (site / "a.txt").write_text("A")
    os.utime(site / "a.txt", (1_600_000_100, 1_600_000_100))
    (folder / "d" / "c.txt").write_text("changed on the server")
    capsys.readouterr()
    assert main(["mirror", str(site), url]) == 0
    assert "2 files copied" in capsys.readouterr().out
    assert (folder / "a.txt").read_text() == "A" and (folder / "d" / "c.txt").read_text() == "ccc"
    assert main(["undo", url]) == 0
    assert (folder / "a.txt").read_text() == "a"
    assert main(["mirror", "-q", str(site), url]) == 0
    capsys.readouterr()
    assert main(["mirror", str(site), url]) == 0
    assert capsys.readouterr().out.strip().endswith("nothing to do")

    database = Path(os.environ["DIRKIT_STATE_DIR"]) / "state.sqlite3"
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT path, source_mtime_ns FROM written_files WHERE tree = ?", (url,))
        recorded = {path: time for path, time in rows if not path.startswith(b".dirkit/")}
    connection.close()
    assert recorded == {
        b"a.txt": 1_600_000_100_000_000_000,
        b"d/b.txt": 1_600_000_000_000_000_000,
        b"d/c.txt": 1_600_000_000_000_000_000,
    }  # backups keep their records too, so that undo brings their times back


def test_a_folder_renamed_carries_exactly_its_own_records(tmp_path: Path) -> None:
    store = StateWrittenFiles(str(tmp_path / "state"))
    one, two = WrittenFile(1, 10, 100), WrittenFile(2, 20, 200)
    for path, written in (("a/x", one), ("a/d/y", two), ("ab/z", one), ("b/old", two)):
        store.save("tree", RelPath(path), written)
    store.save("other", RelPath("a/x"), two)
    store.move("tree", RelPath("a"), RelPath("b"))
    assert store.load("tree") == {"b/x": one, "b/d/y": two, "ab/z": one}
    assert store.load("other") == {"a/x": two}
    store.save("tree", RelPath("b/x"), None)
    assert sorted(store.load("tree")) == ["ab/z", "b/d/y"]
    store.close()
