"""Render plans and run outcomes as human text (JSON Lines come from core.plan)."""

from __future__ import annotations

from collections.abc import Iterator

from dirkit.core.run.plan import Action, ActionKind, Plan, PlanTotals
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.paths import display_path
from dirkit.report.style import Style

ACTION_WORDS: dict[ActionKind, tuple[str, str]] = {
    ActionKind.MAKE_DIR: ("mkdir", "green"),
    ActionKind.COPY_FILE: ("copy", "green"),
    ActionKind.MAKE_SYMLINK: ("link", "green"),
    ActionKind.HARD_LINK: ("hardlink", "green"),
    ActionKind.BACKUP: ("backup", "yellow"),
    ActionKind.REMOVE: ("remove", "red"),
    ActionKind.RENAME: ("rename", "cyan"),
    ActionKind.SET_MTIME: ("mtime", "dim"),
    ActionKind.SET_MODE: ("mode", "dim"),
}
METADATA_KINDS = (ActionKind.SET_MTIME, ActionKind.SET_MODE)


def human_bytes(count: float) -> str:
    """Return a byte count with a binary unit (B, KiB, MiB, GiB, TiB)."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def describe_action(action: Action) -> str:
    """Return what one action does, on one line, without its verb."""
    path = display_path(action.path)
    kind = action.kind
    if kind is ActionKind.MAKE_DIR:
        return f"{path}/"
    if kind is ActionKind.COPY_FILE:
        return f"{path}  ({human_bytes(action.size)})"
    if kind is ActionKind.MAKE_SYMLINK:
        return f"{path} -> {display_path(action.link_target or '')}"
    if kind in (ActionKind.HARD_LINK, ActionKind.RENAME):
        return f"{path}  (from {display_path(action.source_path or action.link_target or '')})"
    if kind in (ActionKind.BACKUP, ActionKind.REMOVE):
        expected = action.expected
        if expected is not None and expected.kind is EntryKind.DIR:
            return f"{path}/  (a whole directory)"
        return path
    if kind is ActionKind.SET_MODE:
        return f"{path}  {action.mode or 0:04o}"
    return path


def render_plan_text(plan: Plan, style: Style, show_metadata: bool = False) -> Iterator[str]:
    """Yield one line per action (metadata actions only when asked), then skipped paths and totals."""
    hidden = 0
    for action in plan.actions:
        if action.kind in METADATA_KINDS and not show_metadata:
            hidden += 1
            continue
        word, colour = ACTION_WORDS[action.kind]
        optional = "  (if still there)" if action.optional else ""
        yield f"{style.paint(f'{word:<8}', colour)} {describe_action(action)}{optional}"
    if hidden:
        yield style.paint(f"(and {hidden} mode and mtime settings; -v lists them)", "dim")
    for skipped in plan.skipped:
        yield f"{style.paint('skip    ', 'red')} {display_path(skipped.path)}: {skipped.reason}"
    yield totals_line(plan.totals)


def totals_line(totals: PlanTotals) -> str:
    """Return the totals of a plan as one sentence."""
    if not totals.actions:
        return "plan: nothing to do"
    parts = [f"{totals.files} files to copy ({human_bytes(totals.bytes)})"]
    if totals.dirs:
        parts.append(f"{totals.dirs} dirs to make")
    if totals.links:
        parts.append(f"{totals.links} links")
    if totals.backups:
        parts.append(f"{totals.backups} paths moved to backups ({totals.deleted_files} files deleted)")
    if totals.removals:
        parts.append(f"{totals.removals} removals")
    if totals.metadata:
        parts.append(f"{totals.metadata} mode/mtime settings")
    return "plan: " + ", ".join(parts)


def progress_line(files: int, files_total: int, done: int, total: int, seconds: float) -> str:
    """Return a one-line progress report: files, bytes, rate and time left."""
    rate = done / seconds if seconds > 0 else 0.0
    left = (total - done) / rate if rate > 0 else 0.0
    minutes, secs = divmod(int(left), 60)
    return (
        f"{files}/{files_total} files  {human_bytes(done)}/{human_bytes(total)}  "
        f"{human_bytes(rate)}/s  ETA {minutes}:{secs:02d}"
    )
