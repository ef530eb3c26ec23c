"""Names an FTP tree saw in its own recent listings, so that a name known to be free costs no round trip.

A run lists its target, plans, then checks before each upload that the name it writes is still free.
On FTP that check was one round trip per file. KnownNames keeps the names of every folder the backend
listed (and of every folder it made, empty then), forgets what the backend itself changed since, and
says "free" for a name its folder did not hold. That answer is only a forecast: the backend then asks
the server itself, right behind the upload's data (SIZE, read with the upload's 226), and refuses
to rename the upload into place if the name was taken meanwhile. Nothing that appeared since
the listing is ever replaced; it is found later than before (closer to the rename), at no cost.
"""

from __future__ import annotations

import threading

from dirkit.core.tree.paths import RelPath, base_name, parent_path


def _below(path: RelPath, folder: RelPath) -> bool:
    return path == folder or path.startswith(folder + "/") or not folder


class KnownNames:
    """The names of folders as listed or made by this backend, minus the names it has changed since."""

    def __init__(self) -> None:
        self._names: dict[RelPath, frozenset[str]] = {}
        self._changed: dict[RelPath, set[str]] = {}
        self._unverified: set[RelPath] = set()
        self._changes = 0
        """Counts changes, so that a listing that overlapped one is not kept."""
        self._lock = threading.Lock()

    def changes(self) -> int:
        """Return the count of changes so far (read before a listing, passed to listed)."""
        with self._lock:
            return self._changes

    def listed(self, folder: RelPath, names: list[str], changes_before: int) -> None:
        """Keep a folder's names from a listing, unless this backend changed something while it ran."""
        with self._lock:
            if self._changes == changes_before:
                self._names[folder] = frozenset(names)
                self._changed.pop(folder, None)

    def made(self, folder: RelPath) -> None:
        """Note a folder this backend just made: empty."""
        self.changed(folder)
        with self._lock:
            self._names[folder] = frozenset()

    def changed(self, path: RelPath) -> None:
        """Note that path was written, removed or renamed by this backend: no forecast for it any more."""
        with self._lock:
            self._changes += 1
            self._changed.setdefault(parent_path(path), set()).add(base_name(path))

    def moved(self, path: RelPath) -> None:
        """Note that a folder (or anything) at path was renamed or removed: forget every listing below it."""
        self.changed(path)
        with self._lock:
            for folder in [folder for folder in self._names if _below(folder, path)]:
                del self._names[folder]

    def is_folder(self, path: RelPath) -> bool:
        """Tell whether path is a folder this backend listed or made (and did not move or remove since)."""
        with self._lock:
            return path in self._names

    def free(self, path: RelPath) -> bool:
        """Tell whether path's folder was listed without it and it was not changed since (a forecast).

        A path forecast free is remembered as unverified: the next write to it checks on the server.
        """
        folder, name = parent_path(path), base_name(path)
        with self._lock:
            names = self._names.get(folder)
            if names is None or name in names or name in self._changed.get(folder, ()) or not path:
                return False
            self._unverified.add(path)
            return True

    def unverified(self, path: RelPath) -> bool:
        """Tell whether path was forecast free and no write to it has checked that on the server yet."""
        with self._lock:
            return path in self._unverified

    def verified(self, path: RelPath) -> None:
        """Note that a write to path checked it on the server (a retried write checks again until then)."""
        with self._lock:
            self._unverified.discard(path)
