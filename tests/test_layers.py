"""The layering of DESIGN.md, checked by reading every module's imports (lint-imports checks it too)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "dirkit"

# "dirkit" is the package's own facade (dirkit/__init__.py), which imports ops lazily: only front ends use it
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "core": {"core", "errors"},
    "state": {"state", "core", "errors"},
    "backends": {"backends", "core", "errors"},
    "ops": {"ops", "backends", "core", "state", "errors"},
    "report": {"report", "core", "errors"},
    "cli": {"cli", "dirkit", "ops", "report", "backends", "core", "state", "errors"},
    "web": {"web", "dirkit", "ops", "report", "backends", "core", "state", "errors"},
}
LAYERS = set(ALLOWED)
LAUNCHERS = {"cli/serve.py": {"web"}}
"""Modules allowed one more layer: the serve command starts the web front end (nothing else in cli may)."""

# core is pure: no file system, clock, threads, processes, signals, sockets or databases, and no imports by
# a computed name (which the checks could not follow)
CORE_FORBIDDEN = {
    "importlib",
    "os",
    "shutil",
    "socket",
    "sqlite3",
    "threading",
    "time",
    "subprocess",
    "io",
    "pathlib",
    "tempfile",
    "mmap",
    "signal",
    "concurrent",
    "multiprocessing",
}


def _module_name(module: Path) -> list[str]:
    """Return the dotted name of a module file as parts, e.g. ['dirkit', 'core', 'tree', 'paths']."""
    parts = ["dirkit", *module.relative_to(PACKAGE).with_suffix("").parts]
    return parts[:-1] if parts[-1] == "__init__" else parts


def _package_of(module: Path) -> list[str]:
    """Return the package a relative import in this module starts from."""
    name = _module_name(module)
    return name if module.name == "__init__.py" else name[:-1]


def _literal_imports(node: ast.Call) -> Iterator[str]:
    """Yield the module named by importlib.import_module("...") or __import__("...")."""
    function = node.func
    called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
    if called in {"import_module", "__import__"} and node.args:
        first = node.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield first.value


def imported_modules(source: str, package: list[str]) -> Iterator[str]:
    """Yield every module a source imports, relative imports resolved from package."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                origin = ".".join([*base, *([node.module] if node.module else [])])
            else:
                origin = node.module or ""
            yield origin
            # `from dirkit import ops` imports the module dirkit.ops, not just the facade
            yield from (f"{origin}.{alias.name}" for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call):
            yield from _literal_imports(node)


def imports_of(module: Path) -> Iterator[str]:
    """Yield every module a file of dirkit imports."""
    return imported_modules(module.read_text(encoding="utf-8"), _package_of(module))


def _layer_of(module: Path) -> str:
    return module.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _dirkit_layers(module: Path) -> set[str]:
    """Return the layers of dirkit (or 'dirkit' for the facade) that a module imports."""
    found: set[str] = set()
    for name in imports_of(module):
        parts = name.split(".")
        if parts[0] == "dirkit":
            found.add(parts[1] if len(parts) > 1 and parts[1] in LAYERS else "dirkit")
    return found


def test_every_module_imports_only_lower_layers() -> None:
    violations = []
    for module in sorted(PACKAGE.rglob("*.py")):
        layer = _layer_of(module)
        if layer not in ALLOWED:
            continue
        allowed = ALLOWED[layer] | LAUNCHERS.get(module.relative_to(PACKAGE).as_posix(), set())
        for imported in sorted(_dirkit_layers(module) - allowed):
            violations.append(f"{module.relative_to(PACKAGE)} ({layer}) imports dirkit.{imported}")
    assert not violations, "\n".join(violations)


def test_core_does_no_io() -> None:
    violations = []
    for module in sorted((PACKAGE / "core").rglob("*.py")):
        for name in imports_of(module):
            if name.split(".")[0] in CORE_FORBIDDEN:
                violations.append(f"{module.relative_to(PACKAGE)} imports {name}")
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Name) and node.id == "__import__":
                violations.append(f"{module.relative_to(PACKAGE)} calls __import__")
    assert not violations, "\n".join(violations)


def test_the_check_sees_relative_package_and_dynamic_imports() -> None:
    source = (
        "from ...ops.run import execute\n"
        "from .. import compare\n"
        "from . import entry\n"
        "from dirkit import ops\n"
        "import importlib\n"
        "importlib.import_module('dirkit.state')\n"
        "__import__('tempfile')\n"
    )
    found = set(imported_modules(source, ["dirkit", "core", "tree"]))
    assert {"dirkit.ops.run", "dirkit.core.compare", "dirkit.core.tree.entry"} <= found
    assert {"dirkit.ops", "dirkit.state", "tempfile"} <= found
