"""An in-memory backend for tests and models; behaves like a small POSIX filesystem."""

from __future__ import annotations

import dataclasses
import errno
import io
import os
import threading
from dataclasses import dataclass
from typing import BinaryIO

from dirkit.backends.protocol import Capabilities
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import ROOT, RelPath, join_path, parent_path, rel_path
from dirkit.errors import (
    AlreadyExistsError,
    BackendError,
    IsADirError,
    NotADirError,
    NotFoundError,
    UnsupportedError,
)

WHOLE_SECOND = 1_000_000_000


@dataclass(slots=True)
class MemoryNode:
    """One stored path: its kind, bytes, times and mode."""

    kind: EntryKind
    data: bytes = b""
    mtime_ns: int = 0
    mode: int = 0o644
    target: str | None = None
    ino: int = 0


class MemoryBackend:
    """A tree held in a dict; thread-safe; the clock is a counter so tests stay deterministic.

    It behaves as its capabilities say: times are kept in steps of mtime_resolution_ns, and without
    symlinks or hard_links those calls raise UnsupportedError; without rename_replaces, a rename that
    replaces an existing name frees the name first, in a separate step. The keyword options build
    such a tree (a stand-in for an FTP server) from the default capabilities.
    """

    def __init__(
        self,
        name: str = "memory",
        capabilities: Capabilities | None = None,
        *,
        whole_second_times: bool = False,
        symlinks: bool = True,
        hard_links: bool = True,
        atomic_replace: bool = True,
    ) -> None:
        self._name = name
        declared = capabilities or Capabilities(parallel_connections=4, hard_links=True, identities=True)
        self._capabilities = dataclasses.replace(
            declared,
            mtime_resolution_ns=WHOLE_SECOND if whole_second_times else declared.mtime_resolution_ns,
            symlinks=declared.symlinks and symlinks,
            hard_links=declared.hard_links and hard_links,
            rename_replaces=declared.rename_replaces and atomic_replace,
        )
        self._lock = threading.RLock()
        self._clock = 1_000_000_000_000_000_000
        self._next_ino = 1
        self.nodes: dict[RelPath, MemoryNode] = {ROOT: self._node(EntryKind.DIR, mode=0o755)}

    def _node(self, kind: EntryKind, **fields: object) -> MemoryNode:
        self._clock += 1_000_000_000
        self._next_ino += 1
        node = MemoryNode(kind, mtime_ns=self._clock, ino=self._next_ino)
        for key, value in fields.items():
            setattr(node, key, value)
        return node

    @property
    def capabilities(self) -> Capabilities:
        """Return the configured capabilities."""
        return self._capabilities

    @property
    def description(self) -> str:
        """Return the tree's name."""
        return f"memory:{self._name}"

    def _kept_time(self, mtime_ns: int) -> int:
        """Return mtime_ns as this tree keeps it: cut down to its resolution."""
        step = self._capabilities.mtime_resolution_ns
        return mtime_ns - mtime_ns % step if step is not None and step > 1 else mtime_ns

    def _get(self, path: RelPath) -> MemoryNode:
        node = self.nodes.get(path)
        if node is None:
            raise NotFoundError(errno.ENOENT, "no such file or directory", path)
        return node

    def _require_parent_dir(self, path: RelPath) -> None:
        parent = self.nodes.get(parent_path(path))
        if parent is None:
            raise NotFoundError(errno.ENOENT, "no such directory", parent_path(path))
        if parent.kind is not EntryKind.DIR:
            raise NotADirError(errno.ENOTDIR, "not a directory", parent_path(path))

    def _entry(self, path: RelPath, node: MemoryNode) -> Entry:
        size = len(node.data) if node.kind is EntryKind.FILE else 0
        ino = node.ino if self._capabilities.identities else 0
        mtime = node.mtime_ns if self._capabilities.mtime_resolution_ns is not None else None
        return Entry(path, node.kind, size, mtime, node.mode, node.target, ino=ino)

    def _resolve(self, path: RelPath, follow_last: bool) -> RelPath:
        """Return the stored path that path names: symlinks in its parents (and last, if asked) followed."""
        node = self.nodes.get(path)
        if node is not None and (not follow_last or node.kind is not EntryKind.SYMLINK):
            return path
        pending = list(reversed(path.split("/"))) if path else []
        resolved: list[str] = []
        hops = 0
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            found = self.nodes.get(RelPath("/".join([*resolved, part])))
            followed = follow_last or bool(pending)
            if (
                found is not None
                and found.kind is EntryKind.SYMLINK
                and found.target is not None
                and not found.target.startswith("/")
                and followed
                and hops < 40
            ):
                hops += 1
                pending.extend(reversed(found.target.split("/")))
                continue
            resolved.append(part)
        return RelPath("/".join(resolved))

    def stat(self, path: RelPath, follow_symlinks: bool = False) -> Entry:
        """Return the entry at path."""
        with self._lock:
            real = self._resolve(path, follow_symlinks)
            entry = self._entry(real, self._get(real if real in self.nodes else path))
            return entry._replace(path=path)

    def list_dir(self, path: RelPath) -> list[Entry]:
        """Return the children of a directory (through symlinks to directories, as a POSIX tree does)."""
        with self._lock:
            real = self._resolve(path, True)
            node = self._get(real if real in self.nodes else path)
            if node.kind is not EntryKind.DIR:
                raise NotADirError(errno.ENOTDIR, "not a directory", path)
            prefix = f"{path}/" if path else ""
            cut = len(real) + 1 if real else 0
            return [
                self._entry(RelPath(prefix + child[cut:]), child_node)
                for child, child_node in self.nodes.items()
                if child and parent_path(child) == real
            ]

    def open_read(self, path: RelPath) -> BinaryIO:
        """Return the file's bytes as a stream."""
        with self._lock:
            real = self._resolve(path, True)
            node = self._get(real if real in self.nodes else path)
            if node.kind is EntryKind.DIR:
                raise IsADirError(errno.EISDIR, "is a directory", path)
            return io.BytesIO(node.data)

    def write_file(
        self,
        path: RelPath,
        source: BinaryIO,
        mtime_ns: int | None = None,
        mode: int | None = None,
    ) -> Entry:
        """Store source's bytes at path in one step."""
        data = source.read()
        with self._lock:
            self._require_parent_dir(path)
            existing = self.nodes.get(path)
            if existing is not None and existing.kind is EntryKind.DIR:
                raise IsADirError(errno.EISDIR, "is a directory", path)
            node = self._node(EntryKind.FILE, data=data)
            if mtime_ns is not None:
                node.mtime_ns = self._kept_time(mtime_ns)
            if mode is not None and self._capabilities.can_set_mode:
                node.mode = mode & 0o7777
            self.nodes[path] = node
            return self._entry(path, node)

    def make_dir(self, path: RelPath, mode: int | None = None) -> None:
        """Create a directory."""
        with self._lock:
            self._require_parent_dir(path)
            if path in self.nodes:
                raise AlreadyExistsError(errno.EEXIST, "already exists", path)
            kept = mode is not None and self._capabilities.can_set_mode
            self.nodes[path] = self._node(EntryKind.DIR, mode=mode if kept else 0o755)

    def make_symlink(self, path: RelPath, target: str) -> None:
        """Create a symlink (refused when the capabilities say the tree has none)."""
        if not self._capabilities.symlinks:
            raise UnsupportedError(errno.EOPNOTSUPP, "this tree cannot hold symlinks", path)
        with self._lock:
            self._require_parent_dir(path)
            if path in self.nodes:
                raise AlreadyExistsError(errno.EEXIST, "already exists", path)
            self.nodes[path] = self._node(EntryKind.SYMLINK, target=target, mode=0o777)

    def remove_file(self, path: RelPath) -> None:
        """Remove a non-directory."""
        with self._lock:
            if self._get(path).kind is EntryKind.DIR:
                raise IsADirError(errno.EISDIR, "is a directory", path)
            del self.nodes[path]

    def hard_link(self, existing: RelPath, new: RelPath) -> None:
        """Make new a second name of the existing file (both names share one node)."""
        if not self._capabilities.hard_links:
            raise UnsupportedError(errno.EOPNOTSUPP, "this tree cannot hold hard links", new)
        with self._lock:
            node = self._get(existing)
            if node.kind is EntryKind.DIR:
                raise IsADirError(errno.EISDIR, "is a directory", existing)
            self._require_parent_dir(new)
            if new in self.nodes:
                raise AlreadyExistsError(errno.EEXIST, "already exists", new)
            self.nodes[new] = node

    def remove_dir(self, path: RelPath) -> None:
        """Remove an empty directory."""
        with self._lock:
            if self._get(path).kind is not EntryKind.DIR:
                raise NotADirError(errno.ENOTDIR, "not a directory", path)
            if not path:
                raise BackendError(errno.EBUSY, "cannot remove the root", path)
            if any(parent_path(child) == path for child in self.nodes if child):
                raise BackendError(errno.ENOTEMPTY, "directory not empty", path)
            del self.nodes[path]

    def rename(self, old: RelPath, new: RelPath, replace: bool = False) -> None:
        """Rename old (and everything below it) to new; without rename_replaces a replace takes two steps."""
        if replace and not self._capabilities.rename_replaces:
            self._free_name_for(old, new)
        with self._lock:
            node = self._get(old)
            self._require_parent_dir(new)
            existing = self.nodes.get(new)
            if existing is not None and not replace:
                raise AlreadyExistsError(errno.EEXIST, "already exists", new)
            if (
                existing is not None
                and existing.kind is EntryKind.DIR
                and new != old
                and any(parent_path(child) == new for child in self.nodes if child)
            ):
                raise BackendError(errno.ENOTEMPTY, "directory not empty", new)
            moved = {
                child: child_node
                for child, child_node in self.nodes.items()
                if child != old and child.startswith(old + "/")
            }
            del self.nodes[old]
            for child in moved:
                del self.nodes[child]
            self.nodes[new] = node
            for child, child_node in moved.items():
                self.nodes[RelPath(new + child[len(old) :])] = child_node

    def _free_name_for(self, old: RelPath, new: RelPath) -> None:
        """Remove the file or empty directory at new, as a step of its own, before old takes its name."""
        with self._lock:
            self._get(old)
            existing = self.nodes.get(new)
            if existing is None or new == old:
                return
            if existing.kind is EntryKind.DIR:
                self.remove_dir(new)
            else:
                self.remove_file(new)

    def set_mtime(self, path: RelPath, mtime_ns: int) -> None:
        """Set the modification time."""
        with self._lock:
            self._get(path).mtime_ns = self._kept_time(mtime_ns)

    def set_mode(self, path: RelPath, mode: int) -> None:
        """Set the permission bits (refused when the capabilities say modes are not kept)."""
        if not self._capabilities.can_set_mode:
            raise UnsupportedError(errno.EPERM, "this tree cannot keep permission bits", path)
        with self._lock:
            self._get(path).mode = mode & 0o7777

    def close(self) -> None:
        """Nothing to release."""

    def add_file(self, path: str, data: bytes, mtime_ns: int | None = None) -> None:
        """Create a file and any missing parent dirs (a test convenience)."""
        target = rel_path(path)
        self.add_dirs(parent_path(target))
        self.write_file(target, io.BytesIO(data), mtime_ns=mtime_ns)

    def add_dirs(self, path: str) -> None:
        """Create a directory and its missing parents (a test convenience)."""
        target = rel_path(path)
        built = ROOT
        for part in target.split("/") if target else ():
            built = join_path(built, part)
            if built not in self.nodes:
                self.make_dir(built)


class AbsentTree(MemoryBackend):
    """An empty stand-in for a target directory that does not exist yet (for planning only)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self._location = os.path.abspath(location)

    @property
    def description(self) -> str:
        """Return the absolute path the tree will have."""
        return self._location
