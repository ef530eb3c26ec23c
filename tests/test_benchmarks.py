"""The benchmark harness keeps working: `true` against `true` on a 200-file tree, and its memory probe."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from benchmarks.harness import (
    CommandError,
    Contender,
    Invocation,
    Row,
    Scratch,
    Target,
    format_table,
    measure,
    run_row,
)
from benchmarks.shapes import count_files, make_shape


def test_the_harness_times_true_against_true_on_a_200_file_tree(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    make_shape("treegen", tree, 200)
    assert count_files(tree) == 200
    built: list[Path] = []

    def true_in(folder: Path) -> Invocation:
        assert folder.is_dir() and not any(folder.iterdir())
        built.append(folder)
        return Invocation(["true"])

    row = Row(
        "true", "true", Contender("dirkit", true_in), (Contender("peer", true_in),), Target(1.0), (tree,)
    )
    scratch = Scratch(tmp_path / "scratch")
    [result] = run_row(row, "treegen", 2, scratch)
    assert len(built) == 6  # a warm-up and two rounds, each in its own fresh folder
    assert len(set(built)) == 6
    assert result.subject_seconds > 0 and result.peer_seconds > 0
    assert result.ratio > 0
    table = format_table([result], "title")
    assert "true vs peer" in table and "treegen" in table
    scratch.empty()
    assert not (tmp_path / "scratch" / "trash").exists()


def test_peak_memory_covers_a_grandchild(tmp_path: Path) -> None:
    script = "x = bytearray(80_000_000); import time; time.sleep(0.4)"
    sample = measure(Invocation(["/bin/sh", "-c", f"'{sys.executable}' -c '{script}'; true"]))
    assert sample.peak_bytes >= 80_000_000


def test_a_failing_command_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="exited 3"):
        measure(Invocation(["/bin/sh", "-c", "echo broken >&2; exit 3"]))
