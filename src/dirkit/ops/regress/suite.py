"""Finding a suite's cases: executable files in its folder (or files matching a glob) and regress.toml."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from dirkit.core.regress.cases import (
    CONFIG_NAME,
    Case,
    SuiteConfig,
    case_name_problem,
    parse_suite_config,
)
from dirkit.errors import TreeNotFoundError, UsageError


@dataclass(frozen=True, slots=True)
class Suite:
    """A folder of regression cases and where their expectations are kept."""

    directory: str
    """The suite folder, absolute."""
    cases: tuple[Case, ...]


def load_suite(directory: str, glob: str | None = None, interpreter: Sequence[str] = ()) -> Suite:
    """Return the suite in directory: its executable files (or glob matches) and regress.toml's cases.

    A file matched by glob that is not executable runs through interpreter (e.g. python3); without
    one it must be executable. Raises UsageError for a bad regress.toml or a name used twice.
    """
    root = os.path.abspath(directory)
    if not os.path.isdir(root):
        raise TreeNotFoundError(2, "no such directory", root)
    config = _read_config(root)
    file_cases = _file_cases(root, glob, tuple(interpreter), config)
    names: set[str] = set()
    for case in (*file_cases, *config.cases):
        if case.name in names:
            raise UsageError(f"{root}: case {case.name!r} is both a file and an entry of {CONFIG_NAME}")
        names.add(case.name)
    ordered = tuple(sorted((*file_cases, *config.cases), key=lambda case: case.name))
    return Suite(root, ordered)


def _read_config(root: str) -> SuiteConfig:
    path = os.path.join(root, CONFIG_NAME)
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except FileNotFoundError:
        return SuiteConfig()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path}: cannot read: {error}") from error
    return parse_suite_config(text, path)


def _file_cases(root: str, glob: str | None, interpreter: tuple[str, ...], config: SuiteConfig) -> list[Case]:
    found: list[Case] = []
    with os.scandir(root) as listing:
        for item in listing:
            if item.name == CONFIG_NAME or case_name_problem(item.name) or not item.is_file():
                continue
            executable = bool(item.stat().st_mode & stat.S_IXUSR) and os.access(item.path, os.X_OK)
            if glob is not None:
                if not fnmatch.fnmatchcase(item.name, glob):
                    continue
            elif not executable:
                continue
            argv = (*interpreter, item.path) if interpreter else (item.path,)
            found.append(Case(item.name, argv, settings=config.defaults))
    return found
