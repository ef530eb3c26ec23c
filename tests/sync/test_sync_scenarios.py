"""Sync scenarios as readable tables, after rclone bisync's golden cases and Unison's self-tests.

Each scenario starts from two trees synced once (initial), edits side A then side B, syncs, and
states what both sides hold after (expect), or each side (expect_a/expect_b) when a conflict is
left alone. Every scenario runs on local-local and local-memory pairs, a subset (ON_REMOTE) also on
local-FTP and local-SFTP pairs, then a second sync must have nothing to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dirkit.backends.protocol import Backend
from dirkit.core.run.guards import GuardOptions
from dirkit.core.run.plan import ActionKind
from dirkit.core.sync.plan import Prefer
from dirkit.errors import RefusedError
from dirkit.ops.sync.planning import SyncOptions
from dirkit.ops.sync.run import sync_trees
from dirkit.state.journal import Journal
from tests.sync.pairs import DIR, PAIR_KINDS, REMOTE_PAIR_KINDS, Edit, Mode, Touch, TreeSide, make_pair


@dataclass(frozen=True, slots=True)
class Scenario:
    """Initial trees (in step), edits on each side, and what each side must hold after one sync."""

    initial: Mapping[str, Edit]
    on_a: Mapping[str, Edit] = field(default_factory=dict)
    on_b: Mapping[str, Edit] = field(default_factory=dict)
    expect: Mapping[str, str] | None = None
    expect_a: Mapping[str, str] | None = None
    expect_b: Mapping[str, str] | None = None
    conflicts: tuple[str, ...] = ()
    options: SyncOptions = field(default_factory=SyncOptions)
    refused: str | None = None
    backed_up: tuple[str, ...] = ()
    """Texts that must be in the backups (of either side) after the sync."""
    renamed: tuple[str, ...] = ()
    """New paths the sync makes by renaming (found by content), copying no file."""


BASIC: dict[str, str] = {"one.txt": "1", "two.txt": "2", "d/three.txt": "3"}
SCENARIOS: dict[str, Scenario] = {
    # rclone bisync test_changes: new, newer and deleted on each side, changed on both, deleted on both
    "new on each side": Scenario(
        BASIC,
        on_a={"new-a.txt": "na"},
        on_b={"d/new-b.txt": "nb"},
        expect={**BASIC, "d": DIR, "new-a.txt": "na", "d/new-b.txt": "nb"},
    ),
    "newer on each side": Scenario(
        BASIC,
        on_a={"one.txt": "1 from A"},
        on_b={"two.txt": "2 from B"},
        expect={"one.txt": "1 from A", "two.txt": "2 from B", "d": DIR, "d/three.txt": "3"},
        backed_up=("1", "2"),
    ),
    "deleted on each side": Scenario(
        BASIC,
        on_a={"one.txt": None},
        on_b={"d/three.txt": None},
        expect={"two.txt": "2", "d": DIR},
        backed_up=("1", "3"),
    ),
    "deleted on both": Scenario(
        BASIC,
        on_a={"one.txt": None},
        on_b={"one.txt": None},
        expect={"two.txt": "2", "d": DIR, "d/three.txt": "3"},
    ),
    "changed on both, the same way": Scenario(
        BASIC,
        on_a={"one.txt": "same"},
        on_b={"one.txt": "same"},
        expect={**BASIC, "d": DIR, "one.txt": "same"},
    ),
    "changed on both, differently: a conflict left alone": Scenario(
        BASIC,
        on_a={"one.txt": "A's"},
        on_b={"one.txt": "B's!"},
        expect_a={"one.txt": "A's", "two.txt": "2", "d": DIR, "d/three.txt": "3"},
        expect_b={"one.txt": "B's!", "two.txt": "2", "d": DIR, "d/three.txt": "3"},
        conflicts=("one.txt",),
    ),
    "newer on A, deleted on B: the edit is kept": Scenario(
        BASIC,
        on_a={"one.txt": "edited"},
        on_b={"one.txt": None},
        expect={**BASIC, "d": DIR, "one.txt": "edited"},
    ),
    "deleted on A, newer on B: the edit is kept": Scenario(
        BASIC,
        on_a={"two.txt": None},
        on_b={"two.txt": "edited"},
        expect={**BASIC, "d": DIR, "two.txt": "edited"},
    ),
    # test_all_changed: every file changed on one side
    "all files changed on A": Scenario(
        BASIC,
        on_a={"one.txt": "v2 1", "two.txt": "v2 2", "d/three.txt": "v2 3"},
        expect={"one.txt": "v2 1", "two.txt": "v2 2", "d": DIR, "d/three.txt": "v2 3"},
        backed_up=("1", "2", "3"),
    ),
    # test_max_delete_path1 / path2_force
    "more than half deleted on A: refused": Scenario(
        BASIC, on_a={"one.txt": None, "two.txt": None}, refused="more than --max-delete"
    ),
    "more than half deleted on B, with --force": Scenario(
        BASIC,
        on_b={"one.txt": None, "two.txt": None},
        expect={"d": DIR, "d/three.txt": "3"},
        options=SyncOptions(guards=GuardOptions(force=True)),
    ),
    "a side emptied (unmounted?): refused": Scenario(
        BASIC, on_b={"one.txt": None, "two.txt": None, "d": None}, refused="is empty"
    ),
    # test_createemptysrcdirs / test_rmdirs
    "empty folders are made and removed": Scenario(
        {**BASIC, "old-empty": DIR},
        on_a={"new-empty": DIR, "old-empty": None},
        expect={**BASIC, "d": DIR, "new-empty": DIR},
    ),
    "a folder deleted on A with everything in it": Scenario(
        {**BASIC, "d/e/deep.txt": "4", "x.txt": "5"},
        on_a={"d": None},
        expect={"one.txt": "1", "two.txt": "2", "x.txt": "5"},
        backed_up=("3", "4"),
    ),
    "a folder deleted on A while B edited a file in it": Scenario(
        {**BASIC, "d/other.txt": "4", "x.txt": "5"},
        on_a={"d": None},
        on_b={"d/three.txt": "3 edited"},
        expect={"one.txt": "1", "two.txt": "2", "x.txt": "5", "d": DIR, "d/three.txt": "3 edited"},
    ),
    # test_extended_filenames / test_normalization
    "odd names": Scenario(
        BASIC,
        on_a={"with space.txt": "s", "-dash": "d", "ünïcødé/日本.txt": "u", "a" * 200: "long"},
        on_b={"caf\u0065\u0301.txt": "nfd", "caf\u00e9.txt": "nfc"},
        expect={
            **BASIC,
            "d": DIR,
            "with space.txt": "s",
            "-dash": "d",
            "ünïcødé": DIR,
            "ünïcødé/日本.txt": "u",
            "a" * 200: "long",
            "caf\u0065\u0301.txt": "nfd",
            "caf\u00e9.txt": "nfc",
        },
    ),
    # test_filters
    "excluded paths are left alone on both sides": Scenario(
        BASIC,
        on_a={"skip.tmp": "a tmp", "one.txt": "1b"},
        on_b={"cache/x.tmp": "b tmp"},
        expect_a={"one.txt": "1b", "two.txt": "2", "d": DIR, "d/three.txt": "3", "skip.tmp": "a tmp"},
        expect_b={
            "one.txt": "1b",
            "two.txt": "2",
            "d": DIR,
            "d/three.txt": "3",
            "cache": DIR,
            "cache/x.tmp": "b tmp",
        },
        options=SyncOptions(exclude=("*.tmp", "cache/")),
    ),
    # test_resolve: the policies
    "a conflict with --prefer newer": Scenario(
        BASIC,
        on_a={"one.txt": "A's"},
        on_b={"one.txt": "B's, later"},
        expect={**BASIC, "d": DIR, "one.txt": "B's, later"},
        options=SyncOptions(prefer=Prefer.NEWER),
        backed_up=("A's",),
    ),
    "a conflict with --prefer A --keep-both": Scenario(
        {"notes.md": "n"},
        on_a={"notes.md": "A's"},
        on_b={"notes.md": "B's"},
        options=SyncOptions(prefer=Prefer.A, keep_both=True),
    ),
    # Unison: touched files are no update; modes propagate; directories replacing files and back
    "only the mtime moved: nothing is copied": Scenario(
        BASIC, on_a={"one.txt": Touch()}, expect={**BASIC, "d": DIR}
    ),
    "a mode change propagates": Scenario(BASIC, on_b={"two.txt": Mode(0o600)}, expect={**BASIC, "d": DIR}),
    "a file replaced by a folder": Scenario(
        BASIC,
        on_a={"one.txt": None, "one.txt/inner": "i"},
        expect={**BASIC, "d": DIR, "one.txt": DIR, "one.txt/inner": "i"},
    ),
    "a folder replaced by a file": Scenario(
        BASIC, on_b={"d": "now a file"}, expect={"one.txt": "1", "two.txt": "2", "d": "now a file"}
    ),
    # Unison moves/renames 1: a rename on one side (content kept, old name gone)
    "a file renamed on A": Scenario(
        BASIC,
        on_a={"one.txt": None, "d/one-renamed.txt": "1"},
        expect={"two.txt": "2", "d": DIR, "d/three.txt": "3", "d/one-renamed.txt": "1"},
        renamed=("d/one-renamed.txt",),
    ),
    "a folder renamed on B": Scenario(
        {**BASIC, "d/sub/four.txt": "4", "d/link": "l"},
        on_b={"d": None, "e/three.txt": "3", "e/sub/four.txt": "4", "e/link": "l"},
        expect={
            "one.txt": "1",
            "two.txt": "2",
            "e": DIR,
            "e/three.txt": "3",
            "e/sub": DIR,
            "e/sub/four.txt": "4",
            "e/link": "l",
        },
        renamed=("e",),
    ),
    "a folder moved into a new folder": Scenario(
        {**BASIC, "old/keep.txt": "k"},
        on_a={"old": None, "new/deeper/keep.txt": "k"},
        expect={**BASIC, "d": DIR, "new": DIR, "new/deeper": DIR, "new/deeper/keep.txt": "k"},
        renamed=("new/deeper",),
    ),
    "renamed on A, edited on B: both kept, nothing lost": Scenario(
        BASIC,
        on_a={"one.txt": None, "uno.txt": "1"},
        on_b={"one.txt": "1 edited on B"},
        expect={**BASIC, "d": DIR, "one.txt": "1 edited on B", "uno.txt": "1"},
    ),
    "renamed differently on both sides: a conflict": Scenario(
        BASIC,
        on_a={"one.txt": None, "uno.txt": "1"},
        on_b={"one.txt": None, "eins.txt": "1"},
        expect_a={"two.txt": "2", "d": DIR, "d/three.txt": "3", "uno.txt": "1"},
        expect_b={"two.txt": "2", "d": DIR, "d/three.txt": "3", "eins.txt": "1"},
        conflicts=("one.txt",),
    ),
}


ON_REMOTE = (
    "newer on each side",
    "deleted on each side",
    "changed on both, differently: a conflict left alone",
    "newer on A, deleted on B: the edit is kept",
    "a folder deleted on A while B edited a file in it",
    "odd names",
    "a conflict with --prefer A --keep-both",
    "only the mtime moved: nothing is copied",
    "a folder replaced by a file",
    "a folder renamed on B",
    "a file renamed on A",
    "renamed differently on both sides: a conflict",
    "a conflict with --prefer newer",
)
"""The scenarios that also run on local-FTP and local-SFTP pairs (each costs a few server round trips per
path)."""
CASES = [
    (name, pair)
    for name in SCENARIOS
    for pair in PAIR_KINDS
    if pair not in REMOTE_PAIR_KINDS or name in ON_REMOTE
]


@pytest.mark.parametrize(("name", "pair"), CASES)
def test_scenario(name: str, pair: str, tmp_path: Path, journal: Journal) -> None:
    a_tree, b_tree = make_pair(pair, tmp_path)
    try:
        run_scenario(name, a_tree, b_tree, journal)
    finally:
        a_tree.close()
        b_tree.close()


def run_scenario(name: str, a_tree: Backend, b_tree: Backend, journal: Journal) -> None:
    """Set up, edit, sync and check one scenario on a pair of trees."""
    scenario = SCENARIOS[name]
    a, b = TreeSide(a_tree), TreeSide(b_tree)
    a.apply(scenario.initial)
    b.apply(scenario.initial)
    first = sync_trees(a_tree, b_tree, journal, scenario.options)
    assert first.in_step and first.planning.plan.is_empty
    a.apply(scenario.on_a)
    b.apply(scenario.on_b)
    before = set(a.state().values()) | set(b.state().values())
    if scenario.refused is not None:
        with pytest.raises(RefusedError, match=scenario.refused):
            sync_trees(a_tree, b_tree, journal, scenario.options)
        return
    result = sync_trees(a_tree, b_tree, journal, scenario.options)
    assert [c.path for c in result.conflicts] == list(scenario.conflicts)
    if scenario.renamed:
        plan = result.planning.plan
        actions = [step.action for step in (*plan.a_steps, *plan.b_steps)]
        assert [a.path for a in actions if a.kind is ActionKind.RENAME] == list(scenario.renamed)
        assert not [a for a in actions if a.kind in (ActionKind.COPY_FILE, ActionKind.BACKUP)]
    after_a, after_b = a.state(), b.state()
    if scenario.expect is not None:
        assert after_a == scenario.expect
        assert after_b == scenario.expect
    if scenario.expect_a is not None:
        assert after_a == scenario.expect_a
        assert after_b == scenario.expect_b
    if name.endswith("--keep-both"):
        (kept,) = [path for path in after_a if ".conflict-B-" in path]
        assert after_a == after_b == {"notes.md": "A's", kept: "B's"}
    backups = a.backups() + b.backups()
    assert set(scenario.backed_up) <= set(backups)
    # nothing lost: every text on a side before the sync is on a side or in a backup after it
    assert before <= set(after_a.values()) | set(after_b.values()) | set(backups) | {DIR}
    again = sync_trees(a_tree, b_tree, journal, scenario.options)
    assert again.planning.plan.is_empty
    assert again.planning.digests_read <= 2 * len(scenario.conflicts)
    if not scenario.conflicts:
        assert not again.planning.plan.settled
