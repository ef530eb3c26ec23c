"""What verify found: the status of each path checked against a checksum file (pure values)."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

from dirkit.core.checksums.digest import DigestAlgorithm


class VerifyStatus(enum.Enum):
    """What verify found for one path."""

    OK = "ok"
    FAILED = "failed"
    MISSING = "missing"
    NEW = "new"
    ERROR = "error"


class VerifyItem(NamedTuple):
    """One path's verdict, with the expected and actual digests where known."""

    path: str
    status: VerifyStatus
    expected: str | None = None
    actual: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Every verdict in path order, the algorithm used, and the manifest lines that could not be read."""

    items: tuple[VerifyItem, ...]
    algorithm: DigestAlgorithm
    malformed_lines: tuple[int, ...]

    def counts(self) -> dict[str, int]:
        """Return the number of paths of each status, every status present."""
        tally = Counter(item.status for item in self.items)
        return {status.value: tally.get(status, 0) for status in VerifyStatus}

    @property
    def all_ok(self) -> bool:
        """Tell whether every path is OK and every line was readable."""
        return not self.malformed_lines and all(item.status is VerifyStatus.OK for item in self.items)

    @property
    def has_errors(self) -> bool:
        """Tell whether a line or a file could not be read."""
        return bool(self.malformed_lines) or any(item.status is VerifyStatus.ERROR for item in self.items)
