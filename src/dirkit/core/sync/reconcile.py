"""Reconciliation: from the merged listings of base, A and B, the steps that bring both sides in step.

One-sided changes propagate; changes on both sides that leave both identical settle silently;
everything else is a conflict, listed and never overwritten (unless a policy picks a winner, whose
loser then goes to that side's backups or, with keep_both, beside it under a conflict name). A delete
against an edit keeps the edit. Without a base nothing is ever deleted or overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dirkit.core.compare.sameness import mtimes_equal
from dirkit.core.run.plan import Action, ActionKind, SkippedPath, fingerprint_of
from dirkit.core.sync.base import (
    BaseEntry,
    Side,
    SideChange,
    base_of,
    base_with_side,
    detect_change,
    same_content,
)
from dirkit.core.sync.frames import Frame, FrameKind
from dirkit.core.sync.merge import DigestKey, SyncRow
from dirkit.core.sync.moves import SyncMoves
from dirkit.core.sync.plan import (
    BaseChange,
    Conflict,
    ConflictResolution,
    Prefer,
    SyncPlan,
    SyncPolicy,
    SyncStep,
    conflict_name,
)
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import RelPath, is_inside


def reconcile(
    rows: Iterable[SyncRow],
    policy: SyncPolicy | None = None,
    digests: Mapping[DigestKey, str] | None = None,
    moves: SyncMoves | None = None,
) -> SyncPlan:
    """Return the plan that brings both sides in step, from rows in component order (one pass).

    The renames of moves (see core.sync.moves) run first on each side; their rows are passed by.
    """
    reconciler = _Reconciler(policy or SyncPolicy(), digests or {}, moves or SyncMoves())
    for row in rows:
        reconciler.close_frames(row.path)
        reconciler.decide(row)
    reconciler.close_frames(None)
    return reconciler.plan


class _Reconciler:
    def __init__(self, policy: SyncPolicy, digests: Mapping[DigestKey, str], moves: SyncMoves) -> None:
        self.policy = policy
        self.digests = digests
        self.moves = moves
        self.plan = SyncPlan(list(moves.a_steps), list(moves.b_steps), conflicts=list(moves.conflicts))
        self.frames: list[Frame] = []

    # --- emitting steps ---------------------------------------------------------------------------

    def emit(self, side: Side, action: Action, base: BaseChange | None = None) -> None:
        self.plan.steps_on(side).append(SyncStep(action, base))

    def create_on(self, side: Side, entry: Entry, path: RelPath, base: BaseChange | None) -> None:
        """Emit the step that makes path on side hold what entry (of the other side) holds."""
        kind = entry.kind
        source_path = entry.path
        if kind is EntryKind.FILE:
            action = Action(
                ActionKind.COPY_FILE,
                path,
                source_path=source_path,
                size=entry.size,
                mtime_ns=entry.mtime_ns,
                mode=entry.mode or None,
                source_expected=fingerprint_of(entry),
            )
        elif kind is EntryKind.DIR:
            action = Action(ActionKind.MAKE_DIR, path, mode=entry.mode or None)
        else:
            action = Action(ActionKind.MAKE_SYMLINK, path, mtime_ns=entry.mtime_ns, link_target=entry.target)
        self.emit(side, action, base)

    def backup_on(
        self, side: Side, entry: Entry, base: BaseChange | None = None, counts: bool = True
    ) -> None:
        """Emit the step that moves entry (on side) into side's backups."""
        self.emit(side, Action(ActionKind.BACKUP, entry.path, expected=fingerprint_of(entry)), base)
        if counts and entry.kind is EntryKind.FILE:
            if side is Side.A:
                self.plan.a_deleted_files += 1
            else:
                self.plan.b_deleted_files += 1

    def propagate(self, source: Side, entry: Entry, old: Entry | None, row: SyncRow) -> bool:
        """Make row.path on the other side hold entry (of source), moving what it held to backups.

        Return False (a conflict is listed) when a folder above it was replaced by a file there.
        """
        target = source.other
        if not self.make_room(target, row.path):
            self.conflict(
                row, ConflictResolution.LEFT_ALONE, "its folder was replaced by a file on the other side"
            )
            return False
        if old is not None:
            self.backup_on(target, old, counts=False)
        self.create_on(target, entry, row.path, self.won_base(row, source, entry))
        return True

    def make_room(self, side: Side, path: RelPath) -> bool:
        """Make the directories above path on side that the side deleted; False if a file replaced one."""
        for frame in self.frames:
            if frame.side is not side or not is_inside(path, frame.path) or frame.path == path:
                continue
            if frame.kind is FrameKind.DIR_TO_FILE:
                frame.kept = True
                return False
        for frame in self.frames:
            inside = is_inside(path, frame.path) and frame.path != path
            if frame.kind is FrameKind.DELETED_DIR and frame.side is side and not frame.kept and inside:
                frame.kept = True
                assert frame.dir_entry is not None
                pair = (frame.dir_entry, frame.dir_entry)
                made = BaseChange(frame.path, base_of(frame.path, *pair))
                self.create_on(side, frame.dir_entry, frame.path, made)
        return True

    def keep_below(self, path: RelPath) -> None:
        """Note that something at path is kept as it is, so no deleting frame above it may remove it."""
        for frame in self.frames:
            if frame.path != path and is_inside(path, frame.path):
                frame.kept = True

    def digest(self, side: Side, path: RelPath) -> str | None:
        return self.digests.get((side, path))

    def settle(self, change: BaseChange) -> None:
        self.plan.settled.append(change)

    def conflict(
        self, row: SyncRow, resolution: ConflictResolution, reason: str, kept_as: RelPath | None = None
    ) -> None:
        sameness = self.policy.sameness
        a_change = detect_change(row.base, Side.A, row.a, sameness)
        b_change = detect_change(row.base, Side.B, row.b, sameness)
        self.plan.conflicts.append(Conflict(row.path, a_change, b_change, resolution, reason, kept_as))
        if resolution is ConflictResolution.LEFT_ALONE:
            self.keep_below(row.path)

    # --- frames -----------------------------------------------------------------------------------

    def close_frames(self, path: RelPath | None) -> None:
        """Finish every open directory that path does not lie in (all of them at the end)."""
        while self.frames and (path is None or not is_inside(path, self.frames[-1].path)):
            frame = self.frames.pop()
            if frame.kind is FrameKind.DELETED_DIR and not frame.kept:
                assert frame.side is not None and frame.dir_entry is not None
                other = frame.side.other
                self.emit(
                    other,
                    Action(ActionKind.REMOVE, frame.path, expected=fingerprint_of(frame.dir_entry)),
                    BaseChange(frame.path, None),
                )
            elif frame.kind is FrameKind.DELETED_DIR:
                self.keep_below(frame.path)
            elif frame.kind is FrameKind.DIR_TO_FILE:
                assert frame.side is not None and frame.dir_entry is not None
                assert frame.replacement is not None
                if frame.kept:
                    self.keep_below(frame.path)
                    what = frame.replacement.kind.value
                    reason = f"replaced by a {what} on {frame.side.value}, but changed inside on the other"
                    self.plan.conflicts.append(
                        Conflict(
                            frame.path,
                            SideChange.MODIFIED,
                            SideChange.MODIFIED,
                            ConflictResolution.LEFT_ALONE,
                            reason,
                        )
                    )
                    continue
                self.finish_dir_to_file(frame)

    def finish_dir_to_file(self, frame: Frame) -> None:
        """Replace the folder on the other side by what replaced it on frame.side (its children are gone)."""
        assert frame.side is not None and frame.dir_entry is not None and frame.replacement is not None
        target = frame.side.other
        row = SyncRow(frame.path, frame.base, None, None)
        # its children went to the backups one by one: the folder is empty now, and is removed
        self.emit(target, Action(ActionKind.REMOVE, frame.path, expected=fingerprint_of(frame.dir_entry)))
        self.create_on(
            target, frame.replacement, frame.path, self.won_base(row, frame.side, frame.replacement)
        )

    def blocked(self, path: RelPath) -> bool:
        return any(frame.kind is FrameKind.BLOCKED and is_inside(path, frame.path) for frame in self.frames)

    def block(self, path: RelPath) -> None:
        self.frames.append(Frame(FrameKind.BLOCKED, path))

    # --- deciding one path ------------------------------------------------------------------------

    def decide(self, row: SyncRow) -> None:
        path, base, a, b = row
        if self.blocked(path):
            return
        if path in self.moves.handled:
            if path in self.moves.kept:
                self.keep_below(path)
            return
        for entry in (a, b):
            if entry is not None and entry.error is not None:
                self.plan.skipped.append(SkippedPath(path, entry.error))
                self.keep_below(path)
                kinds = {entry.kind for entry in (a, b) if entry is not None}
                if EntryKind.DIR in kinds or (base is not None and base.kind is EntryKind.DIR):
                    self.block(path)
                return
            if entry is not None and entry.kind is EntryKind.OTHER:
                self.plan.skipped.append(
                    SkippedPath(path, "special file (socket, fifo or device) not synced")
                )
                self.keep_below(path)
                return
        sameness = self.policy.sameness
        digest_a, digest_b = self.digest(Side.A, path), self.digest(Side.B, path)
        change_a = detect_change(base, Side.A, a, sameness, digest_a, digest_b)
        change_b = detect_change(base, Side.B, b, sameness, digest_b, digest_a)
        if not change_a.touched and not change_b.touched:
            return
        if change_a.touched and change_b.touched:
            self.decide_both(row, change_a, change_b)
        elif change_a.touched:
            self.decide_one(row, Side.A, change_a)
        else:
            self.decide_one(row, Side.B, change_b)

    def decide_one(self, row: SyncRow, side: Side, change: SideChange) -> None:
        """Carry out a change made on side only (the other side is as the base says, or absent)."""
        path, base = row.path, row.base
        mine, theirs = (row.a, row.b) if side is Side.A else (row.b, row.a)
        other = side.other
        if change is SideChange.DELETED:
            assert theirs is not None
            if theirs.kind is EntryKind.DIR:
                self.frames.append(Frame(FrameKind.DELETED_DIR, path, side, dir_entry=theirs, base=base))
                return
            self.backup_on(other, theirs, BaseChange(path, None))
            return
        assert mine is not None
        if change is SideChange.METADATA:
            assert base is not None and theirs is not None
            self.copy_metadata(row, side, mine, theirs, base)
            return
        if theirs is not None and theirs.kind is EntryKind.DIR and mine.kind is not EntryKind.DIR:
            self.frames.append(
                Frame(FrameKind.DIR_TO_FILE, path, side, dir_entry=theirs, replacement=mine, base=base)
            )
            return
        self.propagate(side, mine, theirs, row)

    def copy_metadata(self, row: SyncRow, side: Side, mine: Entry, theirs: Entry, base: BaseEntry) -> None:
        """Give the other side the new mode and mtime of a file whose content did not change."""
        other = side.other
        expected = fingerprint_of(theirs)
        predicted = theirs
        actions: list[Action] = []
        if self.policy.sets_modes(other) and mine.mode and theirs.mode and mine.mode != theirs.mode:
            actions.append(Action(ActionKind.SET_MODE, row.path, mode=mine.mode, expected=expected))
            predicted = predicted._replace(mode=mine.mode)
        if self.policy.sets_mtimes(other) and mine.mtime_ns is not None and mine.mtime_ns != theirs.mtime_ns:
            actions.append(Action(ActionKind.SET_MTIME, row.path, mtime_ns=mine.mtime_ns, expected=expected))
            predicted = predicted._replace(mtime_ns=mine.mtime_ns)
        refreshed = base_with_side(base_with_side(base, side, mine), other, predicted)
        digest = self.digest(side, row.path) or base.digest
        change = BaseChange(row.path, refreshed._replace(digest=digest))
        if not actions:
            self.settle(change)
            return
        for action in actions[:-1]:
            self.emit(other, action)
        self.emit(other, actions[-1], change)

    def decide_both(self, row: SyncRow, change_a: SideChange, change_b: SideChange) -> None:
        """Decide a path both sides touched since the base (or that has no base)."""
        path, base, a, b = row
        if change_a is SideChange.DELETED and change_b is SideChange.DELETED:
            self.settle(BaseChange(path, None))
            return
        if change_a is SideChange.DELETED or change_b is SideChange.DELETED:
            kept_side = Side.B if change_a is SideChange.DELETED else Side.A
            kept = b if kept_side is Side.B else a
            assert kept is not None
            if self.propagate(kept_side, kept, None, row):
                reason = f"deleted on {kept_side.other.value}, changed on {kept_side.value}"
                self.conflict(row, ConflictResolution.KEPT_EDIT, reason)
            return
        assert a is not None and b is not None
        digests = (self.digest(Side.A, path), self.digest(Side.B, path))
        quick_same = (
            base is None
            and a.kind is EntryKind.FILE
            and b.kind is EntryKind.FILE
            and a.size == b.size
            and mtimes_equal(a.mtime_ns, b.mtime_ns, self.policy.sameness)
        )
        if (
            quick_same
            or same_content(a, b, digests)
            or (change_a is SideChange.METADATA and change_b is SideChange.METADATA)
        ):
            self.settle(
                BaseChange(path, base_of(path, a, b, digest=digests[0] or (base.digest if base else None)))
            )
            return
        if change_a is SideChange.METADATA and change_b.has_content_update:
            self.decide_one(row, Side.B, change_b)
            return
        if change_b is SideChange.METADATA and change_a.has_content_update:
            self.decide_one(row, Side.A, change_a)
            return
        if a.is_dir or b.is_dir:
            self.conflict(
                row, ConflictResolution.LEFT_ALONE, "a folder on one side, something else on the other"
            )
            self.block(path)
            return
        winner = self.winner(a, b)
        if winner is None:
            self.conflict(row, ConflictResolution.LEFT_ALONE, "changed on both sides")
            return
        loser = winner.other
        win_entry, lose_entry = (a, b) if winner is Side.A else (b, a)
        if not self.policy.keep_both:
            resolution = ConflictResolution.A_WINS if winner is Side.A else ConflictResolution.B_WINS
            self.conflict(row, resolution, "changed on both sides")
            self.propagate(winner, win_entry, lose_entry, row)
            return
        kept_as = conflict_name(path, loser, self.policy.stamp)
        self.conflict(row, ConflictResolution.KEPT_BOTH, "changed on both sides", kept_as)
        # Side A's steps run before side B's: a copy from the loser's side reads the loser where it is then.
        # the kept copy's base row goes with its last step (side B's steps run last)
        kept = lose_entry._replace(path=kept_as)
        kept_base = BaseChange(kept_as, base_of(kept_as, kept, kept), Side.B if loser is Side.A else None)
        rename = Action(
            ActionKind.RENAME, kept_as, source_path=path, source_expected=fingerprint_of(lose_entry)
        )
        if loser is Side.A:
            self.emit(Side.A, rename)
            self.create_on(Side.A, win_entry, path, self.won_base(row, winner, win_entry))
            self.create_on(Side.B, kept, kept_as, kept_base)
        else:
            self.create_on(Side.A, lose_entry, kept_as, None)
            self.emit(Side.B, rename, kept_base)
            self.create_on(Side.B, win_entry, path, self.won_base(row, winner, win_entry))

    def won_base(self, row: SyncRow, winner: Side, entry: Entry) -> BaseChange:
        """Return the base change for a path the winner's entry now fills on both sides."""
        predicted = entry._replace(path=row.path)
        pair = (entry, predicted) if winner is Side.A else (predicted, entry)
        return BaseChange(
            row.path, base_of(row.path, *pair, digest=self.digest(winner, row.path)), winner.other
        )

    def winner(self, a: Entry, b: Entry) -> Side | None:
        """Return the side whose version the policy prefers (None: no preference, or a tie)."""
        prefer = self.policy.prefer
        if prefer is Prefer.A:
            return Side.A
        if prefer is Prefer.B:
            return Side.B
        if prefer is Prefer.LARGER:
            if a.size == b.size:
                return None
            return Side.A if a.size > b.size else Side.B
        if prefer in (Prefer.NEWER, Prefer.OLDER):
            if a.mtime_ns is None or b.mtime_ns is None or a.mtime_ns == b.mtime_ns:
                return None
            newer = Side.A if a.mtime_ns > b.mtime_ns else Side.B
            return newer if prefer is Prefer.NEWER else newer.other
        if self.policy.keep_both:
            return Side.A if (a.mtime_ns or 0) >= (b.mtime_ns or 0) else Side.B
        return None
