"""What one server holds between requests: the trees it was started with, compares, plans and jobs."""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from dirkit.backends.protocol import Backend
from dirkit.backends.trees import RemoteOptions, open_mirror_target, open_tree
from dirkit.core.run.plan import Action, Plan
from dirkit.core.sync.base import Side
from dirkit.errors import UsageError
from dirkit.ops.sync.planning import SyncOptions, SyncPlanning
from dirkit.report.messages import describe_error
from dirkit.web.jobs import JobBoard
from dirkit.web.security import hide_password, url_password, without_passwords

RESULTS_KEPT = 8
"""Compare reports and plans remembered (a report of 100k paths is tens of megabytes)."""
MAX_LOCATION_CHARS = 4096
Value = TypeVar("Value")


@dataclass(frozen=True, slots=True)
class StoredPlan:
    """A plan shown to the page, and the two locations it was made from (to open them again to apply)."""

    plan: Plan
    source: str
    target: str

    def reviewed_steps(self) -> list[tuple[Side | None, Action]]:
        """Return the steps the page reviews, in order (a mirror's run on its target only)."""
        return [(None, action) for action in self.plan.actions]


@dataclass(frozen=True, slots=True)
class StoredSync:
    """A sync plan shown to the page, the two trees it was made from, and the options it was made with."""

    planning: SyncPlanning
    a: str
    b: str
    options: SyncOptions

    def reviewed_steps(self) -> list[tuple[Side | None, Action]]:
        """Return the steps the page reviews: side A's (copying from B), then side B's."""
        return [(side, step.action) for side in Side for step in self.planning.plan.steps_on(side)]


class Kept(Generic[Value]):
    """The last few values of one kind, by a fresh id each (older ones are forgotten)."""

    def __init__(self, prefix: str, size: int = RESULTS_KEPT) -> None:
        self._values: OrderedDict[str, Value] = OrderedDict()
        self._numbers = itertools.count(1)
        self._prefix = prefix
        self._size = size
        self._lock = threading.Lock()

    def add(self, value: Value) -> str:
        """Keep value and return its id."""
        with self._lock:
            key = f"{self._prefix}-{next(self._numbers)}"
            self._values[key] = value
            while len(self._values) > self._size:
                self._values.popitem(last=False)
            return key

    def get(self, key: str) -> Value | None:
        """Return the value of an id, if it is still kept."""
        with self._lock:
            return self._values.get(key)


@dataclass(slots=True)
class Workspace:
    """The state of one `dirkit serve`: its start trees, remote options, jobs, reports and plans."""

    trees: Sequence[str] = ()
    remote: RemoteOptions = field(default_factory=RemoteOptions)
    reports: Kept[str] = field(default_factory=lambda: Kept[str]("report"))
    plans: Kept[StoredPlan | StoredSync] = field(
        default_factory=lambda: Kept[StoredPlan | StoredSync]("plan")
    )
    with_passwords: tuple[str, ...] = ()
    """The locations given with a password in them (longest first), hidden from every answer; replaced
    whole when one is added, so that threads reading it never see it change."""
    jobs: JobBoard = field(init=False)
    _adding: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.jobs = JobBoard(self.message)
        self._note_passwords(self.trees)

    def shown_trees(self) -> list[str]:
        """Return the start trees as the page may see them (passwords hidden)."""
        return [hide_password(tree) for tree in self.trees]

    def location(self, value: object, name: str) -> str:
        """Return the location the page means by value (a start tree's hidden form means that tree)."""
        if not isinstance(value, str) or not value.strip():
            raise UsageError(f"{name}: give a directory path or an ftp:// or ftps:// URL")
        if len(value) > MAX_LOCATION_CHARS or "\0" in value:
            raise UsageError(f"{name}: not a usable location (too long, or holds a NUL)")
        for tree in self.trees:
            if value == hide_password(tree):
                return tree
        self._note_passwords([value])
        return value

    def _note_passwords(self, locations: Sequence[str]) -> None:
        found = {location for location in locations if url_password(location) is not None}
        with self._adding:
            if not found <= set(self.with_passwords):
                self.with_passwords = tuple(sorted({*self.with_passwords, *found}, key=len, reverse=True))

    def open_tree(self, location: str) -> Backend:
        """Open a tree the page chose, as the CLI would."""
        return open_tree(location, remote=self.remote)

    def open_target(self, location: str, create: bool) -> Backend:
        """Open a mirror target the page chose (a missing one is planned as empty, or made with create)."""
        return open_mirror_target(location, create=create, remote=self.remote)

    def scrub(self, text: str) -> str:
        """Return text with every password the page or the command line gave hidden."""
        return without_passwords(text, self.with_passwords)

    def message(self, error: BaseException) -> str:
        """Return an error as the page sees it: one line naming the path and the reason, no password."""
        return self.scrub(describe_error(error))
