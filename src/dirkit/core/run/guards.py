"""Guards that refuse a plan likely to be a mistake: an empty source, or too many deletions."""

from __future__ import annotations

from dataclasses import dataclass

from dirkit.core.run.plan import Plan
from dirkit.errors import UsageError

DEFAULT_MAX_DELETE_PERCENT = 50.0


@dataclass(frozen=True, slots=True)
class DeleteLimit:
    """The most files a plan may delete: a count, or a percentage of the target's files."""

    count: int | None = None
    percent: float | None = DEFAULT_MAX_DELETE_PERCENT

    def allows(self, deleted: int, target_files: int) -> bool:
        """Tell whether deleting deleted of target_files files stays within the limit."""
        if self.count is not None:
            return deleted <= self.count
        if self.percent is None or target_files == 0:
            return True
        return deleted * 100.0 <= self.percent * target_files

    def describe(self) -> str:
        """Return the limit as the user would write it."""
        if self.count is not None:
            return str(self.count)
        return f"{self.percent:g}%"


def parse_delete_limit(text: str) -> DeleteLimit:
    """Return the limit written as 'N' (files) or 'N%' (of the target's files)."""
    cleaned = text.strip()
    try:
        if cleaned.endswith("%"):
            percent = float(cleaned[:-1])
            if not 0 <= percent <= 100:
                raise ValueError(cleaned)
            return DeleteLimit(count=None, percent=percent)
        count = int(cleaned)
        if count < 0:
            raise ValueError(cleaned)
        return DeleteLimit(count=count, percent=None)
    except ValueError as error:
        raise UsageError(
            f"--max-delete {text!r}: expected a number of files or a percentage like 10%"
        ) from error


@dataclass(frozen=True, slots=True)
class GuardOptions:
    """Which guards apply; force turns them all off."""

    max_delete: DeleteLimit = DeleteLimit()
    force: bool = False


def guard_violations(
    plan: Plan, source_entries: int, target_entries: int, target_files: int, options: GuardOptions
) -> list[str]:
    """Return why the plan should not run unforced (empty: it may run)."""
    if options.force:
        return []
    reasons: list[str] = []
    if source_entries == 0 and target_entries > 0:
        reasons.append(
            f"the source is empty while the target holds {target_entries} entries; mirroring would "
            f"move all of them to backups (--force to do it anyway)"
        )
        return reasons
    deleted = plan.totals.deleted_files
    if deleted and not options.max_delete.allows(deleted, target_files):
        share = 100.0 * deleted / target_files if target_files else 100.0
        reasons.append(
            f"the plan would delete {deleted} of the target's {target_files} files ({share:.0f}%), "
            f"more than --max-delete {options.max_delete.describe()} allows; review it with --dry-run, "
            f"then raise --max-delete or use --force"
        )
    return reasons
