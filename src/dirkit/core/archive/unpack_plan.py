"""The unpack planner: from an archive's members and what DEST holds, the plan that extracts them.

Every member is checked before anything is written (paths, links, special files, limits on the
declared sizes); the plan then runs through the one executor like a mirror's. A copy action's source
is the member itself (source_path is the member's safe path; the caller opens its bytes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from dirkit.core.archive.safety import (
    ArchiveMember,
    ExtractionLimits,
    MemberKind,
    check_declared_ratio,
    check_hardlink,
    check_member,
    check_totals,
    first_unsafe_link,
    link_above,
)
from dirkit.core.run.plan import Action, ActionKind, Fingerprint, Plan, fingerprint_of, make_plan
from dirkit.core.run.undo import JournalStep, StepStatus, plan_undo
from dirkit.core.tree.entry import Entry, EntryKind, safe_mode
from dirkit.core.tree.paths import ROOT, RelPath, display_path, parent_path
from dirkit.errors import AlreadyExistsError, UnsafeArchiveError

OPERATION = "unpack"
IMPLICIT_DIR_MODE = 0o755
"""The mode of a directory the archive implies (a member's parent) but does not hold."""

EntryLookup = Callable[[RelPath], Entry | None]
"""What DEST holds at a path now (None: nothing), not following symlinks."""


@dataclass(frozen=True, slots=True)
class UnpackSettings:
    """What a plan is made for: DEST (for messages), the archive and its size, the limits, --overwrite."""

    dest: str
    archive: str
    archive_bytes: int
    limits: ExtractionLimits
    overwrite: bool = False


@dataclass(frozen=True, slots=True)
class UnpackPlan:
    """The plan of an unpack, and the directories of DEST it writes into that were there before."""

    plan: Plan
    existing_dirs: Mapping[RelPath, Entry]
    """Their mtimes change as a side effect; undo and the roll-back set the old ones again."""


class UnpackPlanner:
    """Checks members one by one, in archive order, and collects the actions that extract them."""

    def __init__(self, settings: UnpackSettings, lookup: EntryLookup | None, root: Entry | None) -> None:
        """lookup is None when DEST is empty: then only the plan's own paths can exist there."""
        self.settings = settings
        self.lookup = lookup
        self.actions: list[Action] = []
        self.created: dict[RelPath, EntryKind] = {}
        self.known_dirs: set[RelPath] = {ROOT}
        self.existing_dirs: dict[RelPath, Entry] = {} if root is None else {ROOT: root}
        self.links: dict[RelPath, str] = {}
        self.files: dict[RelPath, Fingerprint] = {}
        self.dir_meta: dict[RelPath, tuple[int, int | None]] = {}
        self.members = 0
        self.declared_bytes = 0

    def add(self, member: ArchiveMember) -> RelPath:
        """Check one member and plan it (symlinks wait for the end); return its path below DEST."""
        settings = self.settings
        self.members += 1
        check_totals(
            self.declared_bytes, self.members, settings.archive_bytes, settings.limits, settings.archive
        )
        path = check_member(member)
        check_declared_ratio(member, settings.limits)
        above = link_above(path, self.links) if self.links else None
        if above is not None:
            raise UnsafeArchiveError(
                f"{display_path(member.name)}: would be written through symlink {display_path(above)}"
            )
        kind = member.kind
        if kind is MemberKind.DIR:
            if path != ROOT:
                self._ensure_dir(path)
                self.dir_meta[path] = (safe_mode(member.mode) & 0o1777, member.mtime_ns)
        elif kind is MemberKind.SYMLINK:
            if path in self.links or path in self.created:
                raise UnsafeArchiveError(f"{display_path(member.name)}: member appears twice in the archive")
            self.links[path] = member.link_target or ""
        elif kind is MemberKind.HARDLINK:
            linked = check_hardlink(member, self.files)
            self._ensure_dir(parent_path(path))
            action = Action(
                ActionKind.HARD_LINK, path, source_path=linked, source_expected=self.files[linked]
            )
            self._create(path, action, EntryKind.FILE)
            self.files[path] = self.files[linked]
        else:
            self._ensure_dir(parent_path(path))
            self.declared_bytes += member.size
            check_totals(
                self.declared_bytes, self.members, settings.archive_bytes, settings.limits, settings.archive
            )
            mode = safe_mode(member.mode) & 0o777
            action = Action(ActionKind.COPY_FILE, path, path, member.size, member.mtime_ns, mode)
            self._create(path, action, EntryKind.FILE)
            self.files[path] = Fingerprint(EntryKind.FILE, member.size, member.mtime_ns, mode)
        return path

    def finish(self) -> UnpackPlan:
        """Plan the symlinks (checked against each other), then directory modes and times, deepest first."""
        unsafe = first_unsafe_link(self.links)
        if unsafe is not None:
            raise UnsafeArchiveError(f"{display_path(unsafe[0])}: {unsafe[1]}")
        for path, target in sorted(self.links.items()):
            self._ensure_dir(parent_path(path))
            self._create(path, Action(ActionKind.MAKE_SYMLINK, path, link_target=target), EntryKind.SYMLINK)
        for path in sorted(self.dir_meta, key=lambda item: item.count("/"), reverse=True):
            mode, mtime = self.dir_meta[path]
            existing = self.existing_dirs.get(path)
            expected = None if existing is None else fingerprint_of(existing)
            if existing is None or existing.mode != mode:
                self.actions.append(Action(ActionKind.SET_MODE, path, mode=mode, expected=expected))
            if mtime is not None:
                self.actions.append(Action(ActionKind.SET_MTIME, path, mtime_ns=mtime, expected=expected))
        plan = make_plan(OPERATION, self.settings.dest, self.actions, source=self.settings.archive)
        return UnpackPlan(plan, dict(self.existing_dirs))

    def _existing(self, path: RelPath) -> Entry | None:
        return None if self.lookup is None else self.lookup(path)

    def _ensure_dir(self, path: RelPath) -> None:
        """Plan path and its parents as real directories inside DEST, never through a symlink."""
        if path in self.known_dirs:
            return
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            current = RelPath("/".join(parts[:depth]))
            if current in self.known_dirs:
                continue
            if current in self.created:
                raise UnsafeArchiveError(f"{display_path(current)}: member appears twice in the archive")
            existing = self._existing(current)
            if existing is not None and existing.kind is EntryKind.DIR:
                self.known_dirs.add(current)
                self.existing_dirs[current] = existing
                continue
            if existing is not None and existing.kind is EntryKind.SYMLINK:
                where = display_path(f"{self.settings.dest}/{current}")
                raise UnsafeArchiveError(f"{where}: is a symlink in DEST; refusing to write through it")
            if existing is not None:
                self._back_up(current, existing)
            self.actions.append(Action(ActionKind.MAKE_DIR, current))
            self.created[current] = EntryKind.DIR
            self.dir_meta.setdefault(current, (IMPLICIT_DIR_MODE, None))
            self.known_dirs.add(current)

    def _create(self, path: RelPath, action: Action, kind: EntryKind) -> None:
        """Plan the action that creates path, after the backup of what DEST holds there (--overwrite)."""
        if path in self.created:
            raise UnsafeArchiveError(f"{display_path(path)}: member appears twice in the archive")
        existing = self._existing(path)
        if existing is not None:
            self._back_up(path, existing)
        self.actions.append(action)
        self.created[path] = kind

    def _back_up(self, path: RelPath, existing: Entry) -> None:
        if not self.settings.overwrite:
            where = display_path(f"{self.settings.dest}/{path}")
            raise AlreadyExistsError(17, "already exists (use --overwrite to replace it)", where)
        self.actions.append(Action(ActionKind.BACKUP, path, expected=fingerprint_of(existing)))


def plan_roll_back(run_id: str, target: str, steps: Iterable[JournalStep]) -> Plan:
    """Return the plan that takes back what the steps of a stopped unpack may have done.

    Like undo, last step first, but what the unpack created is removed for good (nothing of it is
    kept) and replaced paths are renamed back from the backups. Every action is optional: a step
    that did not happen is skipped.
    """
    maybe_done = [
        step._replace(status=StepStatus.PENDING)
        for step in steps
        if step.status in (StepStatus.DONE, StepStatus.PENDING)
    ]
    actions = [
        action._replace(kind=ActionKind.REMOVE) if action.kind is ActionKind.BACKUP else action
        for action in plan_undo(run_id, target, maybe_done).actions
    ]
    return make_plan("unpack-roll-back", target, actions, options={"rolls_back": run_id})


def plan_old_dir_times(run_id: str, target: str, existing_dirs: Mapping[RelPath, Entry]) -> Plan:
    """Return the plan that gives the directories that were in DEST their old mtimes, deepest first."""
    actions = [
        Action(ActionKind.SET_MTIME, path, mtime_ns=existing_dirs[path].mtime_ns, optional=True)
        for path in sorted(existing_dirs, key=lambda item: item.count("/"), reverse=True)
        if existing_dirs[path].mtime_ns is not None
    ]
    return make_plan("unpack-roll-back", target, actions, options={"rolls_back": run_id})


def dir_side_effects(
    existing_dirs: Mapping[RelPath, Entry], now: Mapping[RelPath, Entry], plan: Plan
) -> list[Action]:
    """Return the steps that record how an unpack changed the modes and mtimes of earlier directories.

    Writing into a directory changes its mtime without a step of the plan; these steps (done already)
    let undo set the old values back. Paths whose mode or mtime a plan step set are left out.
    """
    set_by_plan = {
        (action.kind, action.path)
        for action in plan.actions
        if action.kind in (ActionKind.SET_MODE, ActionKind.SET_MTIME)
    }
    steps: list[Action] = []
    for path, before in existing_dirs.items():
        after = now.get(path)
        if after is None or after.kind is not EntryKind.DIR:
            continue
        expected = fingerprint_of(before)
        if after.mode != before.mode and (ActionKind.SET_MODE, path) not in set_by_plan:
            steps.append(Action(ActionKind.SET_MODE, path, mode=after.mode, expected=expected))
        if after.mtime_ns != before.mtime_ns and (ActionKind.SET_MTIME, path) not in set_by_plan:
            steps.append(Action(ActionKind.SET_MTIME, path, mtime_ns=after.mtime_ns, expected=expected))
    return steps
