"""Shared fixtures: trees below tmp_path, the journal, a folder user nobody can reach, a private state."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from dirkit.state.journal import Journal
from tests.support import MakeTree, TreeSpec, build_tree, reachable_folder, require_root

settings.register_profile(
    "dirkit", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile("dirkit")


@pytest.fixture
def make_tree(tmp_path: Path) -> MakeTree:
    """Return a builder of trees below tmp_path: make_tree('left', {'a.txt': 'x', 'd': None})."""

    def make(name: str, spec: TreeSpec, mtime: int | None = 1_600_000_000) -> Path:
        return build_tree(tmp_path / name, spec, mtime)

    return make


@pytest.fixture
def journal() -> Iterator[Journal]:
    """Yield the journal of the test's state folder."""
    opened = Journal.open()
    yield opened
    opened.close()


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """Yield a fresh folder that user nobody can reach (pytest's own temporary folders are private)."""
    with reachable_folder() as folder:
        yield folder


@pytest.fixture(autouse=True)
def isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point dirkit's state folder at a fresh temporary folder for every test."""
    monkeypatch.setenv("DIRKIT_STATE_DIR", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """Yield a folder on a 1 MiB tmpfs mounted for the test (root, as in CI), unmounted after it."""
    require_root("mounting a 1 MiB tmpfs")
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], check=True, timeout=30
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True, timeout=30)
