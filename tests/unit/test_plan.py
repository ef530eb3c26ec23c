"""Properties of the pure mirror and undo planners, checked on a small model filesystem."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dirkit.core.compare.diff import diff_snapshots
from dirkit.core.compare.sameness import SamenessPolicy
from dirkit.core.run.guards import DeleteLimit, GuardOptions, guard_violations, parse_delete_limit
from dirkit.core.run.mirror_plan import MirrorPolicy, plan_mirror
from dirkit.core.run.plan import Action, ActionKind, Fingerprint, Plan, entry_matches, fingerprint_of
from dirkit.core.run.plan_json import plan_from_json_lines, plan_to_json_lines
from dirkit.core.run.stale import find_stale_actions
from dirkit.core.run.undo import JournalStep, StepStatus, plan_undo
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import ROOT, RelPath, is_inside, join_path, parent_path, path_parts
from dirkit.core.tree.snapshot import Snapshot, make_snapshot
from dirkit.errors import UsageError

Tree = dict[RelPath, Entry]
BACKUPS = RelPath(".dirkit/backups")


class ModelTree:
    """A pure model of a target filesystem: entries by path, a clock, and parent mtimes that move."""

    def __init__(self, entries: Tree) -> None:
        self.entries: Tree = dict(entries)
        self.clock = 5_000

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def touch_parent(self, path: RelPath) -> None:
        parent = parent_path(path)
        if parent and parent in self.entries:
            self.entries[parent] = self.entries[parent]._replace(mtime_ns=self.tick())

    def ensure_dirs(self, path: RelPath) -> None:
        built = ROOT
        for part in path_parts(path):
            built = join_path(built, part)
            if built not in self.entries:
                self.entries[built] = Entry(built, EntryKind.DIR, mode=0o755, mtime_ns=self.tick())

    def move(self, old: RelPath, new: RelPath) -> None:
        assert new not in self.entries, new
        self.ensure_dirs(parent_path(new))
        for path in [path for path in self.entries if is_inside(path, old)]:
            moved = RelPath(new + path[len(old) :])
            self.entries[moved] = self.entries.pop(path)._replace(path=moved)
        self.touch_parent(old)
        self.touch_parent(new)

    def visible(self) -> Snapshot:
        return make_snapshot(
            entry for path, entry in self.entries.items() if not is_inside(path, RelPath(".dirkit"))
        )

    def apply(self, plan: Plan, source: Tree, run_id: str) -> list[JournalStep]:
        """Apply a plan strictly (every expectation must hold) and return its journal."""
        steps: list[JournalStep] = []
        for seq, action in enumerate(plan.actions):
            done, backup = self.apply_action(action, source, run_id)
            status = StepStatus.DONE if done else StepStatus.SKIPPED
            steps.append(JournalStep(seq, action, status, backup, None))
        return steps

    def precondition_holds(self, action: Action) -> bool:
        """Tell whether the target still holds what the action expects."""
        current = self.entries.get(action.path)
        kind = action.kind
        if kind in (ActionKind.BACKUP, ActionKind.REMOVE):
            return action.expected is not None and entry_matches(action.expected, current)
        if kind in (ActionKind.SET_MTIME, ActionKind.SET_MODE):
            if action.expected is not None:
                return entry_matches(action.expected, current)
            return current is not None
        if kind is ActionKind.RENAME:
            assert action.source_path is not None
            moved = self.entries.get(action.source_path)
            if moved is None or current is not None:
                return False
            return action.source_expected is None or entry_matches(action.source_expected, moved)
        return current is None

    def apply_action(self, action: Action, source: Tree, run_id: str) -> tuple[bool, RelPath | None]:
        path = action.path
        kind = action.kind
        if not self.precondition_holds(action):
            assert action.optional, (action, self.entries.get(path))
            return False, None
        current = self.entries.get(path)
        if kind is ActionKind.BACKUP:
            backup = join_path(join_path(BACKUPS, run_id), path)
            self.move(path, backup)
            return True, backup
        if kind is ActionKind.RENAME:
            assert action.source_path is not None
            self.move(action.source_path, path)
            return True, None
        if kind is ActionKind.REMOVE:
            if any(parent_path(other) == path for other in self.entries):
                assert action.optional
                return False, None
            del self.entries[path]
            self.touch_parent(path)
            return True, None
        if kind in (ActionKind.SET_MTIME, ActionKind.SET_MODE):
            assert current is not None
            if kind is ActionKind.SET_MTIME:
                self.entries[path] = current._replace(mtime_ns=action.mtime_ns)
            else:
                self.entries[path] = current._replace(mode=action.mode or 0)
            return True, None
        assert self.entries.get(parent_path(path), Entry(ROOT, EntryKind.DIR)).kind is EntryKind.DIR
        if kind is ActionKind.MAKE_DIR:
            self.entries[path] = Entry(path, EntryKind.DIR, mode=0o755, mtime_ns=self.tick())
        elif kind is ActionKind.COPY_FILE:
            origin = source[action.source_path or path]
            self.entries[path] = origin._replace(mtime_ns=action.mtime_ns, mode=action.mode or 0)
        elif kind is ActionKind.MAKE_SYMLINK:
            self.entries[path] = Entry(path, EntryKind.SYMLINK, target=action.link_target, mode=0o777)
            if action.mtime_ns is not None:
                self.entries[path] = self.entries[path]._replace(mtime_ns=action.mtime_ns)
        else:
            raise AssertionError(kind)
        self.touch_parent(path)
        return True, None


NAMES = st.sampled_from(["a", "b", "a-b", "c.txt"])
LEAVES = st.tuples(
    st.lists(NAMES, min_size=1, max_size=3).map("/".join),
    st.sampled_from([EntryKind.FILE, EntryKind.FILE, EntryKind.SYMLINK, EntryKind.DIR]),
    st.integers(0, 3),
    st.sampled_from([1_000, 2_000]),
    st.sampled_from([0o644, 0o600]),
)


def build_tree(leaves: Iterable[tuple[str, EntryKind, int, int, int]]) -> Tree:
    """Return a consistent tree: every ancestor of a leaf is a directory; clashing leaves dropped."""
    tree: Tree = {}
    for text, kind, content, mtime, mode in leaves:
        path = RelPath(text)
        parents = []
        parent = parent_path(path)
        while parent:
            parents.append(parent)
            parent = parent_path(parent)
        if path in tree or any(p in tree and tree[p].kind is not EntryKind.DIR for p in parents):
            continue
        if any(is_inside(other, path) and other != path for other in tree) and kind is not EntryKind.DIR:
            continue
        for parent in parents:
            tree.setdefault(parent, Entry(parent, EntryKind.DIR, mode=0o755, mtime_ns=mtime))
        if kind is EntryKind.FILE:
            tree[path] = Entry(path, kind, size=content, mtime_ns=mtime, mode=mode, digest=f"d{content}")
        elif kind is EntryKind.SYMLINK:
            tree[path] = Entry(path, kind, mtime_ns=mtime, mode=0o777, target=f"t{content}")
        else:
            tree[path] = Entry(path, kind, mtime_ns=mtime, mode=mode | 0o100)
    return tree


TREES = st.lists(LEAVES, max_size=8).map(build_tree)
POLICY = SamenessPolicy()


def state_of(snapshot: Snapshot) -> dict[RelPath, tuple[object, ...]]:
    """Return what matters of each entry: kind, size, content, mode, link target, file and dir mtimes."""
    return {
        entry.path: (
            entry.kind,
            entry.size,
            entry.digest,
            entry.mode,
            entry.target,
            None if entry.kind is EntryKind.SYMLINK else entry.mtime_ns,
        )
        for entry in snapshot
    }


def mirror_plan(source: Tree, model: ModelTree) -> Plan:
    diff = diff_snapshots(make_snapshot(source.values()), model.visible(), POLICY)
    return plan_mirror(diff, MirrorPolicy(sameness=POLICY), source="src", target="dst")


@settings(max_examples=300)
@given(TREES, TREES)
def test_mirror_plan_makes_target_equal_source_and_replans_empty(source: Tree, target: Tree) -> None:
    model = ModelTree(target)
    model.apply(mirror_plan(source, model), source, "r1")
    assert state_of(model.visible()) == state_of(make_snapshot(source.values()))
    assert mirror_plan(source, model).is_empty


@settings(max_examples=300)
@given(TREES, TREES)
def test_undo_after_mirror_restores_the_original_target(source: Tree, target: Tree) -> None:
    model = ModelTree(target)
    original = state_of(model.visible())
    steps = model.apply(mirror_plan(source, model), source, "r1")
    undo = plan_undo("r1", "dst", steps)
    redo_steps = model.apply(undo, source, "r2")
    assert state_of(model.visible()) == original
    model.apply(plan_undo("r2", "dst", redo_steps), source, "r3")
    assert state_of(model.visible()) == state_of(make_snapshot(source.values()))


@settings(max_examples=150)
@given(TREES, TREES)
def test_undo_of_an_interrupted_run_restores_the_original_target(source: Tree, target: Tree) -> None:
    model = ModelTree(target)
    original = state_of(model.visible())
    plan = mirror_plan(source, model)
    cut = len(plan.actions) // 2
    steps = model.apply(Plan("mirror", "dst", plan.actions[:cut], plan.totals), source, "r1")
    pending = [
        JournalStep(
            cut + index, action, StepStatus.PENDING, join_path(RelPath(".dirkit/backups/r1"), action.path)
        )
        for index, action in enumerate(plan.actions[cut:])
    ]
    model.apply(plan_undo("r1", "dst", steps + pending), source, "r2")
    assert state_of(model.visible()) == original


@settings(max_examples=200)
@given(TREES, TREES)
def test_plan_survives_json_lines(source: Tree, target: Tree) -> None:
    plan = mirror_plan(source, ModelTree(target))
    assert plan_from_json_lines(plan_to_json_lines(plan)) == plan


@settings(max_examples=150)
@given(TREES, TREES)
def test_a_fresh_plan_is_never_stale(source: Tree, target: Tree) -> None:
    model = ModelTree(target)
    plan = mirror_plan(source, model)
    assert find_stale_actions(plan, source, model.entries, model.visible().entries) == []


def test_stale_plan_names_the_changed_paths() -> None:
    source = build_tree([("new", EntryKind.FILE, 1, 1_000, 0o644), ("same", EntryKind.FILE, 2, 1_000, 0o644)])
    target = build_tree(
        [("gone/x", EntryKind.FILE, 1, 1_000, 0o644), ("same", EntryKind.FILE, 3, 1_000, 0o644)]
    )
    plan = mirror_plan(source, ModelTree(target))
    changed_source = dict(source)
    changed_source[RelPath("new")] = changed_source[RelPath("new")]._replace(size=9)
    changed_target = dict(target)
    extra = RelPath("gone/y")
    changed_target[extra] = Entry(extra, EntryKind.FILE, size=1, mtime_ns=1)
    reasons = find_stale_actions(plan, changed_source, changed_target, changed_target.values())
    assert any(reason.startswith("new: changed in the source") for reason in reasons)
    assert any(reason.startswith("gone: something below") for reason in reasons)


def test_no_delete_keeps_extras() -> None:
    source = build_tree([("a", EntryKind.FILE, 1, 1_000, 0o644)])
    target = build_tree([("b/c", EntryKind.FILE, 1, 1_000, 0o644)])
    diff = diff_snapshots(make_snapshot(source.values()), make_snapshot(target.values()), POLICY)
    plan = plan_mirror(diff, MirrorPolicy(delete=False))
    assert [action.kind for action in plan.actions] == [ActionKind.COPY_FILE]
    assert plan.totals.deleted_files == 0


def test_totals_count_copies_bytes_and_deletions() -> None:
    source = build_tree([("a", EntryKind.FILE, 3, 1_000, 0o644), ("d/b", EntryKind.FILE, 2, 1_000, 0o644)])
    target = build_tree([("x/y", EntryKind.FILE, 1, 1_000, 0o644), ("x/z", EntryKind.FILE, 1, 1_000, 0o644)])
    plan = mirror_plan(source, ModelTree(target))
    assert (plan.totals.files, plan.totals.bytes, plan.totals.deleted_files) == (2, 5, 2)
    assert plan.totals.backups == 1


def test_guards_refuse_empty_source_and_mass_deletion() -> None:
    target = build_tree([(f"f{index}", EntryKind.FILE, 1, 1_000, 0o644) for index in range(4)])
    plan = mirror_plan({}, ModelTree(target))
    assert "source is empty" in guard_violations(plan, 0, 4, 4, GuardOptions())[0]
    assert guard_violations(plan, 0, 4, 4, GuardOptions(force=True)) == []
    half = mirror_plan({RelPath("f0"): target[RelPath("f0")]}, ModelTree(target))
    assert "delete 3 of the target's 4 files (75%)" in guard_violations(half, 1, 4, 4, GuardOptions())[0]
    assert guard_violations(half, 1, 4, 4, GuardOptions(DeleteLimit(count=3, percent=None))) == []
    assert guard_violations(half, 1, 4, 4, GuardOptions(parse_delete_limit("80%"))) == []


@pytest.mark.parametrize("text", ["-1", "x", "120%", ""])
def test_bad_delete_limits_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_delete_limit(text)


def test_fingerprint_matching() -> None:
    entry = Entry(RelPath("f"), EntryKind.FILE, size=3, mtime_ns=10)
    assert entry_matches(fingerprint_of(entry), entry)
    assert not entry_matches(fingerprint_of(entry), entry._replace(mtime_ns=11))
    assert not entry_matches(fingerprint_of(entry), None)
    assert entry_matches(Fingerprint(EntryKind.DIR), Entry(RelPath("d"), EntryKind.DIR, mtime_ns=99))
