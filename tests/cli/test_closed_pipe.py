"""When the reader of dirkit's output goes away (`dirkit find . | head -1`), dirkit stops quietly with 141."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dirkit.cli.main import EXIT_BROKEN_PIPE

FILES = 5000
"""With names of 200 bytes the output passes 1 MiB, more than any pipe holds."""


@pytest.fixture(scope="module")
def wide_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a folder with a tree of many long-named files and an empty tree beside it."""
    base = tmp_path_factory.mktemp("pipe")
    (base / "empty").mkdir()
    tree = base / "tree"
    tree.mkdir()
    for number in range(FILES):
        (tree / f"{number:05}{'n' * 195}").write_bytes(b"needle\n")
    return base


@pytest.mark.parametrize(
    "arguments",
    [
        ["find", "{tree}"],
        ["grep", "needle", "{tree}"],
        ["grep", "-j", "1", "-n", "needle", "{tree}"],
        ["compare", "{tree}", "{empty}"],
        ["manifest", "--no-cache", "{tree}"],
    ],
    ids=["find", "grep", "grep -j1", "compare", "manifest"],
)
def test_a_reader_that_stops_early_ends_dirkit_with_141(wide_tree: Path, arguments: list[str]) -> None:
    command = [
        sys.executable,
        "-c",
        "import sys; from dirkit.cli.main import main; sys.exit(main())",
        *(word.format(tree=wide_tree / "tree", empty=wide_tree / "empty") for word in arguments),
    ]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()
        stderr = process.stderr.read()
        code = process.wait(timeout=60)
    assert first
    assert stderr == b""
    assert code == EXIT_BROKEN_PIPE
