"""The saved expectation of a case: plain files in DIR/.expected/CASE/ that a reviewer can read."""

from __future__ import annotations

from dataclasses import dataclass

STDOUT_FILE = "stdout"
STDERR_FILE = "stderr"
EXIT_STATUS_FILE = "exit-status"
TREE_DIR = "tree"
"""The working directory as the case left it (empty folders are not kept: git does not keep them)."""


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a case printed and returned when its output was last accepted (its tree is read apart)."""

    stdout: str
    stderr: str
    exit_status: int


def format_exit_status(status: int) -> str:
    """Return the text of an exit-status file."""
    return f"{status}\n"


def parse_exit_status(text: str, source: str) -> int:
    """Return the exit status in an exit-status file's text, or raise ValueError naming source."""
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"{source}: not an exit status: {text.strip()[:40]!r}") from None
