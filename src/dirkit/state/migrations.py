"""Named schema migrations, applied once each in name order; each feature owns a name range."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema change: a unique sortable name ('0100_journal') and the SQL script it runs."""

    name: str
    script: str


CORE_MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001_meta",
        """
        CREATE TABLE IF NOT EXISTS meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    ),
)
"""Names 0001-0099: the database itself."""
