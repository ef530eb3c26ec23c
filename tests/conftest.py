"""Shared test fixtures: tree builders and external-tool requirements."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dirkit", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.load_profile("dirkit")

TreeSpec = Mapping[str, "bytes | str | None"]


def build_tree(root: Path, spec: TreeSpec, mtime: int | None = 1_600_000_000) -> Path:
    """Create files (bytes or str values) and dirs (None values) under root; return root."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in spec.items():
        path = root / name
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)
        if mtime is not None:
            os.utime(path, (mtime, mtime))
    return root


@pytest.fixture
def make_tree(tmp_path: Path) -> Callable[..., Path]:
    """Return a builder of trees below tmp_path: make_tree('left', {'a.txt': 'x', 'd': None})."""

    def make(name: str, spec: TreeSpec, mtime: int | None = 1_600_000_000) -> Path:
        return build_tree(tmp_path / name, spec, mtime)

    return make


def require_tool(name: str) -> str:
    """Return the path of an external program, or skip (fail when DIRKIT_REQUIRE_TOOLS=1)."""
    found = shutil.which(name)
    if found:
        return found
    if os.environ.get("DIRKIT_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{name} is required (DIRKIT_REQUIRE_TOOLS=1) but not installed")
    pytest.skip(f"{name} not installed")


@pytest.fixture(autouse=True)
def isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point dirkit's state folder at a fresh temporary folder for every test."""
    monkeypatch.setenv("DIRKIT_STATE_DIR", str(tmp_path_factory.mktemp("state")))
