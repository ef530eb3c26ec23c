"""dirkit: compare, mirror, sync, search, verify, split and pack whole directory trees.

The library's entry points are the functions and option types named in __all__, imported lazily so
that `import dirkit` stays cheap. A tree is a path or an open Backend (from dirkit.open_tree); trees
given as paths are opened and closed by the call. The functions never print; they return values (a
Diff, a Plan, a RunResult whose failures list every item that failed or was left alone, ...) and
raise dirkit.errors kinds, which also subclass the builtin OSError kinds.
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dirkit.backends.protocol import Backend
    from dirkit.core.checksums.digest import DigestAlgorithm as DigestAlgorithm
    from dirkit.core.checksums.manifest import ParsedManifest
    from dirkit.core.checksums.verify import VerifyResult
    from dirkit.core.compare.diff import Diff
    from dirkit.core.run.plan import Plan
    from dirkit.core.search.criteria import FindCriteria as FindCriteria
    from dirkit.core.search.grep import GrepPattern as GrepPattern
    from dirkit.core.tree.entry import Entry
    from dirkit.core.tree.filters import make_filter as make_filter
    from dirkit.ops.archive.pack import PackOptions as PackOptions
    from dirkit.ops.archive.pack import PackResult
    from dirkit.ops.archive.unpack import UnpackOptions as UnpackOptions
    from dirkit.ops.archive.unpack import UnpackResult
    from dirkit.ops.checksums.digests import DigestOptions as DigestOptions
    from dirkit.ops.checksums.manifest import ManifestOptions as ManifestOptions
    from dirkit.ops.checksums.manifest import ManifestResult
    from dirkit.ops.checksums.verify import VerifyOptions as VerifyOptions
    from dirkit.ops.compare.trees import CompareOptions as CompareOptions
    from dirkit.ops.files.join import JoinOptions as JoinOptions
    from dirkit.ops.files.join import JoinResult
    from dirkit.ops.files.split import SplitOptions as SplitOptions
    from dirkit.ops.files.split import SplitResult
    from dirkit.ops.run.execute import RunResult
    from dirkit.ops.run.mirror import MirrorOptions
    from dirkit.ops.search.dupes import DupesOptions as DupesOptions
    from dirkit.ops.search.dupes import DupesResult
    from dirkit.ops.search.find import FindOptions as FindOptions
    from dirkit.ops.search.grep import FileMatches
    from dirkit.ops.search.grep import GrepMode as GrepMode
    from dirkit.ops.search.grep import GrepOptions as GrepOptions
    from dirkit.ops.tree.scan import ScanOptions as ScanOptions
    from dirkit.state.journal import Journal

__version__ = "0.1.0"

LAZY_NAMES: dict[str, str] = {
    "CompareOptions": "dirkit.ops.compare.trees",
    "DigestAlgorithm": "dirkit.core.checksums.digest",
    "DigestOptions": "dirkit.ops.checksums.digests",
    "DupesOptions": "dirkit.ops.search.dupes",
    "FindCriteria": "dirkit.core.search.criteria",
    "FindOptions": "dirkit.ops.search.find",
    "GrepMode": "dirkit.ops.search.grep",
    "GrepOptions": "dirkit.ops.search.grep",
    "GrepPattern": "dirkit.core.search.grep",
    "JoinOptions": "dirkit.ops.files.join",
    "ManifestOptions": "dirkit.ops.checksums.manifest",
    "PackOptions": "dirkit.ops.archive.pack",
    "ScanOptions": "dirkit.ops.tree.scan",
    "SplitOptions": "dirkit.ops.files.split",
    "UnpackOptions": "dirkit.ops.archive.unpack",
    "VerifyOptions": "dirkit.ops.checksums.verify",
    "make_filter": "dirkit.core.tree.filters",
}
"""The option types (and the filter maker) of the facade, each with the module it is imported from."""

__all__ = [
    "CompareOptions",
    "DigestAlgorithm",
    "DigestOptions",
    "DupesOptions",
    "FindCriteria",
    "FindOptions",
    "GrepMode",
    "GrepOptions",
    "GrepPattern",
    "JoinOptions",
    "ManifestOptions",
    "PackOptions",
    "ScanOptions",
    "SplitOptions",
    "UnpackOptions",
    "VerifyOptions",
    "apply",
    "compare",
    "dupes",
    "find",
    "grep",
    "join",
    "make_filter",
    "manifest",
    "mirror",
    "open_tree",
    "pack",
    "plan_mirror",
    "split",
    "undo",
    "unpack",
    "verify",
]


def __getattr__(name: str) -> object:
    """Import an option type of the facade on first use."""
    module = LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'dirkit' has no attribute {name!r}")
    value: object = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the module's names, the lazily imported ones included."""
    return sorted({*globals(), *__all__})


def open_tree(location: str | os.PathLike[str], *, must_exist: bool = True) -> Backend:
    """Return an open tree for a path or URL; raise TreeNotFoundError if it must exist and does not."""
    from dirkit.backends.trees import open_tree as open_location

    return open_location(os.fspath(location), must_exist)


@contextlib.contextmanager
def _opened(
    tree: str | os.PathLike[str] | Backend, *, missing_as_empty: bool = False, create: bool = False
) -> Iterator[Backend]:
    """Yield the tree as a Backend (a missing one read as empty, or created, when asked).

    A tree opened here is closed after the block; a Backend passed in stays open.
    """
    from dirkit.backends.protocol import Backend as BackendProtocol

    if isinstance(tree, BackendProtocol):
        yield tree
        return
    location = os.fspath(tree)
    if missing_as_empty or create:
        from dirkit.ops.run.mirror import open_mirror_target

        backend = open_mirror_target(location, create)
    else:
        backend = open_tree(location)
    try:
        yield backend
    finally:
        backend.close()


def _journal() -> contextlib.closing[Journal]:
    """Return the run journal, open for the block and closed after it."""
    from dirkit.state.journal import Journal

    return contextlib.closing(Journal.open())


def compare(
    left: str | os.PathLike[str] | Backend,
    right: str | os.PathLike[str] | Backend,
    options: CompareOptions | None = None,
) -> Diff:
    """Return how the right tree differs from the left one (diff.differences lists what differs)."""
    from dirkit.ops.compare.trees import compare_trees

    with _opened(left) as left_tree, _opened(right) as right_tree:
        return compare_trees(left_tree, right_tree, options)


def _mirror_options(
    delete: bool,
    content: bool,
    exclude: tuple[str, ...] | list[str],
    gitignore: bool,
    follow_symlinks: bool,
    modify_window: float,
    max_delete: str,
    force: bool,
    jobs: int,
    keep_backups: int,
) -> MirrorOptions:
    from dirkit.core.run.guards import GuardOptions, parse_delete_limit
    from dirkit.ops.run.mirror import MirrorOptions

    return MirrorOptions(
        exclude=tuple(exclude),
        gitignore=gitignore,
        follow_symlinks=follow_symlinks,
        content=content,
        modify_window_ns=round(modify_window * 1_000_000_000),
        delete=delete,
        guards=GuardOptions(parse_delete_limit(max_delete), force),
        jobs=jobs,
        keep_backups=keep_backups,
    )


def plan_mirror(
    source: str | os.PathLike[str] | Backend,
    target: str | os.PathLike[str] | Backend,
    *,
    delete: bool = True,
    content: bool = False,
    exclude: tuple[str, ...] | list[str] = (),
    gitignore: bool = False,
    follow_symlinks: bool = False,
    modify_window: float = 0.0,
) -> Plan:
    """Return the plan that would make target an exact copy of source (nothing is changed, nor created)."""
    from dirkit.ops.run.mirror import plan_mirror_trees

    options = _mirror_options(
        delete, content, exclude, gitignore, follow_symlinks, modify_window, "100%", True, 8, 20
    )
    with _opened(source) as source_tree, _opened(target, missing_as_empty=True) as target_tree:
        return plan_mirror_trees(source_tree, target_tree, options).plan


def mirror(
    source: str | os.PathLike[str] | Backend,
    target: str | os.PathLike[str] | Backend,
    *,
    delete: bool = True,
    content: bool = False,
    exclude: tuple[str, ...] | list[str] = (),
    gitignore: bool = False,
    follow_symlinks: bool = False,
    modify_window: float = 0.0,
    max_delete: str = "50%",
    force: bool = False,
    jobs: int = 8,
    keep_backups: int = 20,
) -> RunResult:
    """Make target an exact copy of source, with backups and a journal; return the run's result."""
    from dirkit.ops.run.mirror import mirror_trees

    options = _mirror_options(
        delete,
        content,
        exclude,
        gitignore,
        follow_symlinks,
        modify_window,
        max_delete,
        force,
        jobs,
        keep_backups,
    )
    with _opened(source) as source_tree, _opened(target, create=True) as target_tree, _journal() as journal:
        return mirror_trees(source_tree, target_tree, journal, options)


def apply(plan: Plan | str | os.PathLike[str], *, force: bool = False, jobs: int = 8) -> RunResult:
    """Apply exactly a saved mirror plan (a Plan or its file); raise StalePlanError if it no longer fits."""
    from dirkit.core.run.guards import GuardOptions
    from dirkit.core.run.plan import Plan as PlanValue
    from dirkit.ops.run.mirror import apply_saved_plan, read_plan_file

    chosen = plan if isinstance(plan, PlanValue) else read_plan_file(os.fspath(plan))
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(_opened(chosen.source)) if chosen.source is not None else None
        target = stack.enter_context(_opened(chosen.target))
        journal = stack.enter_context(_journal())
        return apply_saved_plan(chosen, source, target, journal, GuardOptions(force=force), jobs)


def undo(target: str | os.PathLike[str] | Backend, *, run_id: str | None = None, jobs: int = 8) -> RunResult:
    """Revert the last run on target (or run_id); conflicts are left alone and listed in the result."""
    from dirkit.ops.run.execute import ExecuteOptions
    from dirkit.ops.run.undo import undo_run

    with _opened(target) as tree, _journal() as journal:
        return undo_run(journal, tree, run_id, ExecuteOptions(jobs=jobs))


def find(root: str | os.PathLike[str] | Backend, options: FindOptions | None = None) -> Iterator[Entry]:
    """Yield the entries below root that meet options.criteria, in scan order (entry.error: unreadable)."""
    from dataclasses import replace

    from dirkit.ops.search.find import FindOptions, find_entries

    chosen = options or FindOptions()
    if not chosen.root_name and isinstance(root, str | os.PathLike):
        chosen = replace(chosen, root_name=os.path.basename(os.path.normpath(os.fspath(root))))
    with _opened(root) as tree:
        yield from find_entries(tree, chosen)


def grep(root: str | os.PathLike[str] | Backend, options: GrepOptions | str) -> Iterator[FileMatches]:
    """Yield what each file below root gave for a pattern (a regex string, or full GrepOptions)."""
    from dirkit.core.search.grep import GrepPattern
    from dirkit.ops.search.grep import GrepOptions, grep_tree

    chosen = GrepOptions(GrepPattern(options)) if isinstance(options, str) else options
    with _opened(root) as tree:
        yield from grep_tree(tree, chosen)


def dupes(*roots: str | os.PathLike[str] | Backend, options: DupesOptions | None = None) -> DupesResult:
    """Return the groups of identical files across the roots (file.root_index says which root)."""
    from dirkit.ops.search.dupes import DupesOptions, find_duplicates

    with contextlib.ExitStack() as stack:
        trees = [stack.enter_context(_opened(root)) for root in roots]
        return find_duplicates(trees, options or DupesOptions())


def manifest(
    root: str | os.PathLike[str] | Backend, options: ManifestOptions | None = None
) -> ManifestResult:
    """Return the b3sum/sha256sum checksum file of every file below root (result.text holds its bytes)."""
    from dirkit.ops.checksums.manifest import build_manifest

    with _opened(root) as tree:
        return build_manifest(tree, options)


def verify(
    checksums: str | os.PathLike[str] | ParsedManifest,
    root: str | os.PathLike[str] | Backend,
    options: VerifyOptions | None = None,
) -> VerifyResult:
    """Return the verdict on every file of root against a checksum file (a path, or one already parsed)."""
    from dataclasses import replace

    from dirkit.ops.checksums.verify import VerifyOptions, path_inside_tree, read_manifest_file, verify_tree

    chosen = options or VerifyOptions()
    with _opened(root) as tree:
        if not isinstance(checksums, str | os.PathLike):
            return verify_tree(tree, checksums, chosen)
        path = os.fspath(checksums)
        inside = path_inside_tree(tree, path)
        chosen = replace(
            chosen,
            manifest_name=chosen.manifest_name or os.path.basename(path),
            leave_out=chosen.leave_out | ({inside} if inside is not None else set()),
        )
        return verify_tree(tree, read_manifest_file(path), chosen)


def split(file: str | os.PathLike[str], options: SplitOptions) -> SplitResult:
    """Cut a file into numbered parts plus a parts manifest (options: a part_size or a part_count)."""
    from dirkit.ops.files.split import split_file

    return split_file(os.fspath(file), options)


def join(parts: str | os.PathLike[str], options: JoinOptions | None = None) -> JoinResult:
    """Join split parts (their folder or NAME.parts.json) back into one file, checking every part."""
    from dirkit.ops.files.join import JoinOptions, join_parts

    return join_parts(os.fspath(parts), options or JoinOptions())


def pack(
    root: str | os.PathLike[str], archive: str | os.PathLike[str], options: PackOptions | None = None
) -> PackResult:
    """Write the local tree at root into a zip or tar archive (the format from the archive's name)."""
    from dirkit.ops.archive.pack import PackOptions, pack_tree

    return pack_tree(os.fspath(root), os.fspath(archive), options or PackOptions())


def unpack(
    archive: str | os.PathLike[str], dest: str | os.PathLike[str], options: UnpackOptions | None = None
) -> UnpackResult:
    """Extract an archive safely into dest; with options.overwrite as a journaled run that undo reverts."""
    from dirkit.ops.archive.unpack import UnpackOptions, unpack_archive
    from dirkit.ops.archive.unpack_journal import unpack_with_journal

    chosen = options or UnpackOptions()
    if not chosen.overwrite:
        return unpack_archive(os.fspath(archive), os.fspath(dest), chosen)
    with _journal() as journal:
        return unpack_with_journal(os.fspath(archive), os.fspath(dest), chosen, journal)
