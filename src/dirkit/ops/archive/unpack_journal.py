"""Journal an unpack --overwrite as a run on DEST, so that 'dirkit undo DEST' reverts it.

The extraction itself stays in ops/archive/unpack.py; it reports each backup before it happens and each
created path after it, and this recorder turns them into journal steps the undo planner knows:
BACKUP for a replaced path (moved to DEST/.dirkit/backups/RUN-ID/, the executor's own naming),
COPY_FILE for a created file, MAKE_SYMLINK for a link, MAKE_DIR for a directory. Steps are left
pending until the extraction finishes, so an unpack that stops early (or crashes) stays an
interrupted run whose steps undo reverts only where they are found to have happened.
"""

from __future__ import annotations

import os
import socket
import stat

from dirkit.backends.local import LocalBackend, entry_from_stat
from dirkit.core.archive.safety import MemberKind
from dirkit.core.run.names import backup_dir_for
from dirkit.core.run.plan import Action, ActionKind, Fingerprint, fingerprint_of
from dirkit.core.run.undo import StepStatus
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import ROOT, RelPath
from dirkit.errors import translate_os_error
from dirkit.ops.archive.unpack import UnpackOptions, UnpackResult, unpack_archive
from dirkit.ops.run.clock import new_run_id, utc_now
from dirkit.ops.run.recovery import claim_tree
from dirkit.state.journal import Journal, RunStatus, StepOutcome

OPERATION = "unpack"
JOURNAL_BATCH = 2048
"""Created paths recorded per transaction (a backup is always recorded before it happens)."""


class UnpackRecorder:
    """Records the backups and creations of one extraction as the steps of a journaled run."""

    def __init__(self, journal: Journal, dest: str, archive: str, run_id: str | None = None) -> None:
        self.journal = journal
        self.dest = os.path.abspath(dest)
        self.archive = os.path.abspath(archive)
        self.run_id = run_id or new_run_id()
        self.backup_dir = backup_dir_for(self.run_id)
        self.waiting: list[Action] = []
        self.recorded = 0
        self.started = False
        self.replaced_now: RelPath | None = None
        """The path whose backup and replacement were recorded ahead, not to be recorded again."""
        self.dirs_before: dict[RelPath, Fingerprint] = {}
        """Directories that were in DEST before, as they were (their mode and times may change)."""

    def start(self) -> None:
        """Record that the run starts (call once DEST exists, before anything in it changes)."""
        self.journal.start_run(
            self.run_id,
            OPERATION,
            self.dest,
            self.archive,
            self.backup_dir,
            os.getpid(),
            socket.gethostname(),
            utc_now(),
            {},
        )
        self.started = True
        self.dirs_before[ROOT] = fingerprint_of(_entry_at(ROOT, self.dest))

    def flush(self) -> None:
        """Write the steps recorded so far to the journal."""
        if self.waiting:
            self.journal.append_actions(self.run_id, self.waiting)
            self.recorded += len(self.waiting)
            self.waiting = []

    def before_backup(self, path: RelPath, native: str, kind: MemberKind, source: str | None) -> None:
        """Record, before it happens, that path moves to the backups and what replaces it (from source)."""
        backup = Action(ActionKind.BACKUP, path, expected=fingerprint_of(_entry_at(path, native)))
        self.waiting += [backup, self._creation(path, kind, source)]
        self.replaced_now = path
        self.flush()

    def created(self, path: RelPath, kind: MemberKind, native: str, link_target: str | None) -> None:
        """Record that path was just created by the extraction."""
        if path == self.replaced_now:
            self.replaced_now = None
            return
        self.waiting.append(self._creation(path, kind, native, link_target))
        if len(self.waiting) >= JOURNAL_BATCH:
            self.flush()

    def _creation(
        self, path: RelPath, kind: MemberKind, native: str | None, link_target: str | None = None
    ) -> Action:
        """Return the step that says path was created as kind (a file's size and mtime read at native)."""
        if kind is MemberKind.DIR or native is None:
            return Action(ActionKind.MAKE_DIR, path)
        entry = _entry_at(path, native)
        if entry.kind is EntryKind.SYMLINK:
            return Action(ActionKind.MAKE_SYMLINK, path, link_target=link_target or entry.target)
        return Action(ActionKind.COPY_FILE, path, path, entry.size, entry.mtime_ns, entry.mode)

    def existing_dir(self, path: RelPath, info: os.stat_result) -> None:
        """Record a directory that was in DEST before, as it was."""
        self.dirs_before.setdefault(path, fingerprint_of(entry_from_stat(path, info)))

    def _metadata_steps(self) -> list[Action]:
        """Return the steps that say which modes and times of earlier directories the unpack changed."""
        steps: list[Action] = []
        for path, before in self.dirs_before.items():
            native = f"{self.dest}/{path}" if path else self.dest
            try:
                now = os.lstat(native)
            except OSError:
                continue
            if not stat.S_ISDIR(now.st_mode):
                continue
            mode = now.st_mode & 0o7777
            if mode != before.mode:
                steps.append(Action(ActionKind.SET_MODE, path, mode=mode, expected=before))
            if now.st_mtime_ns != before.mtime_ns:
                steps.append(Action(ActionKind.SET_MTIME, path, mtime_ns=now.st_mtime_ns, expected=before))
        return steps

    def finish(self, completed: bool) -> None:
        """Record how the run ended: every step done, or the run interrupted with its steps pending."""
        if not self.started:
            return
        self.waiting += self._metadata_steps()
        self.flush()
        if completed:
            self.journal.finish_steps(
                self.run_id, [StepOutcome(seq, StepStatus.DONE) for seq in range(self.recorded)]
            )
            status = RunStatus.DONE
        else:
            status = RunStatus.INTERRUPTED
        summary = {"steps_done": self.recorded if completed else 0, "failures": 0, "conflicts": 0}
        self.journal.finish_run(self.run_id, status, utc_now(), dict(summary))


def _entry_at(path: RelPath, native: str) -> Entry:
    """Return what is at a native path now (not following a symlink)."""
    try:
        info = os.lstat(native)
        target = os.readlink(native) if stat.S_ISLNK(info.st_mode) else None
    except OSError as error:
        raise translate_os_error(error, native) from error
    return entry_from_stat(path, info, target)


def unpack_with_journal(archive: str, dest: str, options: UnpackOptions, journal: Journal) -> UnpackResult:
    """Unpack archive into dest as a journaled run, holding dest's one-run lock (dead runs recovered)."""
    if not os.path.isdir(dest):
        return unpack_archive(archive, dest, options, UnpackRecorder(journal, dest, archive))
    with claim_tree(journal, LocalBackend(dest), "unpack") as claim:
        recorder = UnpackRecorder(journal, dest, archive, claim.run_id)
        return unpack_archive(archive, dest, options, recorder)
