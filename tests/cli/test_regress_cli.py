"""`dirkit regress` from the command line: lines, details, exit codes, --json, --junit, -k, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from dirkit.cli.main import main
from dirkit.errors import EXIT_DIFFERENCES, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK
from tests.ops.regress_suites import alive, descendants_of, write_script, write_suite
from tests.support import wait_until


def regress(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str]:
    code = main(["regress", *arguments])
    return code, capsys.readouterr().out


def test_lines_details_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_suite(tmp_path / "suite", {"one": "echo one > f.txt; echo one", "two": "echo two"})
    code, out = regress(capsys, str(root))
    assert code == EXIT_OK
    lines = out.splitlines()
    assert lines[:-1] == ["NEW     one  (recorded)", "NEW     two  (recorded)", ""]
    assert lines[-1].startswith("0 passed, 2 new (2 recorded) in ")
    write_script(root / "one", "echo ONE > f.txt; echo one; exit 2")
    code, out = regress(capsys, "-j", "1", str(root))
    assert code == EXIT_DIFFERENCES
    lines = out.splitlines()
    assert lines[:2] == ["FAILED  one  (exit status 0 -> 2, tree (1 path))", "PASSED  two"]
    assert "=== FAILED one" in lines
    assert "exit status: expected 0, got 2" in lines
    assert "  M f.txt  changed  (content differs)" in lines
    assert "-one" in lines and "+ONE" in lines
    assert lines[-1].startswith("1 passed, 1 failed in ")
    code, out = regress(capsys, "-k", "tw", str(root))
    assert (code, out.splitlines()[0]) == (EXIT_OK, "PASSED  two")
    code, _ = regress(capsys, "--update", str(root))
    assert code == EXIT_OK
    assert regress(capsys, "--check", "-q", str(root)) == (EXIT_OK, "")


def test_errors_and_timeouts_set_the_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = '[cases.hang]\ncommand = ["sleep", "10"]\ntimeout = 0.3\n'
    root = write_suite(tmp_path / "suite", {"crash": "kill -ABRT $$"}, config)
    code, out = regress(capsys, str(root))
    assert code == EXIT_ERROR
    assert "ERROR   crash  (crashed: killed by signal 6)" in out.splitlines()
    assert "TIMEOUT hang  (killed after its timeout of 0.3 s)" in out.splitlines()
    code, _ = regress(capsys, "-k", "hang", str(root))
    assert code == EXIT_DIFFERENCES


def test_check_fails_a_case_without_expectation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_suite(tmp_path / "suite", {"fresh": "echo hi"})
    code, out = regress(capsys, "--check", str(root))
    assert (code, out.splitlines()[0]) == (EXIT_DIFFERENCES, "NEW     fresh  (no expectation saved)")
    assert not (root / ".expected").exists()


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["regress", str(empty)]) == EXIT_ERROR
    assert "no case found" in capsys.readouterr().err
    broken = write_suite(tmp_path / "broken", {}, "[cases.a]\ncommand = 3\n")
    assert main(["regress", str(broken)]) == EXIT_ERROR
    assert "cases.a: 'command' must be" in capsys.readouterr().err
    assert main(["regress", str(tmp_path / "missing")]) == EXIT_ERROR
    assert main(["regress", "-j", "0", str(broken)]) == EXIT_ERROR
    both = write_suite(tmp_path / "both", {"a": "true"}, '[cases.a]\ncommand = "true"\n')
    assert main(["regress", str(both)]) == EXIT_ERROR
    assert "both a file and an entry" in capsys.readouterr().err


def test_glob_with_an_interpreter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "scripts"
    root.mkdir()
    (root / "hello.py").write_text("print('hello from python')\n")
    (root / "notes.txt").write_text("not a case\n")
    code, out = regress(capsys, "--glob", "*.py", "--interpreter", sys.executable, str(root))
    assert (code, out.splitlines()[0]) == (EXIT_OK, "NEW     hello.py  (recorded)")
    assert (root / ".expected" / "hello.py" / "stdout").read_text() == "hello from python\n"
    code, out = regress(capsys, "--glob", "*.py", str(root))
    assert code == EXIT_ERROR
    assert out.splitlines()[0].startswith("ERROR   hello.py  (cannot start ")


def test_json_and_junit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_suite(tmp_path / "suite", {"a": "echo a", "b": "printf 'b\\033[0m\\n'"})
    regress(capsys, str(root))
    write_script(root / "a", "echo A")
    write_script(root / "b", "printf 'B\\033[0m\\n'")
    report = tmp_path / "report.xml"
    code, out = regress(capsys, "--json", "--junit", str(report), str(root))
    assert code == EXIT_DIFFERENCES
    records = [json.loads(line) for line in out.splitlines()]
    assert [record.get("case") for record in records[:2]] == ["a", "b"]
    assert records[0]["verdict"] == "failed" and "+A" in records[0]["streams"]["stdout"]
    assert records[0]["exit_status"] == {"expected": 0, "actual": 0}
    assert records[-1]["summary"]["counts"]["failed"] == 2 and not records[-1]["summary"]["all_passed"]
    suite = ElementTree.parse(report).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "2")
    failure = suite.find("testcase[@name='b']/failure")
    assert failure is not None and failure.text is not None and "+B\\x1b[0m" in failure.text


def test_ctrl_c_kills_every_case_and_exits_130(tmp_path: Path) -> None:
    body = "sleep 60 & sleep 60 & wait"
    root = write_suite(tmp_path / "suite", {"first": body, "second": body})
    temp = tmp_path / "temp"
    temp.mkdir()
    entry = "import sys; from dirkit.cli.main import main; sys.exit(main())"
    process = subprocess.Popen(
        [sys.executable, "-c", entry, "regress", "-j", "2", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "TMPDIR": str(temp)},
    )
    try:
        sleepers: set[int] = set()

        def four_sleepers() -> bool:
            sleepers.update(descendants_of(process.pid))
            return len(sleepers) >= 6  # two shells, four sleeps

        assert wait_until(four_sleepers, 20.0), sleepers
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == EXIT_INTERRUPTED, stderr
    assert b"interrupted" in stderr
    assert wait_until(lambda: not any(alive(pid) for pid in sleepers), 5.0)
    assert not (root / ".expected").exists()
    assert os.listdir(temp) == []


def test_a_case_name_that_is_not_utf8_is_shown_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = write_suite(tmp_path / "suite", {})
    write_script(Path(os.fsdecode(bytes(root) + b"/bad\xff")), "echo hi")
    code, out = regress(capsys, str(root))
    assert (code, out.splitlines()[0]) == (EXIT_OK, "NEW     bad\\xff  (recorded)")
    assert regress(capsys, "--json", str(root))[1].splitlines()[0].startswith('{"case": "bad\\udcff"')
