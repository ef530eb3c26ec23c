"""`dirkit regress` cases run as real processes: every verdict, normalization, update, check, isolation."""

from __future__ import annotations

import os
from pathlib import Path

from dirkit.core.compare.diff import Status
from dirkit.core.regress.verdict import CaseResult, Verdict
from dirkit.ops.regress.runner import RunOptions, run_suite
from dirkit.ops.regress.suite import load_suite
from tests.ops.regress_suites import alive, write_script, write_suite
from tests.support import wait_until


def run(root: Path, **options: object) -> dict[str, CaseResult]:
    suite = load_suite(str(root))
    chosen = RunOptions(**{"jobs": 2, **options})  # type: ignore[arg-type]
    return {result.name: result for result in run_suite(suite, suite.cases, chosen, os.environ)}


def test_first_run_records_and_second_run_passes(tmp_path: Path) -> None:
    root = write_suite(tmp_path / "suite", {"hello": "echo hello; echo warn >&2; echo x > out.txt; exit 3"})
    first = run(root)["hello"]
    assert (first.verdict, first.recorded) == (Verdict.NEW, True)
    expected = root / ".expected" / "hello"
    assert (expected / "stdout").read_text() == "hello\n"
    assert (expected / "stderr").read_text() == "warn\n"
    assert (expected / "exit-status").read_text() == "3\n"
    assert (expected / "tree" / "out.txt").read_text() == "x\n"
    assert not (expected / "tree" / ".tmp").exists()
    second = run(root)["hello"]
    assert (second.verdict, second.recorded) == (Verdict.PASSED, False)


def test_each_kind_of_change_fails_with_its_reason(tmp_path: Path) -> None:
    scripts = {
        "out": "echo one",
        "err": "echo one >&2",
        "status": "exit 0",
        "added": "echo a > a.txt",
        "removed": "echo a > a.txt; echo b > b.txt",
        "changed": "echo a > a.txt",
    }
    root = write_suite(tmp_path / "suite", scripts)
    assert {result.verdict for result in run(root).values()} == {Verdict.NEW}
    changed_scripts = {
        "out": "echo two",
        "err": "echo two >&2",
        "status": "exit 4",
        "added": "echo a > a.txt; mkdir d; echo c > d/c.txt",
        "removed": "echo a > a.txt",
        "changed": "echo A > a.txt",
    }
    for name, body in changed_scripts.items():
        write_script(root / name, body)
    results = run(root)
    assert all(result.verdict is Verdict.FAILED for result in results.values())
    assert [diff.stream for diff in results["out"].stream_diffs] == ["stdout"]
    assert "-one" in results["out"].stream_diffs[0].lines and "+two" in results["out"].stream_diffs[0].lines
    assert [diff.stream for diff in results["err"].stream_diffs] == ["stderr"]
    assert (results["status"].expected_status, results["status"].actual_status) == (0, 4)
    assert results["status"].reasons() == ["exit status 0 -> 4"]
    assert [(c.status, c.path) for c in results["added"].tree_changes] == [(Status.RIGHT_ONLY, "d/c.txt")]
    assert [(c.status, c.path) for c in results["removed"].tree_changes] == [(Status.LEFT_ONLY, "b.txt")]
    changed = results["changed"]
    assert [(c.status, c.path) for c in changed.tree_changes] == [(Status.CHANGED, "a.txt")]
    assert "-a" in changed.text_diffs[0].lines and "+A" in changed.text_diffs[0].lines
    assert changed.text_diffs[0].lines[:2] == ("--- expected/tree/a.txt", "+++ actual/tree/a.txt")
    assert not any(result.recorded for result in results.values())


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    root = write_suite(
        tmp_path / "suite",
        {},
        config=f'[cases.hang]\ncommand = "sleep 30 & echo $! > {pid_file}; wait"\ntimeout = 0.5\n',
    )
    result = run(root)["hang"]
    assert result.verdict is Verdict.TIMEOUT
    assert result.message == "killed after its timeout of 0.5 s"
    assert not result.recorded and not (root / ".expected" / "hang").exists()
    grandchild = int(pid_file.read_text())
    assert wait_until(lambda: not alive(grandchild), 5.0)


def test_crash_and_a_command_that_cannot_start_are_errors(tmp_path: Path) -> None:
    config = '[cases.missing]\ncommand = ["/nonexistent/program"]\n'
    root = write_suite(tmp_path / "suite", {"crash": "echo before; kill -SEGV $$"}, config)
    results = run(root)
    assert results["crash"].verdict is Verdict.ERROR
    assert results["crash"].message == "crashed: killed by signal 11"
    assert results["missing"].verdict is Verdict.ERROR
    assert results["missing"].message is not None and "cannot start" in results["missing"].message
    assert not (root / ".expected").exists()


def test_check_never_records_and_update_accepts(tmp_path: Path) -> None:
    root = write_suite(tmp_path / "suite", {"case": "echo one > f.txt; echo one"})
    checked = run(root, check=True)["case"]
    assert (checked.verdict, checked.recorded, checked.is_failure) == (Verdict.NEW, False, True)
    assert not (root / ".expected").exists()
    run(root)
    write_script(root / "case", "echo two > f.txt; echo two")
    assert run(root, check=True)["case"].verdict is Verdict.FAILED
    updated = run(root, update=True)["case"]
    assert (updated.verdict, updated.recorded, updated.is_failure) == (Verdict.FAILED, True, False)
    assert (root / ".expected" / "case" / "tree" / "f.txt").read_text() == "two\n"
    assert run(root, check=True)["case"].verdict is Verdict.PASSED
    assert sorted(os.listdir(root / ".expected")) == ["case"]


def test_output_is_normalized_before_it_is_compared(tmp_path: Path) -> None:
    body = (
        'pwd; echo "$HOME $TMPDIR"; echo "suite $REGRESS_DIR"; date -u +%Y-%m-%dT%H:%M:%S;'
        " echo took $(od -An -N1 -tu1 /dev/urandom | tr -d ' ').25s;"
        " echo id $(od -An -N8 -tx1 /dev/urandom | tr -d ' \\n')ab; echo pid=$$"
    )
    config = "replace = [['pid=[0-9]+', 'pid=N']]\n"
    root = write_suite(tmp_path / "suite", {"noisy": body}, config)
    run(root)
    stdout = (root / ".expected" / "noisy" / "stdout").read_text()
    assert stdout == (
        "[WORKDIR]\n[WORKDIR]/.home [WORKDIR]/.tmp\nsuite [SUITE]\n[DATE]T[TIME]\n"
        "took [DURATION]\nid [HEX]\npid=N\n"
    )
    assert run(root)["noisy"].verdict is Verdict.PASSED


def test_pattern_lines_match_and_survive_an_update(tmp_path: Path) -> None:
    root = write_suite(tmp_path / "suite", {"random": "echo value=$$; echo fixed; echo file.$$.log"})
    run(root)
    stdout = root / ".expected" / "random" / "stdout"
    stdout.write_text("value=[0-9]+ (re)\nfixed\nfile.*.log (glob)\n")
    assert run(root)["random"].verdict is Verdict.PASSED
    write_script(root / "random", "echo value=$$; echo changed; echo file.$$.log")
    assert run(root, update=True)["random"].recorded
    assert stdout.read_text() == "value=[0-9]+ (re)\nchanged\nfile.*.log (glob)\n"


def test_parallel_cases_writing_the_same_file_do_not_interfere(tmp_path: Path) -> None:
    scripts = {
        name: f"echo {name} > shared.txt; sleep 0.2; cat shared.txt; cat $HOME/../shared.txt"
        for name in ("alpha", "beta", "gamma", "delta")
    }
    root = write_suite(tmp_path / "suite", scripts)
    run(root, jobs=4)
    for name in scripts:
        assert (root / ".expected" / name / "stdout").read_text() == f"{name}\n{name}\n"
        assert (root / ".expected" / name / "tree" / "shared.txt").read_text() == f"{name}\n"
    assert all(result.verdict is Verdict.PASSED for result in run(root, jobs=4).values())


def test_input_folder_is_copied_and_environment_applied(tmp_path: Path) -> None:
    config = (
        'env = { GREETING = "hi" }\n'
        '[cases.edit]\ncommand = "cat in.txt; echo $GREETING $WHO; rm gone.txt; echo new >> in.txt"\n'
        'input = "inputs/edit"\nenv = { WHO = "you" }\nexclude = ["*.log"]\n'
    )
    root = write_suite(tmp_path / "suite", {}, config)
    (root / "inputs" / "edit").mkdir(parents=True)
    (root / "inputs" / "edit" / "in.txt").write_text("given\n")
    (root / "inputs" / "edit" / "gone.txt").write_text("bye\n")
    (root / "inputs" / "edit" / "noise.log").write_text("left out\n")
    assert run(root)["edit"].verdict is Verdict.NEW
    expected = root / ".expected" / "edit"
    assert (expected / "stdout").read_text() == "given\nhi you\n"
    assert sorted(os.listdir(expected / "tree")) == ["in.txt"]
    assert (root / "inputs" / "edit" / "gone.txt").exists()
    assert run(root)["edit"].verdict is Verdict.PASSED


def test_a_case_never_sees_what_an_earlier_case_left(tmp_path: Path) -> None:
    scripts = {
        "a-writer": "echo left > behind.txt; mkdir -p $HOME/.cache; touch $TMPDIR/t; chmod 700 .",
        "b-reader": "ls -A; ls -A $HOME $TMPDIR",
        "c-reader": "ls -A; ls -A $HOME $TMPDIR",
    }
    root = write_suite(tmp_path / "suite", scripts)
    run(root, jobs=1)
    for name in ("b-reader", "c-reader"):
        listing = (root / ".expected" / name / "stdout").read_text()
        assert listing == ".home\n.tmp\n[WORKDIR]/.home:\n\n[WORKDIR]/.tmp:\n"
