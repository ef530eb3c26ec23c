"""Check a tree against a checksum file: every listed file OK, FAILED or missing, and files not listed.

Verify always reads every listed file (never the digest cache): bit rot changes bytes without
changing any metadata the cache could notice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dirkit.backends.local_files import local_files, real_path_of
from dirkit.backends.protocol import Backend
from dirkit.core.checksums.digest import DigestAlgorithm, algorithm_hint_from_name, algorithms_for_length
from dirkit.core.checksums.manifest import ManifestRecord, ParsedManifest, parse_manifest
from dirkit.core.checksums.verify import VerifyItem, VerifyResult, VerifyStatus
from dirkit.core.tree.entry import Entry, EntryKind
from dirkit.core.tree.paths import ROOT, RelPath, display_path, rel_path, sort_key
from dirkit.errors import BackendError, InvalidPathError, NotFoundError, UsageError, translate_os_error
from dirkit.ops.checksums.digests import DigestEngine, DigestOptions
from dirkit.ops.tree.scan import ScanOptions, scan_tree

MANIFEST_MAX_BYTES = 1024 * 1024 * 1024
PROBE_FILES = 8
"""Listed files tried with both algorithms when a 64-hex manifest does not say which it is."""
MAX_LINK_HOPS = 40
"""Symlinks followed for one listed path before it is reported as a loop."""


@dataclass(frozen=True, slots=True)
class VerifyOptions:
    """How to verify: the algorithm (None: from the manifest), filters for new files, parallelism."""

    algorithm: DigestAlgorithm | None = None
    scan: ScanOptions = field(default_factory=ScanOptions)
    report_new: bool = True
    jobs: int = 8
    manifest_name: str = ""
    """The manifest's file name, for the algorithm hint ('SHA256SUMS', 'tree.b3')."""
    leave_out: frozenset[RelPath] = frozenset()
    """Paths never reported as new (the manifest itself when it lies inside the tree)."""


def read_manifest_file(path: str) -> ParsedManifest:
    """Read and parse a checksum file ('-' is standard input is not supported; give a path)."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(MANIFEST_MAX_BYTES + 1)
    except OSError as error:
        raise translate_os_error(error, path) from error
    if len(data) > MANIFEST_MAX_BYTES:
        raise UsageError(f"{display_path(path)}: manifest larger than {MANIFEST_MAX_BYTES} bytes")
    parsed = parse_manifest(data)
    if not parsed.records:
        raise UsageError(f"{display_path(path)}: no checksum lines found")
    return parsed


def _stat_listed(backend: Backend, path: RelPath) -> Entry | VerifyItem:
    """Return the entry of the file a listed path leads to inside ROOT, or the item that says why not.

    Each component is looked at without following it; a symlink is followed only while it stays
    inside ROOT, so no listed path reads a file outside the tree. The entry's path is the real one.
    """
    pending = path.split("/")
    resolved: list[str] = []
    hops = 0
    through = ""
    while pending:
        component = pending.pop(0)
        if component in ("", "."):
            continue
        if component == "..":
            if not resolved:
                how = f"through {through}" if through else "with '..'"
                return VerifyItem(path, VerifyStatus.ERROR, detail=f"leads outside ROOT {how}")
            resolved.pop()
            continue
        current = RelPath("/".join([*resolved, component]))
        try:
            entry = backend.stat(current, follow_symlinks=False)
        except NotFoundError:
            return VerifyItem(path, VerifyStatus.MISSING)
        except BackendError as error:
            return VerifyItem(path, VerifyStatus.ERROR, detail=error.strerror or str(error))
        if entry.kind is not EntryKind.SYMLINK:
            resolved.append(component)
            continue
        hops += 1
        target = _target_inside_root(backend, entry.target or "")
        through = f"symlink {display_path(current)} -> {display_path(entry.target or '')}"
        if hops > MAX_LINK_HOPS:
            return VerifyItem(path, VerifyStatus.ERROR, detail=f"symlink loop at {through}")
        if target is None:
            return VerifyItem(path, VerifyStatus.ERROR, detail=f"leads outside ROOT through {through}")
        if target.startswith("/"):
            resolved = []
        pending = [part for part in target.split("/") if part] + pending
    if not resolved:
        return VerifyItem(path, VerifyStatus.ERROR, detail="names the root")
    real = RelPath("/".join(resolved))
    try:
        entry = backend.stat(real, follow_symlinks=False)
    except NotFoundError:
        return VerifyItem(path, VerifyStatus.MISSING)
    except BackendError as error:
        return VerifyItem(path, VerifyStatus.ERROR, detail=error.strerror or str(error))
    if entry.kind is not EntryKind.FILE:
        return VerifyItem(path, VerifyStatus.ERROR, detail=f"listed as a file but is a {entry.kind.value}")
    return entry


def _target_inside_root(backend: Backend, target: str) -> str | None:
    """Return a link target as ROOT-relative ('/'-led when it was absolute), or None if it is outside."""
    if not target.startswith("/"):
        return target
    local = local_files(backend)
    if local is None:
        return None
    root = local.os_path(ROOT)
    real_root = local.real_root().rstrip("/")
    normal = os.path.normpath(target)
    if normal == real_root or normal == root.rstrip("/"):
        return "/"
    for prefix in {real_root, root.rstrip("/")}:
        if prefix and normal.startswith(prefix + "/"):
            return "/" + normal[len(prefix) + 1 :]
    return None


def _choose_algorithm(
    backend: Backend,
    records: list[tuple[RelPath, ManifestRecord]],
    entries: dict[RelPath, Entry],
    options: VerifyOptions,
) -> DigestAlgorithm:
    if options.algorithm is not None:
        return options.algorithm
    tagged = {record.algorithm for _, record in records if record.algorithm is not None}
    if len(tagged) > 1:
        raise UsageError("the manifest mixes algorithms; pass -a to check the lines of one")
    if tagged:
        return tagged.pop()
    lengths = {len(record.digest) for _, record in records}
    if len(lengths) != 1:
        raise UsageError("the manifest mixes digest lengths; pass -a to check the lines of one")
    choices = algorithms_for_length(lengths.pop())
    if len(choices) == 1:
        return choices[0]
    hint = algorithm_hint_from_name(options.manifest_name)
    if hint in choices:
        return hint
    probed = 0
    for path, record in records:
        entry = entries.get(path)
        if entry is None or probed >= PROBE_FILES:
            continue
        probed += 1
        for algorithm in choices:
            engine = DigestEngine(backend, DigestOptions(algorithm, use_cache=False, jobs=1))
            digest = engine.digest_entries([entry]).digests.get(entry.path)
            if digest == record.digest:
                return algorithm
    names = " or ".join(algorithm.value for algorithm in choices)
    raise UsageError(f"cannot tell whether the manifest holds {names} digests; pass -a")


def verify_tree(
    backend: Backend, manifest: ParsedManifest, options: VerifyOptions | None = None
) -> VerifyResult:
    """Return the verdict on every listed file and, unless turned off, every file not listed."""
    chosen = options or VerifyOptions()
    items: list[VerifyItem] = []
    records: list[tuple[RelPath, ManifestRecord]] = []
    for record in manifest.records:
        try:
            path = rel_path(record.name)
        except InvalidPathError as error:
            items.append(VerifyItem(record.name, VerifyStatus.ERROR, record.digest, detail=str(error)))
            continue
        if not path:
            items.append(VerifyItem(record.name, VerifyStatus.ERROR, record.digest, detail="names the root"))
            continue
        records.append((path, record))
    snapshot = scan_tree(backend, chosen.scan)
    scanned = snapshot.by_path()
    entries: dict[RelPath, Entry] = {}
    looked_up: set[RelPath] = set()
    for path, record in records:
        if path in looked_up:
            continue
        looked_up.add(path)
        found = scanned.get(path)
        if (
            found is not None
            and found.kind is EntryKind.FILE
            and found.error is None
            and not chosen.scan.follow_symlinks
        ):
            entries[path] = found
            continue
        followed = _stat_listed(backend, path)
        if isinstance(followed, VerifyItem):
            items.append(followed._replace(expected=record.digest))
        else:
            entries[path] = followed
    algorithm = _choose_algorithm(backend, records, entries, chosen)
    engine = DigestEngine(backend, DigestOptions(algorithm, use_cache=False, jobs=chosen.jobs))
    results = engine.digest_entries(list({entry.path: entry for entry in entries.values()}.values()))
    malformed = list(manifest.malformed_lines)
    for path, record in records:
        if path not in entries:
            continue
        if record.algorithm is not None and record.algorithm is not algorithm:
            continue
        if len(record.digest) != algorithm.hex_length:
            malformed.append(record.line_number)
            continue
        real = entries[path].path
        actual = results.digests.get(real)
        if actual is None:
            reason = results.failures.get(real, "unreadable")
            items.append(VerifyItem(path, VerifyStatus.ERROR, record.digest, detail=reason))
        elif actual == record.digest:
            items.append(VerifyItem(path, VerifyStatus.OK, record.digest, actual))
        else:
            items.append(VerifyItem(path, VerifyStatus.FAILED, record.digest, actual))
    if chosen.report_new:
        listed = {path for path, _ in records}
        for entry in snapshot.entries:
            if (
                entry.kind is EntryKind.FILE
                and entry.path not in listed
                and entry.path not in chosen.leave_out
            ):
                items.append(VerifyItem(entry.path, VerifyStatus.NEW, actual=None))
    items.sort(key=lambda item: (sort_key(item.path), item.status.value))
    return VerifyResult(tuple(items), algorithm, tuple(sorted(malformed)))


def path_inside_tree(backend: Backend, file_path: str) -> RelPath | None:
    """Return file_path relative to a local tree's root if it lies inside it, else None."""
    local = local_files(backend)
    if local is None:
        return None
    real_root = local.real_root()
    real_file = real_path_of(file_path)
    if not real_file.startswith(real_root + os.sep):
        return None
    return RelPath(os.path.relpath(real_file, real_root).replace(os.sep, "/"))
