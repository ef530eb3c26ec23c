"""`dirkit compare` from the command line: exit codes, output shapes, help."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from dirkit import __version__
from dirkit.cli import compare as compare_cli
from dirkit.cli.main import EXIT_BROKEN_PIPE, main
from tests.support import MakeTree, dirkit_command, run_cli


@pytest.fixture
def differing(make_tree: MakeTree) -> tuple[Path, Path]:
    left = make_tree("l", {"same": "s", "changed": "1", "gone": "g", "notes.txt": "a\nb\n"})
    right = make_tree("r", {"same": "s", "changed": "22", "new": "n", "notes.txt": "a\nc\nd\n"})
    return left, right


def test_exit_0_when_same(make_tree: MakeTree, capsys: pytest.CaptureFixture[str]) -> None:
    left = make_tree("l", {"a": "x"})
    right = make_tree("r", {"a": "x"})
    code, out, _ = run_cli(capsys, "compare", str(left), str(right))
    assert code == 0
    assert "trees are the same" in out


def test_exit_1_and_grouped_text_when_different(
    differing: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "compare", *map(str, differing))
    assert code == 1
    assert "changed (2):" in out and "only on the left (1):" in out and "only on the right (1):" in out
    assert "\x1b[" not in out
    assert out.strip().splitlines()[-1].startswith("trees differ:")


def test_exit_2_when_a_root_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "compare", str(tmp_path), str(tmp_path / "nope"))
    assert code == 2
    assert out == ""
    assert err.startswith("dirkit: ") and "nope" in err and "no such directory" in err
    assert len(err.strip().splitlines()) == 1


def test_exit_2_on_bad_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["compare", "--no-such-flag", str(tmp_path), str(tmp_path)])
    assert caught.value.code == 2
    code, _, err = run_cli(capsys, "compare", "--modify-window", "-1", str(tmp_path), str(tmp_path))
    assert code == 2 and "modify-window" in err


def test_exit_2_on_unreadable_exclude_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.txt"
    code, _, err = run_cli(capsys, "compare", "--exclude-from", str(missing), str(tmp_path), str(tmp_path))
    assert code == 2 and "missing.txt" in err


def test_exit_130_when_interrupted(
    differing: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(compare_cli, "compare_trees", interrupted)
    code, _, err = run_cli(capsys, "compare", *map(str, differing))
    assert code == 130 and "interrupted" in err


def test_json_lines_shape(differing: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "compare", "--json", *map(str, differing))
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    *changes, summary = records
    assert {(r["path"], r["status"]) for r in changes} == {
        ("changed", "changed"),
        ("gone", "left_only"),
        ("new", "right_only"),
        ("notes.txt", "changed"),
    }
    for record in changes:
        assert set(record) >= {"path", "status", "left", "right"}
        for side in ("left", "right"):
            if record[side] is not None:
                assert {"kind", "size", "mtime_ns"} <= set(record[side])
    gone = next(r for r in changes if r["path"] == "gone")
    assert gone["right"] is None and gone["left"]["kind"] == "file"
    assert summary == {
        "summary": {
            "left_only": 1,
            "right_only": 1,
            "changed": 2,
            "type_changed": 0,
            "same": 1,
            "error": 0,
            "moved": 0,
        }
    }


def test_json_all_includes_same(differing: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run_cli(capsys, "compare", "--json", "--all", *map(str, differing))
    statuses = [json.loads(line).get("status") for line in out.splitlines()]
    assert "same" in statuses


def test_json_keeps_non_utf8_names_recoverable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    left, right = tmp_path / "l", tmp_path / "r"
    left.mkdir()
    right.mkdir()
    raw = b"bad\xffname"
    with open(os.path.join(os.fsencode(left), raw), "wb"):
        pass
    _, out, _ = run_cli(capsys, "compare", "--json", str(left), str(right))
    record = json.loads(out.splitlines()[0])
    assert record["path"] == "bad\\xffname"
    import base64

    assert base64.b64decode(record["path_b64"]) == raw


def test_stat_prints_counts_only(differing: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "compare", "--stat", *map(str, differing))
    assert code == 1
    assert out.count("\n") == 1 and "2 changed" in out


def test_quiet_prints_nothing(differing: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "compare", "-q", *map(str, differing))
    assert (code, out, err) == (1, "", "")


def test_diff_shows_unified_diff_and_binary_note(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str]
) -> None:
    left = make_tree("l", {"t.txt": "one\ntwo\n", "b.bin": b"\0\1\2"})
    right = make_tree("r", {"t.txt": "one\nTWO\nthree\n", "b.bin": b"\0\1\2\3"})
    code, out, _ = run_cli(capsys, "compare", "--diff", str(left), str(right))
    assert code == 1
    assert "--- left/t.txt" in out and "+TWO" in out and "-two" in out
    assert "b.bin: binary files differ" in out


def test_content_flag_catches_silent_change(make_tree: MakeTree, capsys: pytest.CaptureFixture[str]) -> None:
    left = make_tree("l", {"a": "abc"})
    right = make_tree("r", {"a": "abd"})
    assert run_cli(capsys, "compare", str(left), str(right))[0] == 0
    assert run_cli(capsys, "compare", "--content", str(left), str(right))[0] == 1


def test_exclude_flag(make_tree: MakeTree, capsys: pytest.CaptureFixture[str]) -> None:
    left = make_tree("l", {"a": "x", "junk.tmp": "1"})
    right = make_tree("r", {"a": "x"})
    assert run_cli(capsys, "compare", "--exclude", "*.tmp", str(left), str(right))[0] == 0


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["compare", "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    for word in ("--content", "--modify-window", "--json", "exit status", "examples", "--gitignore"):
        assert word in out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "compare" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage" in capsys.readouterr().err


def test_version_and_module_entry_point(differing: tuple[Path, Path]) -> None:
    result = subprocess.run(dirkit_command("--version"), capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.strip() == f"dirkit {__version__}"
    result = subprocess.run(
        dirkit_command("compare", "--stat", *map(str, differing)),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1 and "trees differ" in result.stdout


def test_demo_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "demo", "--dir", str(tmp_path / "demo"))
    assert code == 0
    assert "only on the left" in out and "Unicode normalization" in out
    assert "cannot read" not in out + err  # text diffs are asked of files only, never of folders
    assert "+fix bike" in out


def test_exit_2_when_a_root_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    code, _, err = run_cli(capsys, "compare", str(plain), str(tmp_path))
    assert code == 2 and "plain.txt" in err and "not a directory" in err


def test_closed_pipe_stops_quietly(differing: tuple[Path, Path]) -> None:
    process = subprocess.Popen(
        dirkit_command("compare", "--json", "--all", *map(str, differing)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    with process.stderr:
        error_text = process.stderr.read().decode()
    assert process.wait(timeout=30) == EXIT_BROKEN_PIPE
    assert error_text == ""


def test_mode_difference_is_reported_with_its_reason(
    make_tree: MakeTree, capsys: pytest.CaptureFixture[str]
) -> None:
    left = make_tree("l", {"tool": "#!/bin/sh\n"})
    right = make_tree("r", {"tool": "#!/bin/sh\n"})
    os.chmod(left / "tool", 0o4777)
    os.chmod(right / "tool", 0o644)
    for flags in ([], ["--content"]):
        code, out, _ = run_cli(capsys, "compare", *flags, str(left), str(right))
        assert code == 1
        assert "mode 4777 -> 0644" in out and "trees differ" in out
        code, out, _ = run_cli(capsys, "compare", *flags, "--diff", "--json", str(left), str(right))
        records = [json.loads(line) for line in out.splitlines()]
        assert records[0]["path"] == "tool" and records[0]["status"] == "changed"
        assert records[0]["detail"] == "mode 4777 -> 0644"
        assert records[-1]["summary"]["changed"] == 1
