"""The options several commands share behave the same in every command that has them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from dirkit.cli.main import COMMANDS, build_parser, main
from tests.support import Capture, MakeTree


def options_of(command: str) -> set[str]:
    """Return every option string of one command's parser."""
    parser = build_parser([command])
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return {option for action in commands.choices[command]._actions for option in action.option_strings}


@pytest.fixture
def place(make_tree: MakeTree, tmp_path: Path) -> dict[str, str]:
    """Return the arguments the commands below need: trees, a checksum file, a saved plan."""
    source = make_tree("src", {"a": "alpha"})
    target = make_tree("dst", {"a": "old"}, mtime=1_500_000_000)
    (tmp_path / "sums.b3").write_text("")
    assert main(["mirror", "-q", "--save-plan", str(tmp_path / "plan.jsonl"), str(source), str(target)]) == 0
    return {
        "src": str(source),
        "dst": str(target),
        "sums": str(tmp_path / "sums.b3"),
        "plan": str(tmp_path / "plan.jsonl"),
    }


WITH_JOBS = {
    "compare": ["{src}", "{dst}"],
    "mirror": ["{src}", "{dst}"],
    "sync": ["{src}", "{dst}"],
    "apply": ["{plan}"],
    "undo": ["{dst}"],
    "dupes": ["{src}"],
    "grep": ["x", "{src}"],
    "manifest": ["{src}"],
    "verify": ["{sums}", "{src}"],
    "regress": ["{src}"],
}


def test_jobs_is_offered_by_exactly_these_commands() -> None:
    assert {command for command in COMMANDS if "--jobs" in options_of(command)} == set(WITH_JOBS)


def test_json_commands_also_take_quiet() -> None:
    with_json = {command for command in COMMANDS if "--json" in options_of(command)}
    assert with_json == set(COMMANDS) - {"manifest", "demo", "serve"}  # serve prints only its address
    assert all({"-q", "--quiet"} <= options_of(command) for command in with_json | {"manifest"})


@pytest.mark.parametrize("command", sorted(WITH_JOBS))
def test_jobs_below_one_exits_2_before_any_work(command: str, place: dict[str, str], capsys: Capture) -> None:
    capsys.readouterr()
    arguments = [word.format(**place) for word in WITH_JOBS[command]]
    assert main([command, "-j", "0", *arguments]) == 2
    assert capsys.readouterr() == ("", "dirkit: --jobs must be at least 1\n")
    assert Path(place["dst"], "a").read_text() == "old"


@pytest.mark.parametrize("command", ["mirror", "apply"])
def test_guard_options_are_the_same_in_mirror_and_apply(
    command: str, place: dict[str, str], capsys: Capture
) -> None:
    arguments = [place["src"], place["dst"]] if command == "mirror" else [place["plan"]]
    assert {"--max-delete", "--force", "--keep-backups"} <= options_of(command)
    capsys.readouterr()
    assert main([command, "--max-delete", "lots", *arguments]) == 2
    assert "--max-delete 'lots': expected a number of files or a percentage" in capsys.readouterr().err
    assert main([command, "--max-delete", "0", "--json", *arguments]) == 0  # replaces, deletes nothing
    assert json.loads(capsys.readouterr().out.splitlines()[0])["files_copied"] == 1


@pytest.mark.parametrize("command", ["compare", "mirror"])
def test_negative_modify_window_exits_2(command: str, place: dict[str, str], capsys: Capture) -> None:
    capsys.readouterr()
    assert main([command, "--modify-window", "-1", place["src"], place["dst"]]) == 2
    assert capsys.readouterr().err == "dirkit: --modify-window must not be negative\n"
