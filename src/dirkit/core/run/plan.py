"""Plans: ordered actions on a target tree with totals, their JSON Lines form, and the mirror planner."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from dirkit.core.compare.diff import Change, Diff, NameTwin, Status
from dirkit.core.compare.sameness import SamenessPolicy, modes_differ, mtimes_equal
from dirkit.core.tree.entry import Entry, EntryKind, safe_mode
from dirkit.core.tree.paths import ROOT, RelPath, is_inside, nfc_path, parent_path, rel_path
from dirkit.errors import UsageError

PLAN_FORMAT_VERSION = 1

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


class ActionKind(enum.Enum):
    """What one step of a plan does to the target tree."""

    MAKE_DIR = "make_dir"
    COPY_FILE = "copy_file"
    """Copy source_path of the source tree to path (temporary name, then rename into place)."""
    MAKE_SYMLINK = "make_symlink"
    HARD_LINK = "hard_link"
    """Make path a hard link to source_path, an existing file of the target tree."""
    BACKUP = "backup"
    """Move path (a file, link or whole directory) aside into the run's backup folder by renaming."""
    REMOVE = "remove"
    """Remove a non-directory, or an empty directory, for good (no backup)."""
    RENAME = "rename"
    """Rename source_path of the target tree to path."""
    SET_MTIME = "set_mtime"
    SET_MODE = "set_mode"


CREATING_KINDS = frozenset(
    {
        ActionKind.MAKE_DIR,
        ActionKind.COPY_FILE,
        ActionKind.MAKE_SYMLINK,
        ActionKind.HARD_LINK,
        ActionKind.RENAME,
    }
)
"""Kinds that create path, which must be absent when they run."""


class Fingerprint(NamedTuple):
    """What a path held when a plan was made, enough to notice that it changed since."""

    kind: EntryKind
    size: int = 0
    mtime_ns: int | None = None
    mode: int | None = None
    target: str | None = None
    tree_digest: str | None = None
    """For a directory: a digest of everything below it (what a whole-directory backup takes)."""


def fingerprint_of(entry: Entry, tree_digest: str | None = None) -> Fingerprint:
    """Return the fingerprint of an entry."""
    return Fingerprint(entry.kind, entry.size, entry.mtime_ns, entry.mode, entry.target, tree_digest)


def entry_matches(expected: Fingerprint, actual: Entry | None, resolution_ns: int | None = 1) -> bool:
    """Tell whether a path still holds what was expected (directories: kind only, not their contents).

    Without usable mtimes (resolution None, or a side that gives none) only the size can be checked.
    """
    if actual is None or actual.kind is not expected.kind:
        return False
    if expected.kind is EntryKind.FILE:
        if actual.size != expected.size:
            return False
        if resolution_ns is None or expected.mtime_ns is None or actual.mtime_ns is None:
            return True
        policy = SamenessPolicy(mtime_resolution_ns=resolution_ns)
        return mtimes_equal(expected.mtime_ns, actual.mtime_ns, policy)
    if expected.kind is EntryKind.SYMLINK:
        return actual.target == expected.target
    return True


def tree_digest(entries: Iterable[Entry], top: RelPath) -> str:
    """Return a digest of the entries below top (paths relative to top, kinds, sizes, file mtimes)."""
    digest = hashlib.sha256()
    cut = len(top) + 1
    for entry in sorted(entries, key=lambda item: item.path):
        mtime = entry.mtime_ns if entry.kind is EntryKind.FILE else None
        line = f"{entry.path[cut:]}\0{entry.kind.value}\0{entry.size}\0{mtime}\0{entry.target}\n"
        digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


class Action(NamedTuple):
    """One step of a plan, on path of the target tree.

    expected is what path held when the plan was made (None: it must be absent); source_expected is
    what source_path held (in the source tree for copy_file, in the target tree for rename and
    hard_link). optional steps are skipped quietly when their expectation fails (undo of a step an
    interrupted run may never have taken).
    """

    kind: ActionKind
    path: RelPath
    source_path: RelPath | None = None
    size: int = 0
    mtime_ns: int | None = None
    mode: int | None = None
    link_target: str | None = None
    expected: Fingerprint | None = None
    source_expected: Fingerprint | None = None
    optional: bool = False


class SkippedPath(NamedTuple):
    """A path the planner left alone, and why."""

    path: RelPath
    reason: str


@dataclass(frozen=True, slots=True)
class PlanTotals:
    """What a plan will do, counted up front (for guards, progress and summaries)."""

    actions: int = 0
    files: int = 0
    """Files to copy."""
    bytes: int = 0
    """Bytes to copy."""
    dirs: int = 0
    links: int = 0
    backups: int = 0
    deleted_files: int = 0
    """Files of the target that will be gone after the plan (moved to backups), not counting replaced ones."""
    removals: int = 0
    metadata: int = 0


@dataclass(frozen=True, slots=True)
class Plan:
    """An ordered list of actions that would make a target tree what was asked, with its totals."""

    operation: str
    target: str
    actions: tuple[Action, ...]
    totals: PlanTotals
    source: str | None = None
    skipped: tuple[SkippedPath, ...] = ()
    options: Mapping[str, JsonValue] = field(default_factory=dict)
    """What the plan was made with (filters, content mode, run undone), so apply can re-check it."""
    created: str = ""

    @property
    def is_empty(self) -> bool:
        """Tell whether the plan has nothing to do."""
        return not self.actions


def count_totals(actions: Iterable[Action], deleted_files: int = 0) -> PlanTotals:
    """Return the totals of a list of actions."""
    counts = dict.fromkeys(ActionKind, 0)
    copied_bytes = 0
    total = 0
    for action in actions:
        total += 1
        counts[action.kind] += 1
        if action.kind is ActionKind.COPY_FILE:
            copied_bytes += action.size
    return PlanTotals(
        actions=total,
        files=counts[ActionKind.COPY_FILE],
        bytes=copied_bytes,
        dirs=counts[ActionKind.MAKE_DIR],
        links=counts[ActionKind.MAKE_SYMLINK] + counts[ActionKind.HARD_LINK],
        backups=counts[ActionKind.BACKUP],
        deleted_files=deleted_files,
        removals=counts[ActionKind.REMOVE],
        metadata=counts[ActionKind.SET_MTIME] + counts[ActionKind.SET_MODE],
    )


def make_plan(
    operation: str,
    target: str,
    actions: Iterable[Action],
    source: str | None = None,
    skipped: Iterable[SkippedPath] = (),
    options: Mapping[str, JsonValue] | None = None,
    deleted_files: int = 0,
    created: str = "",
) -> Plan:
    """Return a plan with its totals counted."""
    ordered = tuple(actions)
    return Plan(
        operation=operation,
        target=target,
        actions=ordered,
        totals=count_totals(ordered, deleted_files),
        source=source,
        skipped=tuple(skipped),
        options=dict(options or {}),
        created=created,
    )


# --- JSON -----------------------------------------------------------------------------------------


def fingerprint_to_json(fingerprint: Fingerprint | None) -> JsonValue:
    """Return a fingerprint as a JSON object (null for 'absent')."""
    if fingerprint is None:
        return None
    data: dict[str, JsonValue] = {"kind": fingerprint.kind.value}
    for name in ("size", "mtime_ns", "mode", "target", "tree_digest"):
        value = getattr(fingerprint, name)
        if value is not None and not (name == "size" and value == 0):
            data[name] = value
    return data


def fingerprint_from_json(data: object) -> Fingerprint | None:
    """Return the fingerprint of a JSON object (None for null)."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise UsageError(f"bad fingerprint in plan: {data!r}")
    return Fingerprint(
        EntryKind(data["kind"]),
        int(data.get("size", 0)),
        _optional_int(data.get("mtime_ns")),
        _optional_int(data.get("mode")),
        data.get("target"),
        data.get("tree_digest"),
    )


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int):
        raise UsageError(f"expected an integer in plan, found {value!r}")
    return value


def action_to_json(action: Action) -> dict[str, JsonValue]:
    """Return an action as a JSON object (defaults left out)."""
    data: dict[str, JsonValue] = {"kind": action.kind.value, "path": action.path}
    if action.source_path is not None:
        data["source_path"] = action.source_path
    if action.size:
        data["size"] = action.size
    if action.mtime_ns is not None:
        data["mtime_ns"] = action.mtime_ns
    if action.mode is not None:
        data["mode"] = action.mode
    if action.link_target is not None:
        data["link_target"] = action.link_target
    data["expected"] = fingerprint_to_json(action.expected)
    if action.source_expected is not None:
        data["source_expected"] = fingerprint_to_json(action.source_expected)
    if action.optional:
        data["optional"] = True
    return data


def action_from_json(data: Mapping[str, object]) -> Action:
    """Return the action of a JSON object, or raise UsageError if it is malformed."""
    try:
        source = data.get("source_path")
        link_target = data.get("link_target")
        return Action(
            kind=ActionKind(data["kind"]),
            path=rel_path(str(data["path"])),
            source_path=rel_path(str(source)) if source is not None else None,
            size=int(str(data.get("size", 0))),
            mtime_ns=_optional_int(data.get("mtime_ns")),
            mode=_optional_int(data.get("mode")),
            link_target=str(link_target) if link_target is not None else None,
            expected=fingerprint_from_json(data.get("expected")),
            source_expected=fingerprint_from_json(data.get("source_expected")),
            optional=bool(data.get("optional", False)),
        )
    except (KeyError, ValueError, TypeError) as error:
        raise UsageError(f"bad action in plan: {error}") from error


def totals_to_json(totals: PlanTotals) -> dict[str, JsonValue]:
    """Return totals as a JSON object."""
    return {name: getattr(totals, name) for name in PlanTotals.__slots__}


def plan_to_json_lines(plan: Plan) -> Iterator[str]:
    """Yield the plan as JSON Lines: a header, one line per action and skipped path, then the totals."""
    header: dict[str, JsonValue] = {
        "type": "plan",
        "format": PLAN_FORMAT_VERSION,
        "operation": plan.operation,
        "source": plan.source,
        "target": plan.target,
        "created": plan.created,
        "options": dict(plan.options),
    }
    yield json.dumps(header)
    for action in plan.actions:
        yield json.dumps({"type": "action", **action_to_json(action)})
    for skipped in plan.skipped:
        yield json.dumps({"type": "skipped", "path": skipped.path, "reason": skipped.reason})
    yield json.dumps({"type": "totals", **totals_to_json(plan.totals)})


def plan_with_safe_modes(plan: Plan) -> Plan:
    """Return plan with setuid, setgid and other-write taken out of every mode it would set."""
    actions = tuple(
        action if action.mode is None else action._replace(mode=safe_mode(action.mode))
        for action in plan.actions
    )
    return replace(plan, actions=actions)


def plan_from_json_lines(lines: Iterable[str]) -> Plan:
    """Return the plan written by plan_to_json_lines, or raise UsageError if the text is not one."""
    header: dict[str, object] | None = None
    actions: list[Action] = []
    skipped: list[SkippedPath] = []
    totals: dict[str, object] | None = None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise UsageError(f"line {number}: not JSON: {error}") from error
        if not isinstance(record, dict):
            raise UsageError(f"line {number}: expected a JSON object")
        kind = record.get("type")
        if kind == "plan":
            header = record
        elif kind == "action":
            actions.append(action_from_json(record))
        elif kind == "skipped":
            skipped.append(SkippedPath(rel_path(str(record["path"])), str(record.get("reason", ""))))
        elif kind == "totals":
            totals = record
        else:
            raise UsageError(f"line {number}: unknown record type {kind!r}")
    if header is None or totals is None:
        raise UsageError("not a dirkit plan: the header or totals line is missing")
    if header.get("format") != PLAN_FORMAT_VERSION:
        raise UsageError(f"unsupported plan format {header.get('format')!r}")
    options = header.get("options")
    deleted = totals.get("deleted_files", 0)
    source = header.get("source")
    return make_plan(
        operation=str(header.get("operation", "")),
        target=str(header.get("target", "")),
        actions=actions,
        source=str(source) if source is not None else None,
        skipped=skipped,
        options=options if isinstance(options, dict) else {},
        deleted_files=deleted if isinstance(deleted, int) else 0,
        created=str(header.get("created", "")),
    )


# --- the mirror planner ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MirrorPolicy:
    """How to mirror: whether extras are deleted, and how mtimes of directories are compared."""

    delete: bool = True
    sameness: SamenessPolicy = field(default_factory=SamenessPolicy)
    set_dir_times: bool = True
    """Set mtimes (of directories, and of files whose content is already the same)."""
    set_modes: bool = True
    symlinks: bool = True
    """Whether the target can hold symlinks; without, a source symlink is a skipped path with the reason."""
    case_sensitive: bool = True
    """Whether the target tells names apart by case; without, names that differ only so are skipped."""


NO_SYMLINKS_REASON = "symlink not copied: the target tree cannot hold symlinks"


def plan_mirror(
    diff: Diff,
    policy: MirrorPolicy | None = None,
    source: str | None = None,
    target: str = "",
    options: Mapping[str, JsonValue] | None = None,
    created: str = "",
) -> Plan:
    """Return the plan that makes the right tree of diff an exact copy of its left tree.

    Order: replaced and deleted paths are moved to backups just before what replaces them, dirs are
    made before their children, and directory modes and mtimes are set last (a read-only directory
    must stay writable while it is filled).
    """
    chosen = policy or MirrorPolicy()
    changes = diff.changes
    renames, made_early, moved_away, renamed_dirs = _rename_actions(diff, chosen)
    actions: list[Action] = list(renames)
    if chosen.set_dir_times:
        actions.extend(_vacated_dir_times(changes, renames))
    skipped: list[SkippedPath] = []
    backed_up_dir: RelPath | None = None
    touched_dirs: set[RelPath] = {
        parent_path(a.path) for a in renames if a.kind in (ActionKind.RENAME, ActionKind.MAKE_DIR)
    }
    touched_dirs.update(parent_path(a.source_path) for a in renames if a.source_path is not None)
    source_dirs: list[Entry] = []
    target_dirs: dict[RelPath, Entry] = {}
    deleted_files = 0
    target_dirs.update(renamed_dirs)
    clashes = {} if chosen.case_sensitive else case_clashes(changes)
    for index, change in enumerate(changes):
        path = change.path
        if change.status is Status.MOVED:
            if change.left is not None and change.left.is_dir:
                source_dirs.append(change.left)
            continue
        if path in made_early:
            if change.left is not None:
                source_dirs.append(change.left)
            continue
        if backed_up_dir is not None:
            if is_inside(path, backed_up_dir):
                continue
            backed_up_dir = None
        if path in clashes:
            skipped.append(SkippedPath(path, clashes[path]))
            if any(entry is not None and entry.is_dir for entry in (change.left, change.right)):
                backed_up_dir = path
            continue
        left, right = change.left, change.right
        status = change.status
        # A directory that could not be read is skipped whole: no mode or time is set on it either.
        if left is not None and left.kind is EntryKind.DIR and status is not Status.ERROR:
            source_dirs.append(left)
        if right is not None and right.kind is EntryKind.DIR:
            target_dirs[path] = right
        if status is Status.SAME or (status is Status.CHANGED and change.metadata_only):
            if left is not None and right is not None and left.kind is EntryKind.FILE:
                actions.extend(_file_metadata_actions(left, right, chosen))
            continue
        if status is Status.ERROR:
            skipped.append(SkippedPath(path, change.detail or "could not be read"))
            if (left is not None and left.is_dir) or (right is not None and right.is_dir):
                backed_up_dir = path
            continue
        if status is Status.RIGHT_ONLY:
            assert right is not None
            if not chosen.delete:
                if right.is_dir:
                    backed_up_dir = path
                continue
            digest, files = _subtree_summary(changes, index, right, moved_away)
            actions.append(Action(ActionKind.BACKUP, path, expected=fingerprint_of(right, digest)))
            deleted_files += files
            touched_dirs.add(parent_path(path))
            if right.is_dir:
                backed_up_dir = path
            continue
        if left is None:
            continue
        if left.kind is EntryKind.OTHER:
            skipped.append(SkippedPath(path, "special file (socket, fifo or device) not copied"))
            continue
        if left.kind is EntryKind.SYMLINK and not chosen.symlinks:
            skipped.append(SkippedPath(path, NO_SYMLINKS_REASON))
            continue
        if right is not None:
            digest, files = _subtree_summary(changes, index, right, moved_away)
            actions.append(Action(ActionKind.BACKUP, path, expected=fingerprint_of(right, digest)))
            if right.is_dir:
                deleted_files += files
                backed_up_dir = path
                target_dirs.pop(path, None)
        touched_dirs.add(parent_path(path))
        actions.append(_creating_action(left))
    if chosen.set_modes or chosen.set_dir_times:
        actions.extend(_dir_metadata_actions(source_dirs, target_dirs, touched_dirs, chosen))
    return make_plan(
        "mirror",
        target,
        actions,
        source=source,
        skipped=skipped,
        options=options,
        deleted_files=deleted_files,
        created=created,
    )


def case_clashes(changes: Iterable[Change]) -> dict[RelPath, str]:
    """Return the paths a target that ignores case cannot hold as planned, each with the reason.

    Source names that differ only by case (the later ones), and a source name whose target twin
    differs only by case (both are left as they are: copying one would overwrite the other).
    """
    clashes: dict[RelPath, str] = {}
    first_of: dict[str, RelPath] = {}
    for change in changes:
        if change.left is not None and change.status is not Status.MOVED:
            first = first_of.setdefault(nfc_path(change.path).casefold(), change.path)
            if first != change.path:
                clashes[change.path] = f"differs only by case from {first}; the target tree cannot hold both"
        if change.twin_reason is NameTwin.CASE and change.twin is not None:
            clashes.setdefault(
                change.path,
                f"differs only by case from {change.twin} on the other side; the target tree cannot "
                "hold both (rename one)",
            )
    return clashes


def _vacated_dir_times(changes: tuple[Change, ...], renames: list[Action]) -> Iterator[Action]:
    """Yield steps that give target-only folders that renames took things out of their old mtime.

    Such a folder is backed up (or kept, with --no-delete) as it was, so undo can put it back whole.
    """
    vacated = {
        parent_path(action.source_path)
        for action in renames
        if action.kind is ActionKind.RENAME and action.source_path is not None
    }
    vacated.discard(ROOT)
    for change in changes:
        right = change.right
        if (
            change.path in vacated
            and right is not None
            and right.kind is EntryKind.DIR
            and right.mtime_ns is not None
            and (change.left is None or change.left.kind is not EntryKind.DIR)
        ):
            yield Action(
                ActionKind.SET_MTIME, change.path, mtime_ns=right.mtime_ns, expected=fingerprint_of(right)
            )


def _moved_contents_by_folder(diff: Diff) -> dict[RelPath, list[tuple[Entry, Entry]]]:
    """Return the entry pairs below moved folders, keyed by the moved folder's left path."""
    if not diff.moved_contents:
        return {}
    folders = {
        change.left.path
        for change in diff.changes
        if change.status is Status.MOVED and change.left is not None and change.left.is_dir
    }
    grouped: dict[RelPath, list[tuple[Entry, Entry]]] = {}
    for left, right in diff.moved_contents:
        folder = parent_path(left.path)
        while folder and folder not in folders:
            folder = parent_path(folder)
        if folder in folders:
            grouped.setdefault(folder, []).append((left, right))
    return grouped


def _file_metadata_actions(
    left: Entry, right: Entry, policy: MirrorPolicy, path: RelPath | None = None
) -> Iterator[Action]:
    """Yield the steps that give a target file (or a folder) of equal content the source's mode and mtime.

    right is what the target holds now, at path (default: left.path); the mode is set first because
    the mtime step's expectation names the old mtime.
    """
    where = left.path if path is None else path
    expected = fingerprint_of(right)
    if policy.set_modes and modes_differ(left, right, policy.sameness):
        yield Action(ActionKind.SET_MODE, where, mode=left.mode, expected=expected)
    if (
        policy.set_dir_times
        and left.mtime_ns is not None
        and not mtimes_equal(left.mtime_ns, right.mtime_ns, policy.sameness)
    ):
        yield Action(ActionKind.SET_MTIME, where, mtime_ns=left.mtime_ns, expected=expected)


def _after_metadata(entry: Entry, actions: Iterable[Action]) -> Entry:
    """Return entry as it will be once the given set_mode and set_mtime steps are done."""
    for action in actions:
        if action.kind is ActionKind.SET_MODE and action.mode is not None:
            entry = entry._replace(mode=action.mode)
        elif action.kind is ActionKind.SET_MTIME and action.mtime_ns is not None:
            entry = entry._replace(mtime_ns=action.mtime_ns)
    return entry


def _creating_action(left: Entry) -> Action:
    source_fingerprint = fingerprint_of(left)
    if left.kind is EntryKind.DIR:
        return Action(ActionKind.MAKE_DIR, left.path, source_expected=source_fingerprint)
    if left.kind is EntryKind.SYMLINK:
        return Action(
            ActionKind.MAKE_SYMLINK,
            left.path,
            source_path=left.path,
            mtime_ns=left.mtime_ns,
            link_target=left.target,
            source_expected=source_fingerprint,
        )
    return Action(
        ActionKind.COPY_FILE,
        left.path,
        source_path=left.path,
        size=left.size,
        mtime_ns=left.mtime_ns,
        mode=left.mode,
        source_expected=source_fingerprint,
    )


def _rename_actions(
    diff: Diff, policy: MirrorPolicy
) -> tuple[list[Action], set[RelPath], set[RelPath], dict[RelPath, Entry]]:
    """Return the renames that carry out moves on the target, the new dirs they need made first,
    the target paths they move away, and what each renamed folder will be at its new path.

    A moved change at right.path (target) with content found at left.path (source) becomes a rename
    of right.path to left.path, done before anything else so that no backup of a folder around the
    old path carries it away; new folders on the way are made first. A move whose new parent is not
    a directory on the source side that is new or the same on the target cannot be a rename (see
    unrenameable_moves: the caller then plans without moves). The moved path, and everything inside
    a moved folder, gets the source's mode and mtime just before the rename, at the old path (a
    rename keeps them), so that undo renames back and then sets the old values where they belong.
    """
    changes = diff.changes
    if not any(change.status is Status.MOVED for change in changes):
        return [], set(), set(), {}
    statuses: dict[RelPath, Status] = {}
    dir_kinds: dict[RelPath, bool] = {}
    for change in changes:
        statuses[change.path] = (
            Status.SAME if change.status is Status.CHANGED and change.metadata_only else change.status
        )
        left = change.left
        dir_kinds[change.path] = left is not None and left.kind is EntryKind.DIR
    contents = _moved_contents_by_folder(diff)
    renames: list[Action] = []
    made: set[RelPath] = set()
    moved_away: set[RelPath] = set()
    renamed_dirs: dict[RelPath, Entry] = {}
    for change in changes:
        if change.status is not Status.MOVED or change.left is None or change.right is None:
            continue
        left, right = change.left, change.right
        old, new = right.path, left.path
        needed: list[RelPath] = []
        parent = parent_path(new)
        fits = True
        while parent:
            status = statuses.get(parent)
            if status is Status.LEFT_ONLY and dir_kinds.get(parent):
                needed.append(parent)
            elif status is not Status.SAME or not dir_kinds.get(parent):
                fits = False
                break
            parent = parent_path(parent)
        if not fits or any(is_inside(old, away) for away in moved_away):
            continue
        for directory in reversed(needed):
            if directory not in made:
                made.add(directory)
                renames.append(Action(ActionKind.MAKE_DIR, directory))
        if left.kind is EntryKind.DIR:
            for inner_left, inner_right in contents.get(left.path, ()):
                if inner_left.kind in (EntryKind.FILE, EntryKind.DIR):
                    renames.extend(_file_metadata_actions(inner_left, inner_right, policy, inner_right.path))
        metadata = (
            list(_file_metadata_actions(left, right, policy, old))
            if left.kind in (EntryKind.FILE, EntryKind.DIR)
            else []
        )
        renames.extend(metadata)
        moved = _after_metadata(right, metadata)
        renames.append(Action(ActionKind.RENAME, new, source_path=old, source_expected=fingerprint_of(moved)))
        if left.kind is EntryKind.DIR:
            renamed_dirs[new] = moved._replace(path=new)
        moved_away.add(old)
    return renames, made, moved_away, renamed_dirs


def unrenameable_moves(diff: Diff) -> int:
    """Return how many moved changes plan_mirror could not carry out as renames."""
    renames, _, _, _ = _rename_actions(diff, MirrorPolicy())
    moves = sum(1 for change in diff.changes if change.status is Status.MOVED)
    return moves - sum(1 for action in renames if action.kind is ActionKind.RENAME)


def _subtree_summary(
    changes: tuple[Change, ...], index: int, top: Entry, moved_away: set[RelPath] | None = None
) -> tuple[str | None, int]:
    """Return the digest of the target's entries below a directory and how many files it holds.

    Paths a rename carries away first (moved_away) are not counted: they are gone by then.
    """
    if top.kind is not EntryKind.DIR:
        return None, 1 if top.kind is EntryKind.FILE else 0
    below: list[Entry] = []
    away = moved_away or set()
    for change in changes[index + 1 :]:
        if not is_inside(change.path, top.path):
            break
        if change.right is not None and not (away and any(is_inside(change.path, a) for a in away)):
            below.append(change.right)
    files = sum(1 for entry in below if entry.kind is EntryKind.FILE)
    return tree_digest(below, top.path), files


def _dir_metadata_actions(
    source_dirs: list[Entry],
    target_dirs: Mapping[RelPath, Entry],
    touched_dirs: set[RelPath],
    policy: MirrorPolicy,
) -> Iterator[Action]:
    for left in reversed(source_dirs):
        path = left.path
        right = target_dirs.get(path)
        expected = fingerprint_of(right) if right is not None else None
        if policy.set_modes and (right is None or right.mode != left.mode):
            yield Action(ActionKind.SET_MODE, path, mode=left.mode, expected=expected)
        if not policy.set_dir_times or left.mtime_ns is None:
            continue
        if (
            right is None
            or path in touched_dirs
            or not mtimes_equal(left.mtime_ns, right.mtime_ns, policy.sameness)
        ):
            yield Action(ActionKind.SET_MTIME, path, mtime_ns=left.mtime_ns, expected=expected)


# --- checking a saved plan against fresh scans ------------------------------------------------------


def find_stale_actions(
    plan: Plan,
    source_entries: Mapping[RelPath, Entry],
    target_entries: Mapping[RelPath, Entry],
    target_snapshot_entries: Iterable[Entry] = (),
) -> list[str]:
    """Return why each action of plan no longer fits the trees as they are now (empty: still valid).

    A path that a plan creates must still be absent unless an earlier action moved it away; a path it
    replaces must still hold what it held; a directory it moves away must hold the same things below.
    """
    reasons: list[str] = []
    removed: set[RelPath] = set()
    below: dict[RelPath, list[Entry]] = {}
    tops = {
        action.path
        for action in plan.actions
        if action.kind is ActionKind.BACKUP
        and action.expected is not None
        and action.expected.tree_digest is not None
    }
    moved_away = {
        action.source_path
        for action in plan.actions
        if action.kind is ActionKind.RENAME and action.source_path is not None
    }
    if tops:
        for entry in target_snapshot_entries:
            if moved_away and any(is_inside(entry.path, away) for away in moved_away):
                continue
            parent = parent_path(entry.path)
            while True:
                if parent in tops:
                    below.setdefault(parent, []).append(entry)
                if parent == ROOT:
                    break
                parent = parent_path(parent)
    metadata_set: dict[RelPath, list[Action]] = {}
    for action in plan.actions:
        path = action.path
        current = target_entries.get(path)
        if removed and _lies_in_any(path, removed):
            current = None
        if action.kind in (ActionKind.SET_MTIME, ActionKind.SET_MODE):
            if action.expected is not None and not entry_matches(action.expected, current):
                reasons.append(f"{path}: {_what_happened('target', current)} since the plan was made")
            metadata_set.setdefault(path, []).append(action)
            continue
        if action.kind in CREATING_KINDS:
            if current is not None:
                reasons.append(f"{path}: now exists in the target; the plan expected nothing there")
        elif action.expected is None or not entry_matches(action.expected, current):
            reasons.append(f"{path}: {_what_happened('target', current)} since the plan was made")
        elif (
            action.expected.tree_digest is not None
            and tree_digest(below.get(path, []), path) != action.expected.tree_digest
        ):
            reasons.append(f"{path}: something below this directory changed since the plan was made")
        if action.kind in (ActionKind.BACKUP, ActionKind.REMOVE):
            removed.add(path)
        if action.kind is ActionKind.RENAME and action.source_path is not None:
            moved = target_entries.get(action.source_path)
            if moved is not None and action.source_path in metadata_set:
                moved = _after_metadata(moved, metadata_set[action.source_path])
            if action.source_expected is not None and not entry_matches(action.source_expected, moved):
                what = _what_happened("target", moved)
                reasons.append(f"{action.source_path}: {what} since the plan was made")
        if action.kind is ActionKind.COPY_FILE and action.source_expected is not None:
            source_path = action.source_path or path
            source = source_entries.get(source_path)
            if not entry_matches(action.source_expected, source):
                reasons.append(f"{source_path}: {_what_happened('source', source)} since the plan was made")
    return reasons


def _what_happened(side: str, current: object | None) -> str:
    """Say how a path of one side no longer fits the plan: it was deleted, or it changed."""
    return f"was deleted from the {side}" if current is None else f"changed in the {side}"


def _lies_in_any(path: RelPath, tops: set[RelPath]) -> bool:
    """Tell whether path or one of its ancestors is in tops."""
    while True:
        if path in tops:
            return True
        if path == ROOT:
            return False
        path = parent_path(path)


# --- the compact form the journal stores ------------------------------------------------------------

_KINDS_BY_VALUE = {kind.value: kind for kind in ActionKind}
_ENTRY_KINDS_BY_VALUE = {kind.value: kind for kind in EntryKind}


def _compact_fingerprint(fingerprint: Fingerprint | None) -> list[object] | None:
    if fingerprint is None:
        return None
    kind, size, mtime_ns, mode, target, digest = fingerprint
    return [kind.value, size, mtime_ns, mode, target, digest]


def _fingerprint_from_compact(data: list[object] | None) -> Fingerprint | None:
    if data is None:
        return None
    kind, size, mtime_ns, mode, target, digest = data
    return Fingerprint(
        _ENTRY_KINDS_BY_VALUE[str(kind)],
        int(str(size)),
        None if mtime_ns is None else int(str(mtime_ns)),
        None if mode is None else int(str(mode)),
        None if target is None else str(target),
        None if digest is None else str(digest),
    )


def actions_to_compact(actions: Iterable[Action]) -> str:
    """Return actions as one compact JSON array (fast to write; what a journal keeps of a plan)."""
    rows: list[list[object]] = []
    append = rows.append
    copy = ActionKind.COPY_FILE
    for action in actions:
        kind, path, source, size, mtime_ns, mode, link, expected, source_expected, optional = action
        append(
            [
                kind.value,
                path,
                None if source == path else source,
                size,
                mtime_ns,
                mode,
                link,
                None if expected is None else _compact_fingerprint(expected),
                None if source_expected is None or kind is copy else _compact_fingerprint(source_expected),
                optional,
            ]
        )
    return json.dumps(rows, separators=(",", ":"))


def actions_from_compact(text: str) -> list[Action]:
    """Return the actions of actions_to_compact's text (copies lose their source fingerprint)."""
    actions: list[Action] = []
    for kind, path, source, size, mtime_ns, mode, link, expected, source_expected, optional in json.loads(
        text
    ):
        actions.append(
            Action(
                _KINDS_BY_VALUE[kind],
                path,
                path if source is None and kind == "copy_file" else source,
                size,
                mtime_ns,
                mode,
                link,
                None if expected is None else _fingerprint_from_compact(expected),
                None if source_expected is None else _fingerprint_from_compact(source_expected),
                optional,
            )
        )
    return actions
