"""What many tests share: a tree builder, a tree reader, CLI runners and a child that drops root."""

from __future__ import annotations

import functools
import importlib
import io
import os
import pickle
import pkgutil
import shutil
import signal
import stat
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

import dirkit
from dirkit.cli.main import main

TreeSpec = Mapping[str, "bytes | str | None"]
MakeTree = Callable[..., Path]
Capture = pytest.CaptureFixture[str]
Result = TypeVar("Result")

NOBODY = 65534
"""The unprivileged user (and group) that "permission denied" tests run as when the suite runs as root."""
STANDARD_MODULES_FOR_CHILDREN = (
    "concurrent.futures.process",
    "concurrent.futures.thread",
    "gettext",
    "json",
    "locale",
    "logging.handlers",
    "multiprocessing.connection",
    "multiprocessing.popen_fork",
    "multiprocessing.queues",
    "multiprocessing.synchronize",
    "sqlite3",
)
"""Imported lazily by dirkit; loaded before a child drops root, as nobody may not read the Python install."""
CHILD_SECONDS = 120
"""A child that drops privileges is killed (SIGALRM) after this long, so a hang fails instead of stalling."""


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


@dataclass(frozen=True, slots=True)
class Node:
    """One path as the disk has it (links not followed): kind, bytes or link target, size, mtime, st_mode."""

    kind: str
    data: bytes | str
    size: int
    mtime_ns: int
    st_mode: int

    @property
    def mode(self) -> int:
        """Return the permission bits."""
        return stat.S_IMODE(self.st_mode)


def read_node(path: str | Path) -> Node:
    """Return what the disk has at one path, links not followed."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return Node("link", os.readlink(path), info.st_size, info.st_mtime_ns, info.st_mode)
    if stat.S_ISDIR(info.st_mode):
        return Node("dir", b"", info.st_size, info.st_mtime_ns, info.st_mode)
    if stat.S_ISREG(info.st_mode):
        return Node("file", Path(path).read_bytes(), info.st_size, info.st_mtime_ns, info.st_mode)
    return Node("other", b"", info.st_size, info.st_mtime_ns, info.st_mode)


def read_tree(
    root: Path, skip_names: Collection[str] = (".dirkit",), leave_out: Collection[Path] = ()
) -> dict[str, Node]:
    """Return every path below root (relative, sorted) with what the disk has there.

    Directories named in skip_names (dirkit's own folder by default) and the paths in leave_out are not read.
    """
    found: dict[str, Node] = {}
    left_out = {str(path) for path in leave_out}
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(
            name for name in dirs if name not in skip_names and os.path.join(directory, name) not in left_out
        )
        for name in dirs + sorted(files):
            full = os.path.join(directory, name)
            if full not in left_out:
                found[os.path.relpath(full, root)] = read_node(full)
    return dict(sorted(found.items()))


def read_files(root: Path) -> dict[str, bytes]:
    """Return the bytes of every regular file below root, leaving out dirkit's own folder."""
    nodes = read_tree(root).items()
    return {path: node.data for path, node in nodes if node.kind == "file" and isinstance(node.data, bytes)}


def tree_state(root: Path) -> dict[str, tuple[object, ...]]:
    """Return what a mirror must reproduce below root (not .dirkit): kind, bytes or target, mtime, mode."""
    state: dict[str, tuple[object, ...]] = {}
    for path, node in read_tree(root).items():
        if node.kind == "link":
            state[path] = ("link", node.data)
        elif node.kind == "dir":
            state[path] = ("dir", node.mtime_ns, node.mode)
        else:
            state[path] = ("file", node.data, node.mtime_ns, node.mode)
    return state


def run_cli(capture: Capture, *argv: str) -> tuple[int, str, str]:
    """Run the command line in this process; return its exit code, standard output and standard error."""
    capture.readouterr()
    code = main(list(argv))
    captured = capture.readouterr()
    return code, captured.out, captured.err


def dirkit_command(*arguments: str) -> list[str]:
    """Return the argv that runs the command line in a child Python."""
    return [sys.executable, "-m", "dirkit", *arguments]


def wait_until(condition: Callable[[], object], seconds: float = 20.0) -> bool:
    """Poll condition every 10 ms for at most seconds; return whether it came true."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def require_root(reason: str) -> None:
    """Skip a test that needs root (to mount) unless root; fail instead under DIRKIT_REQUIRE_TOOLS=1 (CI)."""
    if os.geteuid() == 0:
        return
    if os.environ.get("DIRKIT_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{reason}: needs root, and DIRKIT_REQUIRE_TOOLS=1 says it must run")
    pytest.skip(f"{reason}: needs root")


def require_tool(name: str) -> str:
    """Return the path of an external program, or skip (fail when DIRKIT_REQUIRE_TOOLS=1)."""
    found = shutil.which(name)
    if found:
        return found
    if os.environ.get("DIRKIT_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{name} is required (DIRKIT_REQUIRE_TOOLS=1) but not installed")
    pytest.skip(f"{name} not installed")


@contextmanager
def reachable_folder() -> Iterator[Path]:
    """Yield a fresh folder that user nobody can reach (pytest's own temporary folders are private)."""
    folder = Path(tempfile.mkdtemp(prefix="dirkit-nobody-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for directory, dirs, _ in os.walk(folder):
            for name in dirs:
                os.chmod(os.path.join(directory, name), 0o755, follow_symlinks=False)
        shutil.rmtree(folder)


def give_to_nobody(root: Path) -> None:
    """Make user nobody the owner of root and everything below it (as root; a no-op otherwise)."""
    if os.geteuid() != 0:
        return
    os.chown(root, NOBODY, NOBODY, follow_symlinks=False)
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(os.path.join(directory, name), NOBODY, NOBODY, follow_symlinks=False)


@functools.cache
def load_everything_a_child_imports() -> None:
    """Import every dirkit module and the standard modules it imports lazily (once per test run)."""
    for name in STANDARD_MODULES_FOR_CHILDREN:
        importlib.import_module(name)
    for module in pkgutil.walk_packages(dirkit.__path__, "dirkit."):
        if module.name != "dirkit.__main__":
            importlib.import_module(module.name)


def call_unprivileged(function: Callable[[], Result], state: Path) -> Result:
    """Call function in a forked child without root (as nobody when the suite runs as root); return its value.

    The child's state folder is state (made and given to nobody here). Whatever the child raises fails the
    test with the child's traceback; a child that dies or hangs fails it too.
    """
    load_everything_a_child_imports()
    state.mkdir(parents=True, exist_ok=True)
    give_to_nobody(state)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_end)
        try:
            signal.alarm(CHILD_SECONDS)
            os.environ["DIRKIT_STATE_DIR"] = str(state)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            outcome: tuple[bool, object] = (True, function())
        except BaseException:
            outcome = (False, traceback.format_exc())
        try:
            with os.fdopen(write_end, "wb") as pipe:
                pickle.dump(outcome, pipe)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        sent = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert sent, f"the unprivileged child died: exit status {os.waitstatus_to_exitcode(status)}"
    succeeded, value = pickle.loads(sent)
    if not succeeded:
        pytest.fail(f"the unprivileged child raised:\n{value}")
    return value  # type: ignore[no-any-return]


def run_cli_unprivileged(state: Path, *argv: str) -> tuple[int, str, str]:
    """Run the command line in a child without root; return its exit code, standard output and error."""

    def run() -> tuple[int, str, str]:
        out, err = io.BytesIO(), io.BytesIO()
        sys.stdout = io.TextIOWrapper(out, encoding="utf-8", errors="surrogateescape", write_through=True)
        sys.stderr = io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True)
        code = main(list(argv))
        sys.stdout.flush()
        sys.stderr.flush()
        return code, out.getvalue().decode("utf-8", "replace"), err.getvalue().decode("utf-8", "replace")

    return call_unprivileged(run, state)
