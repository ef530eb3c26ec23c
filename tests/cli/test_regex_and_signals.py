"""Catastrophic regexes stay bounded, and Ctrl-C or SIGTERM stops grep and all its workers at once."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import pytest

from dirkit.cli.main import main
from dirkit.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK
from tests.support import dirkit_command, wait_until

EVIL = "(a+)+$"
SLOW_BUT_LINEAR = "(a|b)*a(a|b){25}x"
"""RE2 cannot build a DFA for this, so it searches slowly (but linearly): the workers stay busy."""
STOP_SECONDS = 30
"""A bound on a hang, not a measure of speed: grep ends only by killing its stopped workers."""


def children_of(pid: int) -> set[int]:
    """Return the pids of the live processes whose parent is pid (read from /proc)."""
    found: set[int] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as stream:
                fields = stream.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != b"Z":
            found.add(int(name))
    return found


def state_of(pid: int) -> bytes:
    """Return a process's state letter from /proc (T when stopped, Z for a zombie), or b"" once gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            return stream.read().rsplit(b")", 1)[1].split()[0]
    except OSError:
        return b""


def alive(pid: int) -> bool:
    """Tell whether a process exists and is not a zombie."""
    return state_of(pid) not in (b"", b"Z")


def signal_set(pid: int, field: str) -> set[int]:
    """Return the signals in a process's SigIgn or SigCgt mask (from /proc; empty once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as stream:
            line = next(line for line in stream if line.startswith(f"{field}:"))
    except (OSError, StopIteration):
        return set()
    mask = int(line.split()[1], 16)
    return {number for number in range(1, 65) if mask >> (number - 1) & 1}


def handles_interrupts(process: int, workers: set[int]) -> bool:
    """Tell whether grep catches SIGINT and SIGTERM and every worker ignores both (its start-up is over)."""
    wanted = {signal.SIGINT, signal.SIGTERM}
    return wanted <= signal_set(process, "SigCgt") and all(
        wanted <= signal_set(worker, "SigIgn") for worker in workers
    )


@pytest.fixture(scope="module")
def busy_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a tree of 300 files of random a/b bytes: more than one batch for each of two workers."""
    root = tmp_path_factory.mktemp("busy")
    table = bytes(b"ab"[value & 1] for value in range(256))
    for number in range(300):
        (root / f"f{number:03}.txt").write_bytes(os.urandom(100_000).translate(table))
    return root


def start_busy_grep(tree: Path) -> tuple[subprocess.Popen[bytes], set[int]]:
    """Start grep in its own process group; return it and its workers once they run."""
    process = subprocess.Popen(
        dirkit_command("grep", "-l", "-j", "2", SLOW_BUT_LINEAR, str(tree)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    workers: set[int] = set()
    if (os.cpu_count() or 1) > 1:
        assert wait_until(lambda: len(children_of(process.pid)) >= 2, 20), "grep started no workers"
        workers = children_of(process.pid)
    assert wait_until(lambda: handles_interrupts(process.pid, workers), 20), "grep never set up its signals"
    # stopped workers can never finish their batches: grep can only end now by killing them, however slow
    # or loaded the machine is
    for worker in workers:
        os.kill(worker, signal.SIGSTOP)
    assert wait_until(lambda: all(state_of(worker) == b"T" for worker in workers), 20), "workers not stopped"
    assert process.poll() is None, "grep finished before it could be interrupted"
    return process, workers


def assert_all_stopped(process: subprocess.Popen[bytes], workers: set[int]) -> tuple[int, bytes]:
    """Assert the process and its stopped workers end; return the exit code and standard error."""
    try:
        code = process.wait(timeout=STOP_SECONDS)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        workers_gone = wait_until(lambda: not any(alive(pid) for pid in workers), STOP_SECONDS)
        if not workers_gone:
            # a worker left behind holds the stderr pipe: kill it so the test fails instead of hanging
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        _, stderr = process.communicate(timeout=STOP_SECONDS)
    assert workers_gone, "workers still there"
    return code, stderr


def test_ctrl_c_to_the_process_group_stops_grep_and_its_workers(busy_tree: Path) -> None:
    process, workers = start_busy_grep(busy_tree)
    os.killpg(process.pid, signal.SIGINT)
    code, stderr = assert_all_stopped(process, workers)
    assert code == EXIT_INTERRUPTED
    assert b"interrupted" in stderr
    assert b"Traceback" not in stderr


def test_sigterm_to_grep_stops_its_workers_with_exit_130(busy_tree: Path) -> None:
    process, workers = start_busy_grep(busy_tree)
    process.terminate()
    code, stderr = assert_all_stopped(process, workers)
    assert code == EXIT_INTERRUPTED
    assert b"Traceback" not in stderr


def test_workers_die_when_grep_is_killed(busy_tree: Path) -> None:
    process, workers = start_busy_grep(busy_tree)
    process.kill()
    assert assert_all_stopped(process, workers)[0] == -signal.SIGKILL


@pytest.mark.parametrize(
    "arguments",
    [
        ["grep", EVIL],
        ["grep", "-c", "-w", EVIL],
        ["grep", "-i", "-j", "2", EVIL],
        ["find", "--regex", "^" + EVIL],
    ],
    ids=["grep", "grep -w", "grep -i -j2", "find --regex"],
)
def test_catastrophic_patterns_finish_at_once(tmp_path: Path, arguments: list[str]) -> None:
    evil_name = "a" * 40 + "!"
    (tmp_path / evil_name).write_text("a" * 40 + "!\n" + "a" * 30 + "\n")
    for number in range(5):
        (tmp_path / f"more{number}.txt").write_text(("a" * 60 + "b\n") * 20)
    result = subprocess.run(
        dirkit_command(*arguments, str(tmp_path)), capture_output=True, timeout=20, check=False
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert b"Traceback" not in result.stderr
    if arguments[0] == "find":
        assert result.stdout == b""
    else:
        assert evil_name.encode() in result.stdout


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["grep", r"(a)\1"], "backreferences"),
        (["grep", "(?<=a)b"], "lookbehind"),
        (["grep", "a(?=b)"], "lookahead"),
        (["find", "--regex", r"(x)\1"], "backreferences"),
    ],
    ids=["backreference", "lookbehind", "lookahead", "find backreference"],
)
def test_patterns_that_need_backtracking_are_refused(
    tmp_path: Path, arguments: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.txt").write_text("aab\n")
    assert main([*arguments, str(tmp_path)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"bad regular expression {arguments[-1]!r}" in err
    assert reason in err
    assert "linear time" in err
