"""The one test command: the README and .ci/run run the same line, and its checkers are pinned exactly."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKERS = ("ruff", "mypy", "import-linter")


def readme_test_command() -> str:
    """Return the README's test command: the shell block that installs '.[test]'."""
    blocks = re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"), re.DOTALL)
    commands = [block for block in blocks if ".[test]" in block]
    assert len(commands) == 1, commands
    return str(commands[0])


def test_ci_runs_exactly_the_readme_test_command() -> None:
    command = readme_test_command()
    assert "\n" not in command
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command in ci_lines


def test_the_test_command_runs_every_checker_before_pytest() -> None:
    steps = [step.strip() for step in readme_test_command().split("&&")]
    checks = [
        ".venv/bin/ruff check src tests benchmarks",
        ".venv/bin/ruff format --check src tests benchmarks",
        ".venv/bin/mypy",
        ".venv/bin/lint-imports",
        ".venv/bin/python -m pytest -q",
    ]
    assert steps[-len(checks) :] == checks


def test_checkers_are_pinned_to_exact_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    test_extra = project["project"]["optional-dependencies"]["test"]
    for name in CHECKERS:
        requirements = [r for r in test_extra if re.split(r"[=<>~!\[ ]", r)[0] == name]
        assert len(requirements) == 1, (name, test_extra)
        assert re.fullmatch(rf"{name}==\d+(\.\d+)+", requirements[0]), requirements
    assert project["tool"]["mypy"]["strict"] is True
