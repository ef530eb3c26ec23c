"""`dirkit manifest` and `dirkit verify` in-process and as subprocesses, checked by the real tools."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dirkit.cli.main import main
from tests.support import dirkit_command, require_tool

AWKWARD = {
    "plain.txt": "plain",
    "with space.txt": "spaces",
    "back\\slash.txt": "backslash",
    "new\nline.txt": "newline",
    "dir/nested file": "nested",
}
NON_UTF8 = os.fsdecode(b"caf\xe9.bin")


def _awkward_tree(make_tree: Callable[..., Path], with_non_utf8: bool) -> Path:
    root = make_tree("tree", AWKWARD)
    if with_non_utf8:
        (root / NON_UTF8).write_bytes(b"latin-1 name")
    return root


@pytest.mark.needs_tool
def test_b3sum_accepts_the_manifest(make_tree: Callable[..., Path], tmp_path: Path) -> None:
    b3sum = require_tool("b3sum")
    root = _awkward_tree(make_tree, with_non_utf8=False)
    output = tmp_path / "tree.b3"
    assert main(["manifest", str(root), "-o", str(output)]) == 0
    checked = subprocess.run([b3sum, "-c", str(output)], cwd=root, capture_output=True, check=False)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.count(b": OK") == len(AWKWARD)


@pytest.mark.needs_tool
def test_sha256sum_accepts_the_manifest_with_every_awkward_name(
    make_tree: Callable[..., Path], tmp_path: Path
) -> None:
    sha256sum = require_tool("sha256sum")
    root = _awkward_tree(make_tree, with_non_utf8=True)
    (root / "cr\rname").write_text("carriage return")
    output = tmp_path / "SHA256SUMS"
    assert main(["manifest", "-a", "sha256", str(root), "-o", str(output)]) == 0
    checked = subprocess.run(
        [sha256sum, "--strict", "-c", str(output)], cwd=root, capture_output=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.count(b": OK") == len(AWKWARD) + 2


@pytest.mark.needs_tool
def test_manifest_lines_equal_the_tools_own_lines(make_tree: Callable[..., Path], tmp_path: Path) -> None:
    root = make_tree("tree", {"a b": "1", "x\\y": "2", "n\nl": "3"})
    names = sorted(os.listdir(root))
    for tool, algorithm in (("b3sum", "blake3"), ("sha256sum", "sha256")):
        program = require_tool(tool)
        theirs = subprocess.run([program, *names], cwd=root, capture_output=True, check=True).stdout
        output = tmp_path / f"out.{algorithm}"
        assert main(["manifest", "-a", algorithm, str(root), "-o", str(output)]) == 0
        assert sorted(output.read_bytes().splitlines()) == sorted(theirs.splitlines())


@pytest.mark.needs_tool
@pytest.mark.parametrize("tool", ["b3sum", "sha256sum", "md5sum", "sha1sum"])
def test_verify_reads_every_tools_manifest(tool: str, make_tree: Callable[..., Path], tmp_path: Path) -> None:
    program = require_tool(tool)
    root = make_tree("tree", {"a.txt": "alpha", "sub/b.txt": "beta", "back\\slash": "c"})
    listed = subprocess.run(
        f"find . -type f | sort | xargs -d '\\n' {program}",
        shell=True,
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout
    manifest = tmp_path / "sums"
    manifest.write_bytes(listed)
    hint = ["-a", "blake3"] if tool == "b3sum" else ["-a", "sha256"] if tool == "sha256sum" else []
    assert main(["verify", *hint, str(manifest), str(root)]) == 0


def test_manifest_to_stdout_skips_symlinks_and_its_own_output(
    make_tree: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_tree("tree", {"b": "2", "a": "1"})
    (root / "link").symlink_to("a")
    assert main(["manifest", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == ["a", "b"]
    assert main(["manifest", str(root), "-o", str(root / "inside.b3")]) == 0
    assert [line.split(b"  ", 1)[1] for line in (root / "inside.b3").read_bytes().splitlines()] == [
        b"a",
        b"b",
    ]
    assert main(["verify", str(root / "inside.b3"), str(root)]) == 0


def test_manifest_exit_codes(
    make_tree: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_tree("tree", {"a": "1", "d/b": "2"})
    (root / "d" / "loop").symlink_to("..")
    assert main(["manifest", "--follow-symlinks", str(root), "-o", str(tmp_path / "m")]) == 1
    assert "symlink loop" in capsys.readouterr().err
    assert main(["manifest", str(tmp_path / "absent")]) == 2
    assert "absent" in capsys.readouterr().err
    assert main(["manifest", "--jobs", "0", str(root)]) == 2
    assert main(["manifest", "--exclude", "d/", str(root)]) == 0
    assert capsys.readouterr().out.count("\n") == 1


def test_verify_exit_codes_and_json(
    make_tree: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_tree("tree", {"keep": "same", "rot": "abcdef", "gone": "x"}, mtime=1_500_000_000)
    manifest = tmp_path / "tree.b3"
    assert main(["manifest", str(root), "-o", str(manifest)]) == 0
    assert main(["verify", str(manifest), str(root)]) == 0
    assert "all OK (blake3): 3 OK" in capsys.readouterr().out
    (root / "rot").write_text("abcdeF")
    os.utime(root / "rot", (1_500_000_000, 1_500_000_000))
    (root / "gone").unlink()
    (root / "fresh").write_text("new")
    assert main(["verify", "--json", str(manifest), str(root)]) == 1
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {record["path"]: record["status"] for record in records[:-1]} == {
        "fresh": "new",
        "gone": "missing",
        "keep": "ok",
        "rot": "failed",
    }
    assert records[-1]["summary"]["counts"] == {"ok": 1, "failed": 1, "missing": 1, "new": 1, "error": 0}
    assert main(["verify", str(manifest), str(root)]) == 1
    text = capsys.readouterr().out
    assert "rot: FAILED" in text and "gone: MISSING" in text and "fresh: NEW" in text and "keep" not in text
    assert main(["verify", "--no-new", "-q", str(manifest), str(root)]) == 1
    assert capsys.readouterr().out == ""
    manifest.write_bytes(manifest.read_bytes() + b"this is not a checksum line\n")
    assert main(["verify", str(manifest), str(root)]) == 2
    assert main(["verify", str(tmp_path / "no-such-manifest"), str(root)]) == 2
    assert "no-such-manifest" in capsys.readouterr().err
    (tmp_path / "empty").write_text("")
    assert main(["verify", str(tmp_path / "empty"), str(root)]) == 2
    assert "no checksum lines" in capsys.readouterr().err


def test_verify_defaults_to_the_current_directory(
    make_tree: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_tree("tree", {"a": "1"})
    assert main(["manifest", str(root), "-o", str(tmp_path / "sums.b3")]) == 0
    monkeypatch.chdir(root)
    assert main(["verify", str(tmp_path / "sums.b3")]) == 0


def test_help_teaches_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("manifest", "verify"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "exit status:" in text and "examples:" in text


def test_manifest_and_verify_as_subprocesses(make_tree: Callable[..., Path], tmp_path: Path) -> None:
    root = make_tree("tree", {"a": "1", "b/c": "2"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    made = subprocess.run(
        dirkit_command("manifest", "-a", "sha256", str(root)),
        capture_output=True,
        env=env,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    (tmp_path / "SHA256SUMS").write_bytes(made.stdout)
    checked = subprocess.run(
        dirkit_command("verify", str(tmp_path / "SHA256SUMS"), str(root)),
        capture_output=True,
        env=env,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert b"all OK (sha256): 2 OK" in checked.stdout


def test_dirkit_verifies_every_awkward_name_in_both_formats(
    make_tree: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _awkward_tree(make_tree, with_non_utf8=True)
    for algorithm in ("blake3", "sha256"):
        output = tmp_path / f"sums.{algorithm}"
        assert main(["manifest", "-a", algorithm, str(root), "-o", str(output)]) == 0
        assert main(["verify", "-v", str(output), str(root)]) == 0
        assert f"{len(AWKWARD) + 1} OK" in capsys.readouterr().out
