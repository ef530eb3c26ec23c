"""What a regression case is, and reading the cases and their defaults from regress.toml text."""

from __future__ import annotations

import enum
import fnmatch
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dirkit.errors import UsageError

CONFIG_NAME = "regress.toml"
EXPECTED_DIR_NAME = ".expected"
DEFAULT_TIMEOUT_S = 60.0


class Filter(enum.Enum):
    """A built-in normalization of output that is not deterministic."""

    PATH = "path"
    """The case's temporary working directory and the suite's folder."""
    DATE = "date"
    TIME = "time"
    DURATION = "duration"
    HEX = "hex"
    """Hexadecimal ids of 8 or more digits (hashes, UUIDs, addresses)."""


ALL_FILTERS = frozenset(Filter)


@dataclass(frozen=True, slots=True)
class Replacement:
    """A user's regex replacement, applied to a case's output before it is compared."""

    pattern: str
    replacement: str


@dataclass(frozen=True, slots=True)
class CaseSettings:
    """How a case is run and judged; regress.toml's top level gives every case's defaults."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    env: tuple[tuple[str, str], ...] = ()
    filters: frozenset[Filter] = ALL_FILTERS
    replacements: tuple[Replacement, ...] = ()
    exclude: tuple[str, ...] = ()
    """Gitignore patterns left out of the working tree's compare (besides the case's TMPDIR)."""
    compare_tree: bool = True


@dataclass(frozen=True, slots=True)
class Case:
    """One regression case: a command run in a fresh working directory."""

    name: str
    argv: tuple[str, ...]
    input_dir: str | None = None
    """A folder (relative to the suite folder) copied into the working directory first."""
    settings: CaseSettings = field(default_factory=CaseSettings)


@dataclass(frozen=True, slots=True)
class SuiteConfig:
    """The contents of regress.toml: defaults and the cases it defines."""

    defaults: CaseSettings = field(default_factory=CaseSettings)
    cases: tuple[Case, ...] = ()


SHELL = "/bin/sh"
_SETTING_KEYS = {"timeout", "env", "normalize", "replace", "exclude", "tree"}
_CASE_KEYS = _SETTING_KEYS | {"command", "input"}


def case_name_problem(name: str) -> str | None:
    """Return why name cannot name a case (its expectation folder), or None."""
    if not name or name.startswith(".") or "/" in name or "\0" in name or "\\" in name:
        return "a case name must be non-empty, not start with '.', and hold no '/' or '\\'"
    return None


def parse_suite_config(text: str, source: str = CONFIG_NAME) -> SuiteConfig:
    """Return the suite configuration in regress.toml text, or raise UsageError naming the problem."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{source}: not valid TOML: {error}") from error
    unknown = set(document) - _SETTING_KEYS - {"cases"}
    if unknown:
        raise UsageError(f"{source}: unknown key {sorted(unknown)[0]!r}")
    defaults = _settings(document, CaseSettings(), source)
    tables = document.get("cases", {})
    if not isinstance(tables, dict):
        raise UsageError(f"{source}: 'cases' must be a table of tables ([cases.NAME])")
    cases = tuple(_case(name, table, defaults, f"{source}: cases.{name}") for name, table in tables.items())
    return SuiteConfig(defaults, cases)


def _case(name: str, table: object, defaults: CaseSettings, where: str) -> Case:
    problem = case_name_problem(name)
    if problem:
        raise UsageError(f"{where}: {problem}")
    if not isinstance(table, dict):
        raise UsageError(f"{where}: must be a table")
    unknown = set(table) - _CASE_KEYS
    if unknown:
        raise UsageError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    command = table.get("command")
    if isinstance(command, str) and command.strip():
        argv: tuple[str, ...] = (SHELL, "-c", command)
    elif isinstance(command, list) and command and all(isinstance(word, str) for word in command):
        argv = tuple(command)
    else:
        raise UsageError(f"{where}: 'command' must be a shell command line or a non-empty list of words")
    input_dir = table.get("input")
    if input_dir is not None and (not isinstance(input_dir, str) or not input_dir):
        raise UsageError(f"{where}: 'input' must be a folder name")
    return Case(name, argv, input_dir, _settings(table, defaults, where))


def _settings(table: Mapping[str, Any], base: CaseSettings, where: str) -> CaseSettings:
    chosen = base
    if "timeout" in table:
        timeout = table["timeout"]
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise UsageError(f"{where}: 'timeout' must be a positive number of seconds")
        chosen = replace(chosen, timeout_s=float(timeout))
    if "env" in table:
        env = table["env"]
        if not isinstance(env, dict) or not all(isinstance(value, str) for value in env.values()):
            raise UsageError(f"{where}: 'env' must be a table of strings")
        merged = dict(chosen.env) | env
        chosen = replace(chosen, env=tuple(sorted(merged.items())))
    if "normalize" in table:
        chosen = replace(chosen, filters=_filters(table["normalize"], where))
    if "replace" in table:
        added = _replacements(table["replace"], where)
        chosen = replace(chosen, replacements=chosen.replacements + added)
    if "exclude" in table:
        exclude = table["exclude"]
        if not isinstance(exclude, list) or not all(isinstance(item, str) for item in exclude):
            raise UsageError(f"{where}: 'exclude' must be a list of patterns")
        chosen = replace(chosen, exclude=chosen.exclude + tuple(exclude))
    if "tree" in table:
        if not isinstance(table["tree"], bool):
            raise UsageError(f"{where}: 'tree' must be true or false")
        chosen = replace(chosen, compare_tree=table["tree"])
    return chosen


def _filters(value: object, where: str) -> frozenset[Filter]:
    known = {item.value: item for item in Filter}
    if not isinstance(value, list) or not all(isinstance(item, str) and item in known for item in value):
        names = ", ".join(sorted(known))
        raise UsageError(f"{where}: 'normalize' must be a list of filters out of: {names}")
    return frozenset(known[item] for item in value)


def _replacements(value: object, where: str) -> tuple[Replacement, ...]:
    message = f"{where}: 'replace' must be a list of [REGEX, REPLACEMENT] pairs"
    if not isinstance(value, list):
        raise UsageError(message)
    found: list[Replacement] = []
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
            raise UsageError(message)
        try:
            re.compile(pair[0])
        except re.error as error:
            raise UsageError(f"{where}: bad regex {pair[0]!r}: {error}") from error
        found.append(Replacement(pair[0], pair[1]))
    return tuple(found)


def select_cases(cases: Iterable[Case], patterns: Sequence[str]) -> tuple[Case, ...]:
    """Return the cases whose name contains one of patterns, or matches it as a glob (all if none)."""
    if not patterns:
        return tuple(cases)
    return tuple(case for case in cases if any(_name_matches(case.name, pattern) for pattern in patterns))


def _name_matches(name: str, pattern: str) -> bool:
    if any(mark in pattern for mark in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return pattern in name
