"""`dirkit grep` gives the same files, counts and lines as GNU grep -r on generated trees."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from dirkit.backends.trees import open_tree
from dirkit.cli.main import main
from dirkit.core.search.grep import GrepPattern, LineRole
from dirkit.ops.search import grep as grep_module
from dirkit.ops.search.grep import GrepMode, GrepOptions, grep_tree
from tests.ops.sample_trees import make_sample_tree
from tests.support import require_tool


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample_tree(tmp_path_factory.mktemp("grep") / "tree", seed=23, files=150)


def gnu_grep(*arguments: str) -> list[bytes]:
    tool = require_tool("grep")
    result = subprocess.run(
        [tool, *arguments], capture_output=True, check=False, env={**os.environ, "LC_ALL": "C"}
    )
    assert result.returncode == (0 if result.stdout else 1), result.stderr
    return result.stdout.splitlines()


def dirkit_grep(arguments: list[str], capsysbinary: pytest.CaptureFixture[bytes]) -> list[bytes]:
    capsysbinary.readouterr()
    code = main(["grep", "--color", "never", *arguments])
    output = capsysbinary.readouterr().out
    assert code == (0 if output else 1)
    return output.splitlines()


FILE_CASES = [
    (["-F", "needle"], ["-F", "needle"]),
    (["needle"], ["needle"]),
    (["-i", "needle"], ["-i", "needle"]),
    (["-w", "needle"], ["-w", "needle"]),
    (["-w", "-i", "-F", "NEEDLE"], ["-w", "-i", "-F", "NEEDLE"]),
    (["err(or|no)[0-9]+"], ["-E", "err(or|no)[0-9]+"]),
    (["^alpha"], ["^alpha"]),
    (["beta$"], ["beta$"]),
    (["-F", "nothing-like-this"], ["-F", "nothing-like-this"]),
]


@pytest.mark.parametrize(("ours", "theirs"), FILE_CASES, ids=[" ".join(case[0]) for case in FILE_CASES])
def test_files_with_matches_like_grep_rl(
    sample: Path, ours: list[str], theirs: list[str], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert set(dirkit_grep(["-l", *ours, str(sample)], capsysbinary)) == set(
        gnu_grep("-rlI", *theirs, str(sample))
    )
    with_binary = set(dirkit_grep(["-l", "--binary", "text", *ours, str(sample)], capsysbinary))
    assert with_binary == set(gnu_grep("-rl", *theirs, str(sample)))


@pytest.mark.parametrize(
    ("ours", "theirs"), FILE_CASES[:6], ids=[" ".join(case[0]) for case in FILE_CASES[:6]]
)
def test_counts_like_grep_rc(
    sample: Path, ours: list[str], theirs: list[str], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert set(dirkit_grep(["-c", *ours, str(sample)], capsysbinary)) == set(
        gnu_grep("-rcI", *theirs, str(sample))
    )
    assert set(dirkit_grep(["-c", "-a", *ours, str(sample)], capsysbinary)) == set(
        gnu_grep("-rc", "-a", *theirs, str(sample))
    )


@pytest.mark.parametrize(
    ("ours", "theirs"), FILE_CASES[:6], ids=[" ".join(case[0]) for case in FILE_CASES[:6]]
)
def test_numbered_lines_like_grep_rn(
    sample: Path, ours: list[str], theirs: list[str], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    expected = gnu_grep("-rnI", *theirs, str(sample))
    got = dirkit_grep(["-n", *ours, str(sample)], capsysbinary)
    assert len(got) == len(expected)
    assert {_decoded(line) for line in got} == {_decoded(line) for line in expected}


@pytest.mark.parametrize("context", [["-C", "2"], ["-A", "1"], ["-B", "3"], ["-A", "2", "-B", "1"]])
def test_context_lines_like_grep(
    sample: Path, context: list[str], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    expected = gnu_grep("-rnI", *context, "needle", str(sample))
    got = dirkit_grep(["-n", *context, "needle", str(sample)], capsysbinary)
    assert sorted(_decoded(line) for line in got) == sorted(_decoded(line) for line in expected)


def _decoded(line: bytes) -> str:
    """Return a line as dirkit shows it: text decoded with replacement."""
    return line.decode("utf-8", "replace")


def test_big_files_in_blocks_like_grep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    monkeypatch.setattr(grep_module, "BLOCK_SIZE", 4096)
    lines = [
        f"line {number} {'needle' if number % 97 == 0 else 'hay'} {'x' * (number % 50)}"
        for number in range(3000)
    ]
    (tmp_path / "big.txt").write_text("\n".join(lines))
    (tmp_path / "small.txt").write_text("a needle\n")
    (tmp_path / "big-without.txt").write_text("hay\n" * 5000)
    for context in (["-C", "3"], ["-c"], ["-l"], []):
        expected = gnu_grep("-rn", *context, "needle", str(tmp_path))
        got = dirkit_grep(["-n", "-j", "1", *context, "needle", str(tmp_path)], capsysbinary)
        assert sorted(got) == sorted(expected), context


def test_very_long_lines_are_read_in_bounded_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    monkeypatch.setattr(grep_module, "BLOCK_SIZE", 1024)
    monkeypatch.setattr(grep_module, "LINE_CAP", 4096)
    long_line = "a" * 20_000 + "needle" + "b" * 100
    (tmp_path / "long.txt").write_text(f"first\n{long_line}\nthird needle\n")
    got = dirkit_grep(["-n", "-j", "1", "needle", str(tmp_path)], capsysbinary)
    assert len(got) == 2
    assert got[0].startswith(f"{tmp_path}/long.txt:2:".encode())
    assert len(got[0]) < 5000
    assert got[1] == f"{tmp_path}/long.txt:3:third needle".encode()
    counted = dirkit_grep(["-c", "-j", "1", "needle", str(tmp_path)], capsysbinary)
    assert counted == [f"{tmp_path}/long.txt:2".encode()]


def test_parallel_search_keeps_order_and_results(sample: Path) -> None:
    backend = open_tree(str(sample))
    for mode in GrepMode:
        one = list(
            grep_tree(backend, GrepOptions(GrepPattern("needle"), mode=mode, before=1, after=1, jobs=1))
        )
        many = list(
            grep_tree(backend, GrepOptions(GrepPattern("needle"), mode=mode, before=1, after=1, jobs=4))
        )
        assert many == one
        assert [result.path for result in one] == sorted(
            (result.path for result in one), key=lambda path: path.replace("/", "\0")
        )


def test_binary_files_are_skipped_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "data.bin").write_bytes(b"\x00\x01needle")
    (tmp_path / "utf16.txt").write_bytes("needle".encode("utf-16"))
    (tmp_path / "text.txt").write_bytes(b"needle\n")
    backend = open_tree(str(tmp_path))
    skipped = list(grep_tree(backend, GrepOptions(GrepPattern("needle"))))
    assert [result.path for result in skipped] == ["text.txt"]
    searched = list(grep_tree(backend, GrepOptions(GrepPattern("needle"), search_binary=True, jobs=1)))
    assert [result.path for result in searched] == ["data.bin", "text.txt"]
    counted = list(grep_tree(backend, GrepOptions(GrepPattern("needle"), mode=GrepMode.COUNT, jobs=1)))
    assert [(result.path, result.match_count, result.binary) for result in counted] == [
        ("data.bin", 0, True),
        ("text.txt", 1, False),
        ("utf16.txt", 0, True),
    ]


def test_gitignore_like_ripgrep(
    sample: Path, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    rg = require_tool("rg")
    tree = tmp_path / "repo"
    (tree / "src" / "gen").mkdir(parents=True)
    (tree / "logs").mkdir()
    (tree / ".gitignore").write_text("logs/\n*.gen\n!keep.gen\n")
    (tree / "src" / ".gitignore").write_text("gen/\n")
    for name in ["a.txt", "b.gen", "keep.gen", "src/c.txt", "src/gen/d.txt", "logs/e.txt", "src/f.gen"]:
        (tree / name).write_text("needle\n")
    result = subprocess.run(
        [rg, "-l", "--hidden", "--no-require-git", "--no-ignore-global", "--no-config", "needle", str(tree)],
        capture_output=True,
        check=True,
    )
    ours = dirkit_grep(["-l", "--gitignore", "needle", str(tree)], capsysbinary)
    assert set(ours) == set(result.stdout.splitlines())
    assert len(ours) == 3


def test_lines_are_decoded_with_replacement(tmp_path: Path) -> None:
    (tmp_path / "latin1.txt").write_bytes("caf\u00e9 needle\n".encode("latin-1"))
    results = list(grep_tree(open_tree(str(tmp_path)), GrepOptions(GrepPattern("needle"), jobs=1)))
    assert results[0].lines[0].text == b"caf\xe9 needle"
    assert results[0].lines[0].role is LineRole.MATCH
