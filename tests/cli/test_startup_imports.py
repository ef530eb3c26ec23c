"""Each command imports only what it uses: find and grep start without the heavy modules they never need."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import atexit, json, sys
from dirkit.cli.main import main
atexit.register(lambda: sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
raise SystemExit(main(sys.argv[1:]))
"""
"""Runs dirkit in a fresh interpreter and reports every module loaded when it exits (the probe's own
json import comes first, so json is not judged)."""


def modules_loaded_by(*arguments: str) -> set[str]:
    """Return the modules a fresh `dirkit ARGUMENTS` had loaded by the time it exited."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *arguments], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode in (0, 1), done.stderr
    line = next(line for line in done.stderr.splitlines() if line.startswith("MODULES "))
    return set(json.loads(line.removeprefix("MODULES ")))


NEVER_FOR_FIND = {
    "pathspec",
    "re2",
    "sqlite3",
    "blake3",
    "hashlib",
    "secrets",
    "random",
    "tarfile",
    "zipfile",
    "concurrent.futures",
    "multiprocessing",
    "socket",
    "ssl",
    "ftplib",
    "dirkit.state.journal",
    "dirkit.ops.run.execute",
    "dirkit.core.compare.diff",
    "dirkit.core.run.plan",
    "logging",
    "ctypes",
    "urllib.parse",
    "netrc",
    "base64",
    "dirkit.ops.search.find",
    "dirkit.ops.tree.workers",
    "dirkit.report.search",
}
"""find by name on a local tree walks with os.scandir (ops/search/find_local.py): no backend scan,
no process pool (its forked workers need neither logging nor ctypes in the main process)."""

NEVER_FOR_GREP = {
    "pathspec",
    "sqlite3",
    "blake3",
    "hashlib",
    "tarfile",
    "zipfile",
    "concurrent.futures",
    "multiprocessing",
    "logging",
    "ctypes",
    "socket",
    "ssl",
    "ftplib",
    "urllib.parse",
    "netrc",
    "dirkit.state.journal",
    "dirkit.ops.run.execute",
    "dirkit.ops.tree.workers",
}
"""grep on a local tree forks its own workers (ops/search/forked_units.py): no pool machinery."""


@pytest.mark.parametrize("criteria", [["--name", "*.txt"], ["--help"]])
def test_find_loads_no_regex_engine_cache_or_executor(tmp_path: Path, criteria: list[str]) -> None:
    (tmp_path / "a.txt").write_text("x")
    loaded = modules_loaded_by("find", str(tmp_path), *criteria)
    assert NEVER_FOR_FIND & loaded == set()


def test_find_regex_loads_re2_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    assert "re2" in modules_loaded_by("find", str(tmp_path), "--regex", "a")


def test_grep_loads_no_glob_engine_cache_or_executor(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("needle\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("needle\n")
    for arguments in (["needle"], ["-F", "-n", "needle"], ["-c", "-j", "2", "need+le"]):
        loaded = modules_loaded_by("grep", *arguments, str(tmp_path))
        assert NEVER_FOR_GREP & loaded == set(), arguments


@pytest.mark.parametrize("arguments", [["--version"], ["--help"]])
def test_version_and_help_import_no_command(arguments: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *arguments], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stderr.splitlines() if line.startswith("MODULES "))
    loaded = set(json.loads(line.removeprefix("MODULES ")))
    assert {module for module in loaded if module.startswith("dirkit.cli.")} == {"dirkit.cli.main"}


def test_the_summaries_shown_without_a_command_are_the_commands_own() -> None:
    from dirkit.cli.main import build_parser

    assert build_parser([]).format_help() == build_parser(None).format_help()
