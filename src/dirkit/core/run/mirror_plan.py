"""The mirror planner: the plan that makes a target tree an exact copy of a source tree, from their diff."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from dirkit.core.compare.diff import Change, Diff, NameTwin, Status
from dirkit.core.compare.sameness import SamenessPolicy, modes_differ, mtime_window_ns, mtimes_equal
from dirkit.core.run.plan import (
    Action,
    ActionKind,
    JsonValue,
    Plan,
    SkippedPath,
    entry_after_metadata,
    fingerprint_of,
    make_plan,
    tree_digest,
)
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import ROOT, RelPath, is_inside, nfc_path, parent_path


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
    usable_mtimes = mtime_window_ns(chosen.sameness) is not None
    same, file_kind = Status.SAME, EntryKind.FILE
    for index, change in enumerate(changes):
        path, status, left, right = change[0], change[1], change[2], change[3]
        if (
            status is same
            and usable_mtimes
            and left is not None
            and right is not None
            and left[1] is file_kind
            and left[4] == right[4]
            and left[3] == right[3]
            and not clashes
        ):
            # Most files of a rerun: the same, with equal modes and usable equal mtimes: no step.
            # (Skipping the backed_up_dir reset is safe: paths come in component order, so no later
            # path lies inside a folder this file is outside of.)
            continue
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
        # A directory that could not be read is skipped whole: no mode or time is set on it either.
        if left is not None and left.kind is EntryKind.DIR and status is not Status.ERROR:
            source_dirs.append(left)
        if right is not None and right.kind is EntryKind.DIR:
            target_dirs[path] = right
        if status is Status.SAME or (status is Status.CHANGED and change.metadata_only):
            if (
                left is not None
                and right is not None
                and left.kind is EntryKind.FILE
                and (left.mode != right.mode or left.mtime_ns != right.mtime_ns or not usable_mtimes)
            ):
                # Equal modes and usable equal mtimes need no step: most files of a rerun.
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
    if not _has_moves(changes):
        return [], set(), set(), {}
    by_path = {change[0]: change for change in changes}
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
            found = by_path.get(parent)
            status = None if found is None else found.status
            if status is Status.CHANGED and found is not None and found.metadata_only:
                status = Status.SAME
            is_dir = found is not None and found.left is not None and found.left.kind is EntryKind.DIR
            if status is Status.LEFT_ONLY and is_dir:
                needed.append(parent)
            elif status is not Status.SAME or not is_dir:
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
        moved = entry_after_metadata(right, metadata)
        renames.append(Action(ActionKind.RENAME, new, source_path=old, source_expected=fingerprint_of(moved)))
        if left.kind is EntryKind.DIR:
            renamed_dirs[new] = moved._replace(path=new)
        moved_away.add(old)
    return renames, made, moved_away, renamed_dirs


def unrenameable_moves(diff: Diff) -> int:
    """Return how many moved changes plan_mirror could not carry out as renames."""
    if not _has_moves(diff.changes):
        return 0
    renames, _, _, _ = _rename_actions(diff, MirrorPolicy())
    moves = sum(1 for change in diff.changes if change.status is Status.MOVED)
    return moves - sum(1 for action in renames if action.kind is ActionKind.RENAME)


def _has_moves(changes: tuple[Change, ...]) -> bool:
    """Tell whether any change is a move (one list pass: most diffs of a rerun have none)."""
    moved = Status.MOVED
    return bool([change for change in changes if change[1] is moved])


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
        if right is not None and right.mtime_ns is None and path not in touched_dirs:
            continue  # a folder time the target does not report never differs (as in compare)
        if (
            right is None
            or path in touched_dirs
            or not mtimes_equal(left.mtime_ns, right.mtime_ns, policy.sameness)
        ):
            yield Action(ActionKind.SET_MTIME, path, mtime_ns=left.mtime_ns, expected=expected)
