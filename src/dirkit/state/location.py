"""Where the state folder is: $DIRKIT_STATE_DIR, else $XDG_STATE_HOME/dirkit, else ~/.local/state/dirkit."""

from __future__ import annotations

import os
from collections.abc import Mapping

DATABASE_NAME = "state.sqlite3"


def state_dir(environ: Mapping[str, str] | None = None) -> str:
    """Return the state folder for the given environment (the process's by default)."""
    env = os.environ if environ is None else environ
    explicit = env.get("DIRKIT_STATE_DIR")
    if explicit:
        return os.path.abspath(explicit)
    xdg = env.get("XDG_STATE_HOME")
    base = xdg if xdg else os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(os.path.abspath(base), "dirkit")
