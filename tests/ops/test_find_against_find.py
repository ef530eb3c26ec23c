"""`dirkit find` gives the same set of paths as GNU find on generated trees."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from dirkit.backends.trees import open_tree
from dirkit.cli.main import main
from dirkit.core.search.criteria import FindCriteria, compile_name_globs
from dirkit.ops.search.find import FindOptions, find_entries
from dirkit.ops.tree.scan import ScanOptions
from tests.ops.sample_trees import make_sample_tree
from tests.support import require_tool


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample_tree(tmp_path_factory.mktemp("find") / "tree", seed=11, files=150)


def gnu_find(root: Path, *arguments: str) -> set[str]:
    tool = require_tool("find")
    result = subprocess.run(
        [tool, str(root), *arguments, "-print0"],
        capture_output=True,
        check=True,
        env={**os.environ, "LC_ALL": "C"},
    )
    return {os.fsdecode(item) for item in result.stdout.split(b"\0") if item}


def dirkit_find(root: Path, arguments: Sequence[str], capsysbinary: pytest.CaptureFixture[bytes]) -> set[str]:
    capsysbinary.readouterr()
    code = main(["find", str(root), *arguments, "-0"])
    assert code == 0
    return {os.fsdecode(item) for item in capsysbinary.readouterr().out.split(b"\0") if item}


CASES = [
    ((), ()),
    (("--name", "*.txt"), ("-name", "*.txt")),
    (("--name", "*.txt", "--name", "*.py"), ("(", "-name", "*.txt", "-o", "-name", "*.py", ")")),
    (("--iname", "*.txt"), ("-iname", "*.txt")),
    (("--name", "file1*"), ("-name", "file1*")),
    (("--name", ".*"), ("-name", ".*")),
    (("--type", "f"), ("-type", "f")),
    (("--type", "d"), ("-type", "d")),
    (("--type", "l"), ("-type", "l")),
    (("--type", "f,l"), ("(", "-type", "f", "-o", "-type", "l", ")")),
    (("--min-depth", "2"), ("-mindepth", "2")),
    (("--max-depth", "1"), ("-maxdepth", "1")),
    (
        ("--min-depth", "2", "--max-depth", "3", "--type", "f"),
        ("-mindepth", "2", "-maxdepth", "3", "-type", "f"),
    ),
    (("--max-depth", "0"), ("-maxdepth", "0")),
    (("--name", "*.txt", "--min-depth", "3"), ("-mindepth", "3", "-name", "*.txt")),
    (("--name", "*.txt", "--max-depth", "2"), ("-maxdepth", "2", "-name", "*.txt")),
    (("--size", "+100"), ("-type", "f", "-size", "+100c")),
    (("--size", "-100"), ("-type", "f", "-size", "-100c")),
    (("--size", "0"), ("-type", "f", "-size", "0c")),
    (("--size", "+1k"), ("-type", "f", "-size", "+1024c")),
    (("--regex", "^note[0-9]+\\.py$"), ("-regextype", "posix-extended", "-regex", ".*/note[0-9]+\\.py")),
    (("--newer", "2020-01-15"), ("-newermt", "2020-01-15")),
    (("--older", "2020-01-15", "--type", "f"), ("-type", "f", "!", "-newermt", "2020-01-15")),
    (
        ("--newer", "2020-01-10", "--older", "2020-01-20", "--name", "*.txt"),
        ("-newermt", "2020-01-10", "!", "-newermt", "2020-01-20", "-name", "*.txt"),
    ),
]


@pytest.mark.parametrize(("ours", "theirs"), CASES, ids=[" ".join(case[0]) or "all" for case in CASES])
def test_same_paths_as_gnu_find(
    sample: Path, ours: tuple[str, ...], theirs: tuple[str, ...], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    expected = gnu_find(sample, *theirs)
    assert expected, "the sample tree should give some results"
    assert dirkit_find(sample, ours, capsysbinary) == expected


def test_durations_are_relative_to_now(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    (tmp_path / "old").write_text("o")
    (tmp_path / "new").write_text("n")
    week_ago = (tmp_path / "old").stat().st_mtime - 7 * 86400
    os.utime(tmp_path / "old", (week_ago, week_ago))
    assert dirkit_find(tmp_path, ["--newer", "2d", "--type", "f"], capsysbinary) == {str(tmp_path / "new")}
    assert dirkit_find(tmp_path, ["--older", "2d"], capsysbinary) == {str(tmp_path / "old")}
    assert dirkit_find(tmp_path, ["--older", "1w1h"], capsysbinary) == set()


def test_exclude_and_gitignore_prune_like_every_command(tmp_path: Path) -> None:
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out.o").write_text("x")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.c").write_text("x")
    (tmp_path / "src" / "main.o").write_text("x")
    (tmp_path / ".gitignore").write_text("*.o\n")
    from dirkit.core.tree.filters import make_filter

    def found(scan: ScanOptions) -> list[str]:
        options = FindOptions(FindCriteria(name_pattern=compile_name_globs(["*"]), min_depth=1), scan)
        return [entry.path for entry in find_entries(open_tree(str(tmp_path)), options)]

    everything = found(ScanOptions())
    assert "build/out.o" in everything and "src/main.o" in everything
    assert found(ScanOptions(make_filter(["build/"]))) == [".gitignore", "src", "src/main.c", "src/main.o"]
    assert found(ScanOptions(make_filter(use_gitignore=True))) == [".gitignore", "build", "src", "src/main.c"]
