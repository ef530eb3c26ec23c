"""When the reader of dirkit's output goes away (`dirkit find . | head -1`), dirkit stops quietly with 141."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dirkit.cli.main import EXIT_BROKEN_PIPE
from tests.support import dirkit_command

FILES = 5000
"""With names of 200 bytes the output passes 1 MiB, more than any pipe holds."""
HANG_SECONDS = 60
"""A child still running this long after its reader left has hung: it is killed and the test fails."""


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
    command = dirkit_command(
        *(word.format(tree=wide_tree / "tree", empty=wide_tree / "empty") for word in arguments)
    )
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()
        try:
            _, stderr = process.communicate(timeout=HANG_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail(f"dirkit {arguments[0]} hung once its reader went away")
        code = process.returncode
    assert first
    assert stderr == b""
    assert code == EXIT_BROKEN_PIPE
