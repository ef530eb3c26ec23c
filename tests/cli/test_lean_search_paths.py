"""find and grep give the same bytes, in the same order, on their lean local paths as through the backends.

The lean paths (ops/search/find_local.py, grep_local.py) walk local trees in forked workers; an
--exclude that matches nothing takes the same search through the backends and the common scanner.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dirkit.cli import find as find_command
from dirkit.cli.main import main

NAMES = ["a.txt", "B.TXT", "café.py", "日本.txt", "z-last.py", ".hidden.py", "x.dat"]


@pytest.fixture(scope="module")
def tricky(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a tree of many folders (cut into many units), odd names, links and dirkit's own names."""
    root = tmp_path_factory.mktemp("lean") / "tree"
    root.mkdir()
    for top in range(12):
        for sub in range(6):
            folder = root / f"d{top:02}" / f"s{sub}" / ("deep" if sub % 2 else "")
            folder.mkdir(parents=True, exist_ok=True)
            for index, name in enumerate(NAMES):
                body = f"line one\nneedle {top} {sub}\n" if (top + sub + index) % 3 == 0 else "plain\n"
                (folder / f"{index}{name}").write_text(body * (1 + index))
            (folder / "bin.dat").write_bytes(b"needle\0binary")
    raw = os.fsencode(root / "d03") + b"/bad-\xff-name.txt"
    with open(raw, "wb") as stream:
        stream.write(b"needle in a badly named file\n")
    (root / "d01" / "link.py").symlink_to("../d02")
    (root / "d01" / ".dirkit").mkdir()
    (root / "d01" / ".dirkit" / "hidden.txt").write_text("needle\n")
    (root / "d01" / "f.dirkit-tmp-1.txt").write_text("needle\n")
    (root / "top.txt").write_text("needle at the top\n")
    (root / "empty").mkdir()
    return root


def output_of(capsysbinary: pytest.CaptureFixture[bytes], *argv: str) -> tuple[int, bytes]:
    capsysbinary.readouterr()
    code = main(list(argv))
    return code, capsysbinary.readouterr().out


FIND_CASES = [
    [],
    ["--name", "*.txt"],
    ["--iname", "*.TXT"],
    ["--type", "d"],
    ["--type", "l,f", "--min-depth", "3"],
    ["--max-depth", "2"],
    ["--name", "*a*", "-0"],
]


@pytest.mark.parametrize("criteria", FIND_CASES, ids=[" ".join(case) or "all" for case in FIND_CASES])
@pytest.mark.parametrize("walkers", [1, 2])
def test_find_prints_the_same_bytes_both_ways(
    tricky: Path,
    criteria: list[str],
    walkers: int,
    capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(find_command, "MAX_WALKERS", walkers)
    lean = output_of(capsysbinary, "find", str(tricky), *criteria)
    through_backends = output_of(capsysbinary, "find", str(tricky), *criteria, "--exclude", "*.none")
    assert lean == through_backends
    assert lean[1]


GREP_CASES = [
    ["needle"],
    ["-n", "-F", "needle"],
    ["-l", "ne+dle"],
    ["-c", "-w", "needle"],
    ["-n", "-i", "NEEDLE", "--glob", "*.py", "--glob", "!d05/**"],
    ["-n", "-a", "binary"],
]


@pytest.mark.parametrize("arguments", GREP_CASES, ids=[" ".join(case) for case in GREP_CASES])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_grep_prints_the_same_bytes_both_ways(
    tricky: Path, arguments: list[str], jobs: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    lean = output_of(capsysbinary, "grep", "-j", jobs, *arguments, str(tricky))
    through_backends = output_of(
        capsysbinary, "grep", "-j", jobs, *arguments, str(tricky), "--exclude", "*.none"
    )
    assert lean == through_backends
    assert lean[1]
