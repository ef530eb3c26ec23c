"""The command lines of find, grep and dupes: output formats and every exit code."""

from __future__ import annotations

import datetime
import errno
import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from dirkit.backends import trees as trees_module
from dirkit.backends.faulty import Fault, FaultyBackend
from dirkit.backends.local import LocalBackend
from dirkit.cli import dupes as dupes_command
from dirkit.cli import find as find_command
from dirkit.cli import grep as grep_command
from dirkit.cli.main import main
from dirkit.core.tree.paths import RelPath
from dirkit.ops.search import find_local as find_local_module
from dirkit.ops.search import grep_local as grep_local_module
from tests.support import Capture, TreeSpec, build_tree, dirkit_command, run_cli, run_cli_unprivileged

TREE: TreeSpec = {
    "a.txt": "one\ntwo needle\nthree\n",
    "b.py": "print('needle')\n",
    "copy.txt": "one\ntwo needle\nthree\n",
    "empty1": "",
    "empty2": "",
    "sub/c.txt": "no match here\n",
    "sub/deep/d.bin": b"\x00needle",
}


@pytest.fixture
def tree(make_tree: Callable[..., Path]) -> Path:
    return make_tree(
        "tree",
        TREE,
    )


# find


def test_find_prints_root_relative_paths_and_exits_0(tree: Path, capsys: Capture) -> None:
    code, out, _ = run_cli(capsys, "find", str(tree), "--name", "*.txt")
    assert code == 0
    assert out.splitlines() == [f"{tree}/a.txt", f"{tree}/copy.txt", f"{tree}/sub/c.txt"]


def test_find_with_nothing_found_still_exits_0(tree: Path, capsys: Capture) -> None:
    assert run_cli(capsys, "find", str(tree), "--name", "*.none") == (0, "", "")


def test_find_long_json_and_print0(tree: Path, capsys: Capture) -> None:
    code, out, _ = run_cli(capsys, "find", str(tree), "--type", "f", "--size", "+20", "--long")
    assert code == 0
    assert out.splitlines() == [
        f"f           21 {time_of(tree / 'a.txt')} {tree}/a.txt",
        f"f           21 {time_of(tree / 'copy.txt')} {tree}/copy.txt",
    ]
    code, out, _ = run_cli(capsys, "find", str(tree), "--name", "b.py", "--json")
    record = json.loads(out)
    assert record == {"path": f"{tree}/b.py", "kind": "file", "size": 16, "mtime_ns": 1_600_000_000 * 10**9}
    code, out, _ = run_cli(capsys, "find", str(tree), "--max-depth", "1", "--type", "d", "-0")
    assert out == f"{tree}\0{tree}/sub\0"


def time_of(path: Path) -> str:
    return datetime.datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y-%m-%d %H:%M:%S")


def test_find_negative_sizes_read_as_values(tree: Path, capsys: Capture) -> None:
    code, out, _ = run_cli(capsys, "find", str(tree), "--size", "-1", "--type", "f")
    assert code == 0
    assert out.splitlines() == [f"{tree}/empty1", f"{tree}/empty2"]


def test_find_unreadable_directory_exits_1(open_folder: Path) -> None:
    tree = build_tree(open_folder / "tree", TREE)
    (tree / "sub").chmod(0)
    code, out, err = run_cli_unprivileged(open_folder / "state", "find", str(tree), "--name", "*.txt")
    assert code == 1
    assert "sub" in err and "ermission denied" in err
    assert f"{tree}/a.txt" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--size", "1X"], "bad size"),
        (["--newer", "someday"], "bad date or duration"),
        (["--type", "q"], "bad --type"),
        (["--regex", "("], "bad regular expression"),
        (["--max-depth", "-1"], "must not be negative"),
        (["--name", "a", "--iname", "b"], "either --name or --iname"),
        (["-0", "--json"], "--print0 cannot"),
    ],
)
def test_find_bad_options_exit_2(tree: Path, capsys: Capture, argv: list[str], message: str) -> None:
    code, out, err = run_cli(capsys, "find", str(tree), *argv)
    assert code == 2
    assert out == ""
    assert message in err


def test_find_missing_root_exits_2(tmp_path: Path, capsys: Capture) -> None:
    code, _, err = run_cli(capsys, "find", str(tmp_path / "missing"))
    assert code == 2
    assert "missing" in err and "no such directory" in err


# grep


def test_grep_lines_exit_0(tree: Path, capsys: Capture) -> None:
    code, out, _ = run_cli(capsys, "grep", "-n", "needle", str(tree))
    assert code == 0
    assert out.splitlines() == [
        f"{tree}/a.txt:2:two needle",
        f"{tree}/b.py:1:print('needle')",
        f"{tree}/copy.txt:2:two needle",
    ]


def test_grep_nothing_matched_exits_1(tree: Path, capsys: Capture) -> None:
    assert run_cli(capsys, "grep", "-F", "absent", str(tree)) == (1, "", "")


def test_grep_quiet_exits_on_first_match(tree: Path, capsys: Capture) -> None:
    assert run_cli(capsys, "grep", "-q", "needle", str(tree)) == (0, "", "")
    assert run_cli(capsys, "grep", "-q", "absent", str(tree)) == (1, "", "")


def test_grep_json(tree: Path, capsys: Capture) -> None:
    code, out, _ = run_cli(capsys, "grep", "--json", "-C", "1", "needle", f"{tree}/sub/..")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert records[0] == {"path": f"{tree}/sub/../a.txt", "line": 1, "kind": "context", "text": "one"}
    assert records[1]["kind"] == "match" and records[1]["line"] == 2
    code, out, _ = run_cli(capsys, "grep", "--json", "-c", "needle", str(tree))
    assert json.loads(out.splitlines()[0]) == {"path": f"{tree}/a.txt", "count": 1}
    code, out, _ = run_cli(capsys, "grep", "--json", "-l", "print", str(tree))
    assert [json.loads(line) for line in out.splitlines()] == [{"path": f"{tree}/b.py"}]


def test_grep_glob_and_colour(tree: Path, capsys: Capture) -> None:
    _, out, _ = run_cli(capsys, "grep", "-l", "--glob", "*.py", "needle", str(tree))
    assert out.splitlines() == [f"{tree}/b.py"]
    _, out, _ = run_cli(capsys, "grep", "--color", "always", "needle", str(tree / "sub"), str(tree))
    assert "\x1b[31mneedle\x1b[0m" in out
    assert "\x1b[35m" in out


def test_grep_binary_text(tree: Path, capsys: Capture) -> None:
    code, out, _ = run_cli(capsys, "grep", "-l", "--binary", "text", "needle", str(tree / "sub"))
    assert (code, out) == (0, f"{tree}/sub/deep/d.bin\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["("], "bad regular expression"),
        (["-l", "-c", "x"], "-l and -c"),
        (["-C", "-1", "x"], "must not be negative"),
        (["-j", "0", "x"], "--jobs"),
    ],
)
def test_grep_bad_options_exit_2(tree: Path, capsys: Capture, argv: list[str], message: str) -> None:
    code, _, err = run_cli(capsys, "grep", *argv, str(tree))
    assert code == 2
    assert message in err


def test_grep_missing_root_exits_2(tmp_path: Path, capsys: Capture) -> None:
    assert run_cli(capsys, "grep", "x", str(tmp_path / "nope"))[0] == 2


def test_grep_unreadable_file_exits_2_after_printing_matches(open_folder: Path) -> None:
    tree = build_tree(open_folder / "tree", TREE)
    (tree / "copy.txt").chmod(0)
    code, out, err = run_cli_unprivileged(open_folder / "state", "grep", "needle", str(tree))
    assert code == 2
    assert "copy.txt" in err
    assert "a.txt" in out


# dupes


def test_dupes_groups_exit_1(tree: Path, capsys: Capture) -> None:
    code, out, _ = run_cli(capsys, "dupes", str(tree))
    assert code == 1
    assert out == f"{tree}/a.txt\n{tree}/copy.txt\n\n"


def test_dupes_none_exits_0(tree: Path, capsys: Capture) -> None:
    assert run_cli(capsys, "dupes", str(tree / "sub")) == (0, "", "")


def test_dupes_json_empty_and_min_size(tree: Path, capsys: Capture) -> None:
    _, out, _ = run_cli(capsys, "dupes", "--json", "--empty", str(tree))
    assert [json.loads(line) for line in out.splitlines()] == [
        {"size": 21, "files": [f"{tree}/a.txt", f"{tree}/copy.txt"]},
        {"size": 0, "files": [f"{tree}/empty1", f"{tree}/empty2"]},
    ]
    assert run_cli(capsys, "dupes", "--min-size", "1k", str(tree))[0] == 0


def test_dupes_dry_run_prints_the_plan(tree: Path, capsys: Capture) -> None:
    code, out, _ = run_cli(capsys, "dupes", "--remove", "--dry-run", str(tree))
    assert code == 1
    assert out == f"remove {tree}/copy.txt (keeping {tree}/a.txt)\n"
    code, out, _ = run_cli(
        capsys, "dupes", "--link", "--dry-run", "--keep", "shortest-path", "--json", str(tree)
    )
    assert json.loads(out) == {"action": "link", "path": f"{tree}/copy.txt", "keep": f"{tree}/a.txt"}


@pytest.mark.parametrize("action", ["--link", "--remove"])
def test_dupes_actions_are_carried_out_and_undone(tree: Path, capsys: Capture, action: str) -> None:
    code, out, err = run_cli(capsys, "dupes", action, str(tree))
    assert (code, err) == (0, "")
    assert f"dupes-{action[2:]} run" in out
    assert os.path.exists(tree / "copy.txt") == (action == "--link")
    assert run_cli(capsys, "undo", str(tree))[0] == 0
    assert (tree / "copy.txt").read_text() == "one\ntwo needle\nthree\n"
    assert os.stat(tree / "copy.txt").st_nlink == 1


def test_dupes_bad_options_exit_2(tree: Path, capsys: Capture) -> None:
    assert run_cli(capsys, "dupes", "--min-size", "lots", str(tree))[0] == 2
    assert run_cli(capsys, "dupes", str(tree / "missing"))[0] == 2


# help and subprocesses


@pytest.mark.parametrize("command", ["find", "grep", "dupes"])
def test_help_teaches(command: str, capsys: Capture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "exit status:" in text
    assert "examples:" in text


def test_subprocess_runs(tree: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    found = subprocess.run(
        dirkit_command("grep", "-c", "needle", str(tree)),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert found.returncode == 0
    assert f"{tree}/a.txt:1" in found.stdout.splitlines()
    dupes = subprocess.run(
        dirkit_command("dupes", "--remove", str(tree), str(tree / "sub")),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert dupes.returncode == 2
    assert dupes.stderr.count("\n") == 1
    assert "overlaps" in dupes.stderr


# unreadable directories, through the fault-injecting backend (works even when running as root)


def unreadable_sub(monkeypatch: pytest.MonkeyPatch, module: object) -> None:
    """Make the CLI module open trees whose 'sub' directory cannot be listed."""

    def open_faulty(location: str, must_exist: bool = True, remote: object = None) -> FaultyBackend:
        return FaultyBackend(
            LocalBackend(location, must_exist), [Fault("list_dir", errno.EACCES, path=RelPath("sub"))]
        )

    if hasattr(module, "open_tree"):
        monkeypatch.setattr(module, "open_tree", open_faulty)
    else:  # the command imports it when it first opens a tree through the backends
        monkeypatch.setattr(trees_module, "open_tree", open_faulty)


def test_find_exits_1_when_a_directory_cannot_be_read(
    tree: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreadable_sub(monkeypatch, find_command)
    # an --exclude takes find through the backends and the scanner (not the lean local walk)
    code, out, err = run_cli(capsys, "find", str(tree), "--name", "*.txt", "--exclude", "*.none")
    assert code == 1
    assert err == f"dirkit: {tree}/sub: cannot list directory: Permission denied\n"
    assert out.splitlines() == [f"{tree}/a.txt", f"{tree}/copy.txt"]


@pytest.mark.parametrize("workers", [1, 2])
def test_the_lean_find_reports_an_unreadable_directory_in_its_place(
    open_folder: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    tree = build_tree(open_folder / "tree", {**TREE, "sub2/e.txt": "e\n", "zz.txt": "z\n"})
    (tree / "sub").chmod(0)
    monkeypatch.setattr(find_command, "MAX_WALKERS", workers)
    code, out, err = run_cli_unprivileged(open_folder / "state", "find", str(tree), "--name", "*.txt")
    assert code == 1
    assert err == f"dirkit: {tree}/sub: cannot list directory: Permission denied\n"
    assert out.splitlines() == [f"{tree}/a.txt", f"{tree}/copy.txt", f"{tree}/sub2/e.txt", f"{tree}/zz.txt"]


def test_grep_exits_2_when_a_directory_cannot_be_read(
    tree: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreadable_sub(monkeypatch, grep_command)
    # an --exclude takes grep through the backends and the scanner (not the forked local search)
    code, out, err = run_cli(capsys, "grep", "-l", "needle", str(tree), "--exclude", "*.none")
    assert code == 2
    assert "sub: cannot list directory" in err
    assert f"{tree}/a.txt" in out.splitlines()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_local_grep_reports_unreadable_folders_and_files_in_their_place(
    open_folder: Path, jobs: str
) -> None:
    tree = build_tree(open_folder / "tree", {**TREE, "sub2/e.txt": "needle\n", "zz.txt": "needle\n"})
    (tree / "sub").chmod(0)
    (tree / "copy.txt").chmod(0)
    argv = ["grep", "-j", jobs, "-n", "needle", str(tree)]
    code, out, err = run_cli_unprivileged(open_folder / "state", *argv)
    assert code == 2
    assert err == (
        f"dirkit: {tree}/copy.txt: Permission denied\n"
        f"dirkit: {tree}/sub: cannot list directory: Permission denied\n"
    )
    assert out.splitlines() == [
        f"{tree}/a.txt:2:two needle",
        f"{tree}/b.py:1:print('needle')",
        f"{tree}/sub2/e.txt:1:needle",
        f"{tree}/zz.txt:1:needle",
    ]


def test_dupes_exits_2_when_a_directory_cannot_be_read(
    tree: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreadable_sub(monkeypatch, dupes_command)
    code, out, err = run_cli(capsys, "dupes", str(tree))
    assert code == 2
    assert "sub: cannot list directory" in err
    assert out == f"{tree}/a.txt\n{tree}/copy.txt\n\n"


def test_grep_and_dupes_name_files_that_cannot_be_read(
    tree: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def open_faulty(location: str, must_exist: bool = True, remote: object = None) -> FaultyBackend:
        fault = Fault("open_read", errno.EACCES, path=RelPath("copy.txt"))
        return FaultyBackend(LocalBackend(location, must_exist), [fault])

    monkeypatch.setattr(grep_command, "open_tree", open_faulty)
    monkeypatch.setattr(dupes_command, "open_tree", open_faulty)
    code, out, err = run_cli(capsys, "grep", "-c", "needle", str(tree), "--exclude", "*.none")
    assert code == 2
    assert err == f"dirkit: {tree}/copy.txt: Permission denied\n"
    assert f"{tree}/a.txt:1" in out.splitlines()
    code, out, err = run_cli(capsys, "dupes", str(tree))
    assert (code, out) == (2, "")
    assert err == f"dirkit: {tree}/copy.txt: Permission denied\n"


def test_grep_json_keeps_bytes_that_are_not_utf8(tmp_path: Path, capsys: Capture) -> None:
    (tmp_path / "latin1.txt").write_bytes("caf\u00e9 needle\n".encode("latin-1"))
    code, out, _ = run_cli(capsys, "grep", "--json", "needle", str(tmp_path))
    assert code == 0
    record = json.loads(out)
    assert record["text"] == "caf\ufffd needle"
    assert record["text_b64"] == "Y2Fm6SBuZWVkbGU="


def test_grep_searches_single_files_too(tree: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree)
    (tree / "link.txt").symlink_to("a.txt")
    code, out, _ = run_cli(capsys, "grep", "-n", "needle", "a.txt", "link.txt", "sub")
    assert code == 0
    assert out.splitlines() == ["a.txt:2:two needle", "link.txt:2:two needle"]
    code, _, err = run_cli(capsys, "grep", "needle", "missing.txt")
    assert code == 2
    assert err == "dirkit: missing.txt: No such file or directory\n"


@pytest.mark.parametrize(
    ("command", "module", "function"),
    [
        ("find", find_local_module, "find_local"),
        ("grep", grep_local_module, "grep_local"),
        ("dupes", dupes_command, "find_duplicates"),
    ],
)
def test_interrupted_exits_130(
    tree: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch, command: str, module: object, function: str
) -> None:
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(module, function, interrupted)
    argv = [command, "x", str(tree)] if command == "grep" else [command, str(tree)]
    code, _, err = run_cli(capsys, *argv)
    assert code == 130
    assert err == "dirkit: interrupted\n"


def test_ctrl_c_stops_worker_processes_quietly(tmp_path: Path) -> None:
    # 4000 counts of 270 bytes: more than a pipe holds, so grep cannot finish while nobody reads its output
    for index in range(400):
        (tmp_path / f"f{index:03}{'n' * 200}.txt").write_text("line\n" * 20)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    child = subprocess.Popen(
        dirkit_command("grep", "-c", "e", *[str(tmp_path)] * 10),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert child.stdout is not None
    child.stdout.readline()
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130
    assert err.endswith(b"dirkit: interrupted\n"), err
