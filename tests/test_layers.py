"""The layering of DESIGN.md, checked by reading every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "dirkit"

ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "core": {"core", "errors"},
    "state": {"state", "core", "errors"},
    "backends": {"backends", "core", "errors"},
    "ops": {"ops", "backends", "core", "state", "errors"},
    "report": {"report", "core", "errors"},
    "cli": {"cli", "ops", "report", "backends", "core", "state", "errors"},
}


def _layer_of(module: Path) -> str:
    relative = module.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def _dirkit_imports(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "dirkit" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_module_imports_only_lower_layers() -> None:
    violations = []
    for module in sorted(PACKAGE.rglob("*.py")):
        layer = _layer_of(module)
        if layer not in ALLOWED:
            continue
        for imported in _dirkit_imports(module) - ALLOWED[layer]:
            violations.append(f"{module.relative_to(PACKAGE)} ({layer}) imports dirkit.{imported}")
    assert not violations, "\n".join(violations)


def test_core_does_no_io() -> None:
    forbidden = {"os", "shutil", "socket", "sqlite3", "threading", "time", "subprocess", "io"}
    violations = []
    for module in sorted((PACKAGE / "core").rglob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            violations += [f"{module.name} imports {name}" for name in names if name in forbidden]
    assert not violations, "\n".join(violations)
