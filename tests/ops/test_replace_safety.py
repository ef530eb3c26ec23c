"""Each path holds its old or its new content, whatever step fails: replaces, faults and crash gaps."""

from __future__ import annotations

import errno
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from dirkit.backends.faulty import ANY_METHOD, Fault, FaultyBackend
from dirkit.backends.local import LocalBackend
from dirkit.backends.memory import MemoryBackend
from dirkit.backends.protocol import Backend, Capabilities
from dirkit.core.run.guards import GuardOptions
from dirkit.core.run.plan import Action, ActionKind, Plan, fingerprint_of, make_plan
from dirkit.core.tree.filters import TEMP_MARKER
from dirkit.core.tree.paths import RelPath
from dirkit.errors import DirkitError
from dirkit.ops.run.execute import ExecuteOptions, RunResult, execute_plan
from dirkit.ops.run.mirror import MirrorOptions, mirror_trees, plan_mirror_trees
from dirkit.ops.run.recovery import recover_target
from dirkit.ops.run.undo import plan_undo_run, undo_run
from dirkit.state.journal import Journal
from tests.support import MakeTree, build_tree, read_tree

ONE_JOB = MirrorOptions(guards=GuardOptions(force=True), jobs=1)
State = dict[str, tuple[object, ...]]


def content_state(root: Path) -> State:
    """Return every path below root (except .dirkit) with its kind and bytes, link target or mode."""
    state: State = {}
    for path, node in read_tree(root).items():
        if node.kind == "link":
            state[path] = ("link", node.data)
        elif node.kind == "dir":
            state[path] = ("dir",)
        else:
            state[path] = ("file", node.data, node.mode)
    return state


def assert_old_or_new(final: State, old: State, new: State) -> None:
    """Check that each path holds its old or its new state, never missing where both had one."""
    assert not [path for path in final if TEMP_MARKER in path], final
    for path in sorted(set(old) | set(new) | set(final)):
        assert final.get(path) in (old.get(path), new.get(path)), (path, final.get(path), old, new)


# -- item 1: a failed write never moves the old file ------------------------------------------------


def test_a_full_disk_keeps_the_old_file_where_it_was(
    make_tree: MakeTree, small_disk: Path, journal: Journal
) -> None:
    source = make_tree("src", {"big.bin": os.urandom(2 * 1024 * 1024), "note.txt": "new note"})
    target = build_tree(small_disk / "dst", {"big.bin": "the only old copy", "note.txt": "old note"})
    result = mirror_trees(LocalBackend(str(source)), LocalBackend(str(target)), journal, ONE_JOB)
    assert not result.ok
    assert (target / "big.bin").read_text() == "the only old copy"
    failure = next(failure for failure in result.failures if failure.path == "big.bin")
    assert "No space left" in failure.reason and "keeps its old content" in failure.reason
    assert not (target / result.backup_dir / "big.bin").exists()
    assert not [name for name in os.listdir(target) if TEMP_MARKER in name]


def test_an_unreadable_source_file_keeps_the_old_file(make_tree: MakeTree, journal: Journal) -> None:
    source = make_tree("src", {"a.txt": "new a!", "b.txt": "new b!"})
    target = make_tree("dst", {"a.txt": "old a", "b.txt": "old b"})
    unreadable = FaultyBackend(
        LocalBackend(str(source)), [Fault("open_read", errno.EACCES, path=RelPath("a.txt"))]
    )
    result = mirror_trees(unreadable, LocalBackend(str(target)), journal, ONE_JOB)
    assert [failure.path for failure in result.failures] == ["a.txt"]
    assert "Permission denied" in result.failures[0].reason
    assert (target / "a.txt").read_text() == "old a"
    assert (target / "b.txt").read_text() == "new b!"
    undone = undo_run(journal, LocalBackend(str(target)))
    assert undone.ok
    assert (target / "a.txt").read_text() == "old a"
    assert (target / "b.txt").read_text() == "old b"


def test_a_replace_on_local_disk_hard_links_the_backup_and_swaps_atomically(
    make_tree: MakeTree, journal: Journal
) -> None:
    source = make_tree("src", {"a.txt": "the new content"})
    target = make_tree("dst", {"a.txt": "old content"})
    old_inode = os.stat(target / "a.txt").st_ino
    faulty = FaultyBackend(LocalBackend(str(target)), [])
    result = mirror_trees(LocalBackend(str(source)), faulty, journal, ONE_JOB)
    assert result.ok
    assert faulty.calls.get("hard_link") == 1
    assert os.stat(target / result.backup_dir / "a.txt").st_ino == old_inode
    assert (target / "a.txt").read_text() == "the new content"
    assert undo_run(journal, LocalBackend(str(target))).ok
    assert (target / "a.txt").read_text() == "old content"


def test_without_hard_links_a_failed_second_rename_puts_the_old_file_back(journal: Journal) -> None:
    target = MemoryBackend("dst", Capabilities(parallel_connections=1, hard_links=False))
    target.add_file("a.txt", b"old content")
    source = MemoryBackend("src")
    source.add_file("a.txt", b"the new content")
    faulty = FaultyBackend(target, [Fault("rename", errno.EIO, nth=2)])
    result = mirror_trees(source, faulty, journal, ONE_JOB)
    assert [failure.path for failure in result.failures] == ["a.txt"]
    assert "keeps its old content" in result.failures[0].reason
    assert faulty.calls["rename"] == 3
    with target.open_read(RelPath("a.txt")) as stream:
        assert stream.read() == b"old content"
    assert sorted(entry.path for entry in target.list_dir(RelPath(""))) == [".dirkit", "a.txt"]


def test_recovery_closes_the_gap_of_a_replace_cut_between_its_renames(
    make_tree: MakeTree, journal: Journal
) -> None:
    target = make_tree("dst", {"a.txt": "old content"})
    backend = LocalBackend(str(target))
    actions = [
        Action(ActionKind.BACKUP, RelPath("a.txt"), expected=fingerprint_of(backend.stat(RelPath("a.txt")))),
        Action(ActionKind.COPY_FILE, RelPath("a.txt"), size=3, source_path=RelPath("a.txt")),
    ]
    plan = make_plan("mirror", backend.description, actions, source="elsewhere")
    dead = subprocess.Popen(["true"])
    dead.wait()
    journal.start_run(
        "run-cut", "mirror", backend.description, "elsewhere", RelPath(".dirkit/backups/run-cut"),
        dead.pid, os.uname().nodename, "2026-01-01T00:00:00+00:00", {}, actions=plan.actions,
    )  # fmt: skip
    journal.mark_started("run-cut", 2)
    (target / ".dirkit/backups/run-cut").mkdir(parents=True)
    (target / "a.txt").rename(target / ".dirkit/backups/run-cut/a.txt")
    (target / f".a.txt{TEMP_MARKER}0000").write_text("new")
    recovered = recover_target(journal, backend)
    assert [run.restored for run in recovered] == [("a.txt",)]
    assert (target / "a.txt").read_text() == "old content"
    assert sorted(os.listdir(target)) == [".dirkit", "a.txt"]


# -- item 4: a fault at each backend call of each action kind -------------------------------------


@dataclass(frozen=True)
class Scenario:
    """Two trees; the plan makes the target like the source (or undoes that, for an undo scenario)."""

    name: str
    source: dict[str, str | None]
    target: dict[str, str | None]
    links: dict[str, str] | None = None
    """Symlinks to add to the source (name to link target)."""
    target_links: dict[str, str] | None = None
    modes: dict[str, int] | None = None
    """Modes to set on target files."""
    undo: bool = False
    hard_link: bool = False


SCENARIOS = [
    Scenario("make dir", {"d": None, "d/e": None, "d/e/f": "x"}, {}),
    Scenario("copy file", {"a": "new", "b": "other"}, {"b": "other"}),
    Scenario("replace file", {"a": "new content", "b": "new b!"}, {"a": "old", "b": "old b"}),
    Scenario("replace file by link", {}, {"a": "old"}, links={"a": "elsewhere"}),
    Scenario("replace link by file", {"a": "new"}, {}, target_links={"a": "elsewhere"}),
    Scenario("replace dir by file", {"a": "new"}, {"a/f": "old", "a/g/h": "old h"}),
    Scenario("replace file by dir", {"a/f": "new f"}, {"a": "old"}),
    Scenario("delete", {"keep": "k"}, {"keep": "k", "gone": "old", "d/f": "old f"}),
    Scenario("set mode", {"a": "same"}, {"a": "same"}, modes={"a": 0o600}),
    Scenario("rename", {"new/name.bin": "payload 12345"}, {"old/name.bin": "payload 12345"}),
    Scenario(
        "undo",
        {"a": "new!!", "d/f": "new f!!", "n/x": "nx"},
        {"a": "old", "d/f": "old f", "z": "z"},
        undo=True,
    ),
    Scenario("hard link", {}, {"a": "linked"}, hard_link=True),
]


def _build(scenario: Scenario, root: Path, journal: Journal) -> tuple[Path, Path, Plan, State, State]:
    """Make the scenario's trees below root; return them, the plan, and the old and new states."""
    source = build_tree(root / "src", scenario.source)
    target = build_tree(root / "dst", scenario.target)
    for name, link in (scenario.links or {}).items():
        os.symlink(link, source / name)
    for name, link in (scenario.target_links or {}).items():
        os.symlink(link, target / name)
    for name, mode in (scenario.modes or {}).items():
        os.chmod(target / name, mode)
        os.utime(target / name, (1_600_000_000, 1_600_000_000))
    local = LocalBackend(str(target))
    if scenario.hard_link:
        entry = local.stat(RelPath("a"))
        linking = Action(
            ActionKind.HARD_LINK,
            RelPath("b"),
            source_path=RelPath("a"),
            source_expected=fingerprint_of(entry),
        )
        plan = make_plan("dupes", local.description, [linking])
        old = content_state(target)
        return source, target, plan, old, {**old, "b": old["a"]}
    if scenario.undo:
        mirror_trees(LocalBackend(str(source)), local, journal, ONE_JOB)
        old = content_state(target)
        new = content_state(build_tree(root / "before", scenario.target))
        return source, target, plan_undo_run(journal, local), old, new
    plan = plan_mirror_trees(LocalBackend(str(source)), local, ONE_JOB).plan
    return source, target, plan, content_state(target), content_state(source)


def _execute(scenario: Scenario, plan: Plan, source: Path, target: Backend, journal: Journal) -> RunResult:
    options = ExecuteOptions(jobs=1, undoes=str(plan.options.get("undoes")) if scenario.undo else None)
    origin = None if scenario.undo or scenario.hard_link else LocalBackend(str(source))
    return execute_plan(plan, target, journal, origin, options)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.name for scenario in SCENARIOS])
def test_a_fault_at_any_backend_call_leaves_old_or_new_content(
    scenario: Scenario, tmp_path: Path, journal: Journal
) -> None:
    source, target, plan, old, new = _build(scenario, tmp_path / "clean", journal)
    counting = FaultyBackend(LocalBackend(str(target)), [])
    assert _execute(scenario, plan, source, counting, journal).ok
    assert content_state(target) == new
    calls = counting.calls[ANY_METHOD]
    assert 0 < calls < 200
    for nth in range(1, calls + 1):
        source, target, plan, old, new = _build(scenario, tmp_path / f"fault{nth}", journal)
        faulty = FaultyBackend(LocalBackend(str(target)), [Fault(ANY_METHOD, errno.EIO, nth=nth)])
        try:
            result = _execute(scenario, plan, source, faulty, journal)
        except DirkitError:
            assert content_state(target) == old, f"call {nth} raised but changed the tree"
            continue
        assert faulty.fired, f"call {nth} of {calls} never happened"
        assert result.failures, f"the fault at call {nth} ({faulty.fired}) is not in the result"
        assert_old_or_new(content_state(target), old, new)
        # Undo reverts a faulted run; for a faulted undo run it goes on with that undo instead.
        undone = undo_run(journal, LocalBackend(str(target)))
        assert undone.ok, (nth, faulty.fired, undone.failures)
        settled = new if scenario.undo else old
        assert content_state(target) == settled, f"undo after the fault at call {nth} did not settle"
