"""Open the state database, apply pending migrations, and hand out connections."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable

from dirkit.errors import BackendError
from dirkit.state.digest_cache import DIGEST_MIGRATIONS
from dirkit.state.journal_schema import JOURNAL_MIGRATIONS
from dirkit.state.location import DATABASE_NAME, state_dir
from dirkit.state.migrations import CORE_MIGRATIONS, Migration
from dirkit.state.sync_base_schema import SYNC_MIGRATIONS
from dirkit.state.written_files import WRITTEN_MIGRATIONS

BUSY_TIMEOUT_SECONDS = 30.0


def all_migrations() -> tuple[Migration, ...]:
    """Return every feature's migrations, sorted by name."""
    migrations = [
        *CORE_MIGRATIONS,
        *JOURNAL_MIGRATIONS,
        *DIGEST_MIGRATIONS,
        *WRITTEN_MIGRATIONS,
        *SYNC_MIGRATIONS,
    ]
    names = [migration.name for migration in migrations]
    if len(set(names)) != len(names):
        raise RuntimeError(f"duplicate migration names: {sorted(names)}")
    return tuple(sorted(migrations, key=lambda migration: migration.name))


def script_statements(script: str) -> list[str]:
    """Return the SQL statements of a migration script, one by one."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        statements.append(pending.strip())
    return statements


def apply_migrations(connection: sqlite3.Connection, migrations: Iterable[Migration]) -> list[str]:
    """Apply the migrations not yet recorded in the database; return the names applied.

    Each migration runs in a BEGIN IMMEDIATE transaction that first checks, inside it, whether
    another process applied it meanwhile (two commands started at once on a fresh state folder).
    """
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
    )
    done = {row[0] for row in connection.execute("SELECT name FROM schema_migrations")}
    applied: list[str] = []
    for migration in migrations:
        if migration.name in done:
            continue
        connection.execute("BEGIN IMMEDIATE")
        try:
            already = connection.execute(
                "SELECT 1 FROM schema_migrations WHERE name = ?", (migration.name,)
            ).fetchone()
            if already is None:
                for statement in script_statements(migration.script):
                    connection.execute(statement)
                connection.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, datetime('now'))",
                    (migration.name,),
                )
                applied.append(migration.name)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return applied


def connect_state(folder: str | None = None) -> sqlite3.Connection:
    """Open (creating if needed) the state database in folder and bring its schema up to date."""
    directory = folder or state_dir()
    path = os.path.join(directory, DATABASE_NAME)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    except (OSError, sqlite3.Error) as error:
        raise BackendError(0, f"cannot open state database: {error}", path) from error
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA foreign_keys=ON")
        apply_migrations(connection, all_migrations())
    except sqlite3.Error as error:  # not a database, or a schema this version cannot bring up to date
        connection.close()
        raise BackendError(0, f"cannot open state database: {error}", path) from error
    except BaseException:
        connection.close()
        raise
    return connection


def connect_memory() -> sqlite3.Connection:
    """Open a state database that lives in memory only (gone when closed), with the current schema."""
    connection = sqlite3.connect(":memory:", isolation_level=None)
    connection.execute("PRAGMA foreign_keys=ON")
    apply_migrations(connection, all_migrations())
    return connection


def schema_names(connection: sqlite3.Connection) -> list[str]:
    """Return the names of the applied migrations, in order."""
    rows = connection.execute("SELECT name FROM schema_migrations ORDER BY name")
    return [row[0] for row in rows]
