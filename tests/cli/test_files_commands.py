"""The split, join, pack and unpack commands: output and every exit code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from dirkit.cli.main import main
from dirkit.core.tree.filters import TEMP_MARKER
from tests.support import Capture, dirkit_command, wait_until


def test_split_and_join_exit_zero_and_report(tmp_path: Path, capsys: Capture) -> None:
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(10_000))
    assert main(["split", "--size", "4K", str(source), "-o", str(tmp_path)]) == 0
    assert "into 3 parts" in capsys.readouterr().out
    assert main(["join", str(tmp_path / "big.bin.parts.json"), "-o", str(tmp_path / "back"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["checked"] is True
    assert (tmp_path / "back").read_bytes() == source.read_bytes()


def test_split_and_join_errors_exit_two(tmp_path: Path, capsys: Capture) -> None:
    assert main(["split", "--size", "1x", str(tmp_path / "nope")]) == 2
    assert "bad size" in capsys.readouterr().err
    assert main(["split", "--size", "1K", str(tmp_path / "nope")]) == 2
    assert "nope" in capsys.readouterr().err
    source = tmp_path / "f"
    source.write_bytes(b"x" * 3000)
    assert main(["split", "-n", "3", str(source), "-q"]) == 0
    assert main(["split", "-n", "3", str(source)]) == 2
    assert "already exists" in capsys.readouterr().err
    (tmp_path / "f.part0002").write_bytes(b"y" * 1000)
    assert main(["join", str(tmp_path), "-o", str(tmp_path / "out")]) == 2
    assert "f.part0002: part 2 of 3 is corrupt" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_pack_and_unpack_exit_codes(make_tree: Callable[..., Path], tmp_path: Path, capsys: Capture) -> None:
    root = make_tree("tree", {"a": "a", "d/b": "b"})
    archive = tmp_path / "t.tar.zst"
    assert main(["pack", str(root), str(archive)]) == 0
    assert "packed 2 files" in capsys.readouterr().out
    assert main(["pack", str(root), str(archive)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["pack", str(root), str(tmp_path / "t.rar")]) == 2
    os.mkfifo(root / "fifo")
    assert main(["pack", "--force", str(root), str(archive)]) == 1
    assert "fifo: left out" in capsys.readouterr().err
    assert main(["unpack", "--list", str(archive)]) == 0
    assert "d/b" in capsys.readouterr().out
    assert main(["unpack", str(archive), str(tmp_path / "dest")]) == 0
    assert (tmp_path / "dest" / "d" / "b").read_text() == "b"
    assert main(["unpack", str(archive), str(tmp_path / "dest")]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["unpack", "--overwrite", "--json", str(archive), str(tmp_path / "dest")]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["replaced"] == ["a", "d/b"]
    assert main(["unpack", str(archive)]) == 2


def test_unpack_refusals_exit_one_when_listing_and_two_when_unpacking(
    tmp_path: Path, capsys: Capture
) -> None:
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("../evil")
        tar.addfile(info)
    assert main(["unpack", "--list", str(archive)]) == 1
    assert "refused" in capsys.readouterr().out
    assert main(["unpack", str(archive), str(tmp_path / "dest")]) == 2
    assert "escapes DEST" in capsys.readouterr().err
    assert not (tmp_path / "dest").exists()
    assert not (tmp_path / "evil").exists()


def test_help_teaches_each_command(capsys: Capture) -> None:
    for command in ("split", "join", "pack", "unpack"):
        with pytest.raises(SystemExit) as stopped:
            main([command, "--help"])
        assert stopped.value.code == 0
        text = capsys.readouterr().out
        assert "exit status:" in text
        assert "examples:" in text


def _dirkit(*args: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(dirkit_command(*args), capture_output=True, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def test_split_from_stdin_and_join_as_subprocesses(tmp_path: Path) -> None:
    data = os.urandom(70_000)
    split = _dirkit("split", "--size", "32K", "--name", "piped", "-", "-o", str(tmp_path), input=data)
    assert split.returncode == 0, split.stderr
    joined = _dirkit("join", str(tmp_path), "-o", str(tmp_path / "whole"))
    assert joined.returncode == 0, joined.stderr
    assert (tmp_path / "whole").read_bytes() == data


def test_interrupted_split_exits_130_and_removes_its_parts(tmp_path: Path) -> None:
    process = subprocess.Popen(
        dirkit_command("split", "--size", "1K", "-", "-o", str(tmp_path)),
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None
    process.stdin.write(os.urandom(4096))
    process.stdin.flush()
    assert wait_until((tmp_path / "stdin.part0002").exists), "split never wrote its second part"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 130, err
    assert [p.name for p in tmp_path.iterdir() if TEMP_MARKER not in p.name] == []
    assert list(tmp_path.iterdir()) == []


def test_pack_shows_progress_when_asked(
    make_tree: Callable[..., Path], tmp_path: Path, capsys: Capture
) -> None:
    root = make_tree("tree", {"a": "a", "b": "b"})
    assert main(["pack", "--progress", "always", str(root), str(tmp_path / "t.zip")]) == 0
    assert "packing: 2/2 files" in capsys.readouterr().err


def test_missing_or_bogus_inputs_exit_two(tmp_path: Path, capsys: Capture) -> None:
    assert main(["pack", str(tmp_path / "missing"), str(tmp_path / "x.tar")]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["join", str(tmp_path / "missing")]) == 2
    bogus = tmp_path / "bogus.tar"
    bogus.write_bytes(os.urandom(2048))
    assert main(["unpack", str(bogus), str(tmp_path / "dest")]) == 2
    assert "not a tar archive" in capsys.readouterr().err
    assert not (tmp_path / "dest").exists()
    (tmp_path / "empty.tar").write_bytes(b"")
    assert main(["unpack", "--list", str(tmp_path / "empty.tar")]) == 2
    assert "empty file" in capsys.readouterr().err
