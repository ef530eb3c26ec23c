"""Working directories for cases: empty folders with HOME and TMPDIR inside, reused when left untouched.

Making and removing three folders per case costs more than a trivial case itself on some disks, so a
folder that a case left exactly as it got it (nothing but its empty HOME and TMPDIR, same modes) is
handed to the next case; any other is removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import threading

HOME_DIR = ".home"
TMP_DIR = ".tmp"
"""HOME and TMPDIR of a case, inside its working directory; TMPDIR is left out of the tree compare."""


class WorkDirs:
    """Hands out fresh working directories below parent and removes them all on close."""

    def __init__(self, parent: str | None = None) -> None:
        self._parent = parent
        self._lock = threading.Lock()
        self._free: list[str] = []
        self._modes: dict[str, tuple[int, ...]] = {}
        self.empty = tempfile.mkdtemp(prefix="dirkit-regress-empty-", dir=parent)
        """An empty folder: the expected tree of a case that saved none."""

    def take(self) -> str:
        """Return an empty working directory holding only empty HOME and TMPDIR folders."""
        with self._lock:
            if self._free:
                return self._free.pop()
        path = tempfile.mkdtemp(prefix="dirkit-regress-", dir=self._parent)
        os.mkdir(os.path.join(path, HOME_DIR))
        os.mkdir(os.path.join(path, TMP_DIR))
        modes = [os.lstat(os.path.join(path, name)).st_mode for name in ("", HOME_DIR, TMP_DIR)]
        with self._lock:
            self._modes[path] = tuple(modes)
        return path

    def untouched(self, path: str) -> bool:
        """Tell whether path holds only its empty HOME and TMPDIR, with the modes they were made with."""
        try:
            if sorted(os.listdir(path)) != [HOME_DIR, TMP_DIR]:
                return False
            modes = [os.lstat(os.path.join(path, name)).st_mode for name in ("", HOME_DIR, TMP_DIR)]
            if not all(stat.S_ISDIR(mode) for mode in modes) or tuple(modes) != self._modes.get(path):
                return False
            return not any(os.listdir(os.path.join(path, name)) for name in (HOME_DIR, TMP_DIR))
        except OSError:
            return False

    def give_back(self, path: str) -> None:
        """Keep path for the next case if it is untouched, else remove it."""
        if self.untouched(path):
            with self._lock:
                self._free.append(path)
            return
        remove_tree(path)
        with self._lock:
            self._modes.pop(path, None)

    def close(self) -> None:
        """Remove every working directory handed back, and the empty folder."""
        with self._lock:
            free, self._free = self._free, []
        for path in [*free, self.empty]:
            remove_tree(path)


def remove_tree(path: str) -> None:
    """Remove a working directory, even one whose case took away the permissions of its folders."""
    shutil.rmtree(path, ignore_errors=True)
    if not os.path.lexists(path):
        return
    for folder, _, _ in os.walk(path):
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o700)
    shutil.rmtree(path, ignore_errors=True)
