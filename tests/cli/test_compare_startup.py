"""A quick compare loads no digest engine, cache, executor, process pool or diff library."""

from __future__ import annotations

from pathlib import Path

from tests.cli.test_startup_imports import modules_loaded_by

NEVER_FOR_QUICK_COMPARE = {
    "sqlite3",
    "blake3",
    "hashlib",
    "difflib",
    "multiprocessing",
    "concurrent.futures",
    "subprocess",
    "dirkit.state.journal",
    "dirkit.ops.checksums.digests",
    "dirkit.ops.run.execute",
}


def test_quick_compare_loads_only_what_it_uses(tmp_path: Path) -> None:
    for side in ("l", "r"):
        (tmp_path / side / "d").mkdir(parents=True)
        (tmp_path / side / "d" / "a.txt").write_text("x")
    (tmp_path / "r" / "d" / "b.txt").write_text("new")
    loaded = modules_loaded_by("compare", "--stat", str(tmp_path / "l"), str(tmp_path / "r"))
    assert NEVER_FOR_QUICK_COMPARE & loaded == set()
    assert NEVER_FOR_QUICK_COMPARE & modules_loaded_by("compare", "--help") == set()
