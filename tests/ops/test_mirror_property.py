"""Property: for random trees and random mutations, mirror (quick or --content) converges.

After either mirror, compare in both modes says the trees are the same, the two trees hold the same
bytes, kinds, link targets, modes and mtimes, and a second mirror in either mode plans nothing; then
undo puts the target back as it was, metadata included.

Quick mode cannot see a change of bytes that keeps both size and mtime. The trees are built so that
this never happens: every base file gets an mtime of its own, and every mutation that writes bytes
(or sets a time) gives the path a fresh mtime used nowhere else. So two files at one path with equal
size and mtime are always copies of one original with the same bytes, and quick mode must converge.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dirkit.backends.local import LocalBackend
from dirkit.core.run.guards import GuardOptions
from dirkit.ops.compare.trees import CompareOptions, compare_trees
from dirkit.ops.run.mirror import MirrorOptions, mirror_trees, plan_mirror_trees
from dirkit.ops.run.undo import undo_run
from dirkit.state.journal import Journal
from tests.support import read_tree, tree_state

QUICK = MirrorOptions(guards=GuardOptions(force=True), jobs=2)
CONTENT = MirrorOptions(guards=GuardOptions(force=True), jobs=2, content=True)
DIRS = ("d1", "d2", "d1/d3")
FILE_NAMES = ("f1", "f2", "f3")
CONTENTS = (b"", b"a", b"b", b"same size!", b"other size", b"x" * 300, b"y" * 300)
FILE_MODES = (0o644, 0o600, 0o755, 0o4755, 0o1644)
DIR_MODES = (0o755, 0o700, 0o750, 0o2775)
OPERATIONS = ("content", "size", "mtime", "mode", "kind", "rename", "delete", "add")
NS = 1_000_000_000


@dataclass(frozen=True)
class Mutation:
    """One random change: what to do, on which side, and numbers that pick the path and values."""

    operation: str
    on_source: bool
    pick: int
    value: int


@dataclass(frozen=True)
class Scenario:
    """A base tree (dirs, files with content and mode, links) and the mutations applied after copying."""

    dirs: tuple[str, ...]
    files: tuple[tuple[str, bytes, int], ...]
    links: tuple[tuple[str, str], ...]
    dir_modes: tuple[int, ...]
    mutations: tuple[Mutation, ...]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Draw a small base tree and up to six mutations."""
    chosen = [directory for directory in DIRS if draw(st.booleans())]
    dirs = tuple(d for d in chosen if "/" not in d or d.split("/")[0] in chosen)
    places = ("", *dirs)
    files: list[tuple[str, bytes, int]] = []
    for place in places:
        for name in FILE_NAMES:
            if draw(st.booleans()):
                path = f"{place}/{name}" if place else name
                files.append((path, draw(st.sampled_from(CONTENTS)), draw(st.sampled_from(FILE_MODES))))
    links = tuple(
        (f"l{index}", target)
        for index, target in enumerate(draw(st.lists(st.sampled_from(("f1", "d1", "../out")), max_size=2)))
    )
    dir_modes = tuple(draw(st.sampled_from(DIR_MODES)) for _ in dirs)
    mutations = draw(
        st.lists(
            st.builds(
                Mutation,
                st.sampled_from(OPERATIONS),
                st.booleans(),
                st.integers(0, 1000),
                st.integers(0, 1000),
            ),
            min_size=1,
            max_size=6,
        )
    )
    return Scenario(dirs, tuple(files), links, dir_modes, tuple(mutations))


class FreshTimes:
    """Hands out mtimes that no base file and no earlier mutation used."""

    def __init__(self) -> None:
        self.next = 1_700_000_000 * NS + 123

    def take(self) -> int:
        """Return a new mtime in ns."""
        self.next += 7 * NS + 1
        return self.next


def build_base(root: Path, scenario: Scenario) -> None:
    """Create the base tree: every file with a unique mtime, dirs with their modes and times."""
    root.mkdir()
    for directory in scenario.dirs:
        (root / directory).mkdir()
    for index, (path, data, mode) in enumerate(scenario.files):
        (root / path).write_bytes(data)
        os.chmod(root / path, mode)
        seconds = 1_600_000_000 * NS + index * 1000 * NS + index
        os.utime(root / path, ns=(seconds, seconds))
    for path, target in scenario.links:
        os.symlink(target, root / path)
    for directory, mode in zip(scenario.dirs, scenario.dir_modes, strict=True):
        os.chmod(root / directory, mode)
    for index, directory in enumerate(reversed(scenario.dirs)):
        seconds = 1_550_000_000 * NS + index * NS
        os.utime(root / directory, ns=(seconds, seconds))


def all_paths(root: Path) -> list[str]:
    """Return every path below root (not .dirkit), sorted, directories included."""
    return list(read_tree(root))


def kind_at(full: Path) -> str:
    """Return 'link', 'dir' or 'file' for a path (links not followed)."""
    info = os.lstat(full)
    if stat.S_ISLNK(info.st_mode):
        return "link"
    return "dir" if stat.S_ISDIR(info.st_mode) else "file"


def write_fresh(full: Path, data: bytes, times: FreshTimes) -> None:
    """Write data to a new or existing file and give it a fresh mtime."""
    full.write_bytes(data)
    stamp = times.take()
    os.utime(full, ns=(stamp, stamp))


def remove_path(full: Path) -> None:
    """Remove a file, link or whole directory."""
    if kind_at(full) == "dir":
        shutil.rmtree(full)
    else:
        full.unlink()


def apply_mutation(root: Path, mutation: Mutation, times: FreshTimes) -> None:
    """Apply one mutation to the tree at root (a no-op when nothing fits)."""
    paths = all_paths(root)
    operation = mutation.operation
    if operation == "add" or not paths:
        places = [""] + [p for p in paths if kind_at(root / p) == "dir"]
        place = places[mutation.pick % len(places)]
        full = root / place / f"new{mutation.value}"
        if not os.path.lexists(full):
            write_fresh(full, CONTENTS[mutation.value % len(CONTENTS)], times)
        return
    path = paths[mutation.pick % len(paths)]
    full = root / path
    kind = kind_at(full)
    if operation == "content" and kind == "file":
        data = full.read_bytes()
        changed = bytes([data[0] ^ 0x55]) + data[1:] if data else b"z"
        write_fresh(full, changed, times)
    elif operation == "size" and kind == "file":
        write_fresh(full, full.read_bytes() + b"+", times)
    elif operation == "mtime" and kind != "link":
        stamp = times.take()
        os.utime(full, ns=(stamp, stamp))
    elif operation == "mode" and kind != "link":
        modes = FILE_MODES if kind == "file" else DIR_MODES
        current = stat.S_IMODE(os.lstat(full).st_mode)
        os.chmod(full, next(m for m in modes[mutation.value % len(modes) :] + modes if m != current))
    elif operation == "kind":
        remove_path(full)
        if kind == "file":
            if mutation.value % 2:
                full.mkdir()
                write_fresh(full / "inside", b"inside", times)
            else:
                os.symlink("f2", full)
        else:
            write_fresh(full, CONTENTS[mutation.value % len(CONTENTS)], times)
    elif operation == "rename":
        places = [""] + [
            p for p in paths if kind_at(root / p) == "dir" and p != path and not p.startswith(path + "/")
        ]
        place = places[mutation.value % len(places)]
        new = root / place / f"moved{mutation.value}"
        if not os.path.lexists(new):
            os.rename(full, new)
    elif operation == "delete":
        remove_path(full)


def assert_converged(source: Path, target: Path) -> None:
    """Assert that compare in both modes finds nothing, the trees match, and re-plans are empty."""
    for content in (False, True):
        options = CompareOptions(content=content, digest_cache=False)
        diff = compare_trees(LocalBackend(str(source)), LocalBackend(str(target)), options)
        assert not diff.has_differences, (content, [(c.path, c.status, c.detail) for c in diff.differences])
    assert tree_state(target) == tree_state(source)
    for mirror_options in (QUICK, CONTENT):
        planning = plan_mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), mirror_options)
        assert planning.plan.is_empty, [(a.kind, a.path) for a in planning.plan.actions]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
def test_mirror_converges_for_random_trees_and_mutations(journal: Journal, scenario: Scenario) -> None:
    with tempfile.TemporaryDirectory(prefix="dirkit-property-") as scratch:
        base = Path(scratch) / "base"
        build_base(base, scenario)
        source = Path(scratch) / "src"
        targets = [
            (options, Path(scratch) / f"dst-{index}") for index, options in enumerate((QUICK, CONTENT))
        ]
        shutil.copytree(base, source, symlinks=True)
        for _, target in targets:
            shutil.copytree(base, target, symlinks=True)
        times = FreshTimes()
        for mutation in scenario.mutations:
            if mutation.on_source:
                apply_mutation(source, mutation, times)
            else:
                for _, target in targets:
                    apply_mutation(target, mutation, times)
        for options, target in targets:
            before = tree_state(target)
            result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, options)
            assert result.ok, result.failures
            assert_converged(source, target)
            if not result.plan.is_empty:
                undone = undo_run(journal, LocalBackend(str(target)))
                assert undone.ok, undone.failures
            assert tree_state(target) == before
