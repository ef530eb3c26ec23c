"""The names dirkit gives: run ids, UTC time stamps, backup folders, temporary names and their prefix.

Pure: the moment and the random token come from the caller (ops/run/clock.py and
backends/temp_files.py supply fresh ones), so every rule lives here once.
"""

from __future__ import annotations

import datetime

from dirkit.core.tree.filters import RESERVED_DIR_NAME, TEMP_MARKER
from dirkit.core.tree.paths import RelPath, base_name, join_path, parent_path

BACKUP_ROOT = RelPath(f"{RESERVED_DIR_NAME}/backups")
"""Where runs keep what they replace or delete, by default, inside the target tree."""
RUN_TOKEN_BYTES = 2
"""Random bytes at the end of a run id (two runs started in the same microsecond still differ)."""
TEMP_TOKEN_BYTES = 4
"""Random bytes at the end of a temporary name."""
TEMP_NAME_KEEP = 100
"""Characters of the final name a temporary name starts with (long names stay within NAME_MAX)."""


def run_id_at(moment: datetime.datetime, token: str) -> str:
    """Return the run id of a run started at moment (UTC): it sorts by start time."""
    return f"{moment.astimezone(datetime.UTC):%Y%m%dT%H%M%S.%f}Z-{token}"


def utc_text(moment: datetime.datetime) -> str:
    """Return moment as an ISO 8601 UTC string to the second."""
    return moment.astimezone(datetime.UTC).isoformat(timespec="seconds")


def backup_dir_for(run_id: str, backup_root: RelPath = BACKUP_ROOT) -> RelPath:
    """Return the folder of the target tree that keeps what a run replaces or deletes."""
    return join_path(backup_root, run_id) if backup_root else RelPath(run_id)


def temp_name_start(name: str) -> str:
    """Return how every temporary name made for a final name starts (what recovery looks for)."""
    return f".{name[:TEMP_NAME_KEEP]}{TEMP_MARKER}"


def temp_base_name(name: str, token: str) -> str:
    """Return the temporary name for a final name; a temporary name's own keeps it whole as its start."""
    if TEMP_MARKER in name and name.startswith("."):
        return f"{name}{TEMP_MARKER}{token}"
    return f"{temp_name_start(name)}{token}"


def temp_name_for(path: RelPath, token: str) -> RelPath:
    """Return the temporary name beside path that new content for it is written under."""
    return join_path(parent_path(path), temp_base_name(base_name(path), token))


def is_temp_name_for(name: str, starts: set[str]) -> bool:
    """Tell whether name is a temporary name made for one of the final names with these starts."""
    return TEMP_MARKER in name and any(name.startswith(start) for start in starts)
