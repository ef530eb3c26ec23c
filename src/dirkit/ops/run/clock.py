"""The clock of runs: the current UTC time and fresh run ids (the naming rules are in core/run/names.py)."""

from __future__ import annotations

import datetime
import secrets

from dirkit.core.run.names import RUN_TOKEN_BYTES, run_id_at, utc_text


def utc_now() -> str:
    """Return the current time as an ISO 8601 UTC string."""
    return utc_text(datetime.datetime.now(datetime.UTC))


def new_run_id() -> str:
    """Return a fresh run id that sorts by start time."""
    return run_id_at(datetime.datetime.now(datetime.UTC), secrets.token_hex(RUN_TOKEN_BYTES))
