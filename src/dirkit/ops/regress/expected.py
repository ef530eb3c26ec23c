"""Reading and saving the expectations of cases in DIR/.expected/CASE/."""

from __future__ import annotations

import os
import shutil
import tempfile

from dirkit.backends.local import LocalBackend
from dirkit.core.regress.cases import EXPECTED_DIR_NAME
from dirkit.core.regress.expectation import (
    EXIT_STATUS_FILE,
    STDERR_FILE,
    STDOUT_FILE,
    TREE_DIR,
    Expectation,
    format_exit_status,
    parse_exit_status,
)
from dirkit.core.tree.entry import EntryKind
from dirkit.core.tree.filters import TreeFilter
from dirkit.errors import UsageError
from dirkit.ops.tree.scan import ScanOptions, scan_tree


def expectation_dir(suite_dir: str, case_name: str) -> str:
    """Return the folder holding a case's expectation."""
    return os.path.join(suite_dir, EXPECTED_DIR_NAME, case_name)


def read_expectation(folder: str) -> Expectation | None:
    """Return the expectation saved in folder, None when there is none; UsageError when it is damaged."""
    status_path = os.path.join(folder, EXIT_STATUS_FILE)
    try:
        status_text = _read_text(status_path)
    except FileNotFoundError:
        return None
    try:
        return Expectation(
            stdout=_read_text(os.path.join(folder, STDOUT_FILE), missing_ok=True),
            stderr=_read_text(os.path.join(folder, STDERR_FILE), missing_ok=True),
            exit_status=parse_exit_status(status_text, status_path),
        )
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read the expectation in {folder}: {error}") from error


def _read_text(path: str, missing_ok: bool = False) -> str:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as stream:
            return stream.read()
    except FileNotFoundError:
        if missing_ok:
            return ""
        raise


def save_expectation(
    folder: str, expectation: Expectation, work_dir: str | None, tree_filter: TreeFilter
) -> None:
    """Replace the expectation in folder by expectation and a copy of work_dir (None: no tree)."""
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    fresh = tempfile.mkdtemp(prefix=f".{os.path.basename(folder)}.new-", dir=parent)
    try:
        for name, text in (
            (STDOUT_FILE, expectation.stdout),
            (STDERR_FILE, expectation.stderr),
            (EXIT_STATUS_FILE, format_exit_status(expectation.exit_status)),
        ):
            path = os.path.join(fresh, name)
            with open(path, "w", encoding="utf-8", errors="surrogateescape", newline="") as out:
                out.write(text)
        if work_dir is not None:
            copy_tree_files(work_dir, os.path.join(fresh, TREE_DIR), tree_filter)
        _swap_into_place(fresh, folder)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise


def _swap_into_place(fresh: str, folder: str) -> None:
    if not os.path.lexists(folder):
        os.rename(fresh, folder)
        return
    old = tempfile.mkdtemp(prefix=f".{os.path.basename(folder)}.old-", dir=os.path.dirname(folder))
    os.rename(folder, os.path.join(old, "previous"))
    os.rename(fresh, folder)
    shutil.rmtree(old, ignore_errors=True)


def copy_tree_files(source: str, target: str, tree_filter: TreeFilter) -> None:
    """Copy the files and symlinks below source that tree_filter keeps into target (keeping exec bits)."""
    snapshot = scan_tree(LocalBackend(source), ScanOptions(tree_filter=tree_filter))
    for entry in snapshot.entries:
        if entry.kind not in (EntryKind.FILE, EntryKind.SYMLINK):
            continue
        destination = os.path.join(target, entry.path)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        origin = os.path.join(source, entry.path)
        if entry.kind is EntryKind.SYMLINK:
            os.symlink(os.readlink(origin), destination)
        else:
            shutil.copyfile(origin, destination)
            os.chmod(destination, 0o755 if entry.mode & 0o100 else 0o644)
