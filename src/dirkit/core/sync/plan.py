"""The sync plan model: policies, steps on each side with the base change each makes, and conflicts."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple

from dirkit.core.compare.sameness import SamenessPolicy
from dirkit.core.run.plan import Action, ActionKind, SkippedPath
from dirkit.core.sync.base import BaseEntry, Side, SideChange
from dirkit.core.tree.paths import RelPath, base_name, join_path, parent_path


class Prefer(enum.Enum):
    """Which version wins a conflict (NONE: conflicts are listed and left alone)."""

    NONE = "none"
    A = "A"
    B = "B"
    NEWER = "newer"
    OLDER = "older"
    LARGER = "larger"


@dataclass(frozen=True, slots=True)
class SyncPolicy:
    """How to reconcile: conflict policy, sameness of mtimes, and what each side can record."""

    prefer: Prefer = Prefer.NONE
    keep_both: bool = False
    """Keep the losing version of a conflict beside the winner, as NAME.conflict-SIDE-STAMP.EXT."""
    stamp: str = "00000000-000000"
    """The date and time that names kept conflict copies (core has no clock: the caller gives it)."""
    sameness: SamenessPolicy = field(default_factory=SamenessPolicy)
    a_sets_modes: bool = True
    b_sets_modes: bool = True
    a_sets_mtimes: bool = True
    b_sets_mtimes: bool = True

    def sets_modes(self, side: Side) -> bool:
        """Tell whether side can set permission bits."""
        return self.a_sets_modes if side is Side.A else self.b_sets_modes

    def sets_mtimes(self, side: Side) -> bool:
        """Tell whether side can set modification times."""
        return self.a_sets_mtimes if side is Side.A else self.b_sets_mtimes


class BaseChange(NamedTuple):
    """A change of the base at one path: the new row (None: forget the path).

    fill names the side whose mtime and mode are taken from what its step left (the step's result),
    where the entry holds only a prediction.
    """

    path: RelPath
    entry: BaseEntry | None
    fill: Side | None = None


class SyncStep(NamedTuple):
    """One action on one side, and the base changes recorded in the transaction that marks it done."""

    action: Action
    base: BaseChange | None = None
    more: tuple[BaseChange, ...] = ()
    """Further base changes of the same step (a renamed folder moves the rows of all its contents)."""

    @property
    def base_changes(self) -> tuple[BaseChange, ...]:
        """Return every base change the step brings once done."""
        return self.more if self.base is None else (self.base, *self.more)


class ConflictResolution(enum.Enum):
    """What became of a conflict."""

    LEFT_ALONE = "left alone"
    KEPT_EDIT = "kept the edit"
    """A delete on one side against an edit on the other: the edit was copied back."""
    A_WINS = "A wins"
    B_WINS = "B wins"
    KEPT_BOTH = "kept both"


class Conflict(NamedTuple):
    """A path both sides changed in ways that differ, and what was done with it."""

    path: RelPath
    a_change: SideChange
    b_change: SideChange
    resolution: ConflictResolution
    reason: str
    kept_as: RelPath | None = None
    """With --keep-both: where the losing version now lives (on both sides)."""
    left_alone: tuple[RelPath, ...] = ()
    """Other paths this conflict leaves as each side has them (a file renamed apart: its two new names)."""


@dataclass(slots=True)
class SyncPlan:
    """What a sync will do: steps on side A (copying from B), then on side B (copying from A)."""

    a_steps: list[SyncStep] = field(default_factory=list)
    b_steps: list[SyncStep] = field(default_factory=list)
    settled: list[BaseChange] = field(default_factory=list)
    """Base changes that need no step (both sides already agree, or both deleted): written first."""
    conflicts: list[Conflict] = field(default_factory=list)
    skipped: list[SkippedPath] = field(default_factory=list)
    a_deleted_files: int = 0
    """Files of side A the plan deletes (moves to A's backups), not counting replaced ones."""
    b_deleted_files: int = 0

    def steps_on(self, side: Side) -> list[SyncStep]:
        """Return the steps that run on side."""
        return self.a_steps if side is Side.A else self.b_steps

    def deleted_on(self, side: Side) -> int:
        """Return how many files of side the plan deletes."""
        return self.a_deleted_files if side is Side.A else self.b_deleted_files

    @property
    def is_empty(self) -> bool:
        """Tell whether the plan changes nothing on either side (the base may still be refreshed)."""
        return not self.a_steps and not self.b_steps

    @property
    def unresolved(self) -> list[Conflict]:
        """Return the conflicts left alone on both sides."""
        return [item for item in self.conflicts if item.resolution is ConflictResolution.LEFT_ALONE]


def conflict_name(path: RelPath, side: Side, stamp: str) -> RelPath:
    """Return where a losing version is kept: NAME.conflict-SIDE-STAMP.EXT beside path."""
    name = base_name(path)
    dot = name.rfind(".")
    stem, ext = (name[:dot], name[dot:]) if dot > 0 else (name, "")
    return join_path(parent_path(path), f"{stem}.conflict-{side.value}-{stamp}{ext}")


def copying_kinds() -> frozenset[ActionKind]:
    """Return the kinds of step that bring content from the other side."""
    return frozenset({ActionKind.COPY_FILE, ActionKind.MAKE_DIR, ActionKind.MAKE_SYMLINK})
