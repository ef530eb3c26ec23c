"""The names an SFTP tree listed, kept so that a name found absent needs no round trip to say so again.

A run's executor checks that the path of every new file is still free just before writing it (the
re-check before replace). On SFTP that check was a request of its own, a quarter of the work of a
small file. Here it is answered from the folder's listing when this backend listed that folder (the
plan was made from that listing) at most FRESH_S ago and keeps it up to date with every change it
makes itself. What that relies on: a file that appeared since is never replaced, because a write to
a name answered absent this way is put in place with SFTP's plain RENAME, which the draft standard
("an error if there already exists a file with the name") and OpenSSH (link() then unlink()) make
refuse an existing target; the write then fails, naming the path, and its temporary file is removed.
Answers of "present" always come from the server.
"""

from __future__ import annotations

import threading
import time

from dirkit.core.tree.paths import RelPath, base_name, is_inside, parent_path

FRESH_S = 600.0
"""How long a folder's listing answers for the names absent from it (after that the server is asked)."""


class ListedNames:
    """The names of folders listed (or made) by one backend, as it changed them since; thread-safe."""

    def __init__(self, enabled: bool) -> None:
        """Keep listings only if enabled (the server's plain RENAME refuses an existing target)."""
        self._enabled = enabled
        self._names: dict[RelPath, tuple[float, set[str]]] = {}
        self._lock = threading.Lock()

    def listed(self, folder: RelPath, names: list[str]) -> None:
        """Remember what a listing of folder held."""
        if not self._enabled:
            return
        with self._lock:
            self._names[folder] = (time.monotonic(), set(names))

    def known_absent(self, path: RelPath) -> bool:
        """Tell whether path is absent from a fresh listing of its folder (False: not known)."""
        if not path:
            return False
        with self._lock:
            found = self._names.get(parent_path(path))
            if found is None:
                return False
            at, names = found
            if time.monotonic() - at > FRESH_S:
                del self._names[parent_path(path)]
                return False
            return base_name(path) not in names

    def added(self, path: RelPath, empty_folder: bool = False) -> None:
        """Note that this backend made path (a new, empty folder if empty_folder)."""
        with self._lock:
            found = self._names.get(parent_path(path))
            if found is not None:
                found[1].add(base_name(path))
            if empty_folder and self._enabled:
                self._names[path] = (time.monotonic(), set())

    def removed(self, path: RelPath) -> None:
        """Note that path (and anything below it) is gone."""
        with self._lock:
            found = self._names.get(parent_path(path))
            if found is not None:
                found[1].discard(base_name(path))
            self._forget_below(path)

    def unsure(self, path: RelPath) -> None:
        """Forget what is known of path's folder and below path (a change of unknown outcome)."""
        with self._lock:
            self._names.pop(parent_path(path), None)
            self._forget_below(path)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._names.clear()

    def _forget_below(self, path: RelPath) -> None:
        """Forget the listings of path and of the folders below it."""
        # only a listed folder has listed ones below: folders are listed, and made, parents first
        if path not in self._names:
            return
        for folder in [folder for folder in self._names if is_inside(folder, path)]:
            del self._names[folder]
