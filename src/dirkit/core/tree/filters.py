"""Which paths a scan leaves out: --exclude patterns, .gitignore rules, dirkit's own names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dirkit.core.tree.paths import RelPath
from dirkit.errors import UsageError

if TYPE_CHECKING:
    import pathspec

RESERVED_DIR_NAME = ".dirkit"
"""dirkit's own folder (backups, markers); never scanned, compared or mirrored."""
TEMP_MARKER = ".dirkit-tmp-"
"""Part of the name of every temporary file dirkit writes; such files are never scanned."""
GITIGNORE_NAME = ".gitignore"
PATHSPEC_BACKEND = "simple"
"""pathspec's matching engine, named: it would pick RE2 once google-re2 is installed (dirkit needs that
for grep), and its compiled RE2 sets cannot be sent to worker processes (they do not pickle)."""


def compile_patterns(patterns: Iterable[str]) -> pathspec.GitIgnoreSpec:
    """Return patterns (gitignore syntax) compiled, or raise UsageError naming the bad one."""
    import pathspec  # imported on first use: it costs ~30 ms at startup

    lines = [line for line in patterns if line.strip() and not line.lstrip().startswith("#")]
    for line in lines:
        try:
            pathspec.GitIgnoreSpec.from_lines([line], backend=PATHSPEC_BACKEND)
        except Exception as error:
            raise UsageError(f"bad exclude pattern {line!r}: {error}") from error
    return pathspec.GitIgnoreSpec.from_lines(lines, backend=PATHSPEC_BACKEND)


def glob_problem(glob: str, backslash_escapes: bool = False) -> str | None:
    """Return why a shell or gitignore glob is malformed (an unclosed '[', a lone trailing '\\'), or None."""
    index, length = 0, len(glob)
    while index < length:
        char = glob[index]
        index += 1
        if char == "\\" and backslash_escapes:
            if index >= length:
                return "it ends in a lone backslash (write \\\\ for a literal one)"
            index += 1
        elif char == "[":
            end = index
            if end < length and glob[end] in "!^":
                end += 1
            if end < length and glob[end] == "]":
                end += 1
            while end < length and glob[end] != "]":
                end += 2 if glob[end] == "\\" and backslash_escapes else 1
            if end >= length:
                return f"the '[' at offset {index - 1} is never closed by ']' (write [[] for a literal '[')"
            index = end + 1
    return None


@dataclass(frozen=True, slots=True)
class IgnoreRules:
    """The rules of one .gitignore file, which apply below the directory that holds it."""

    base: RelPath
    spec: pathspec.GitIgnoreSpec


def parse_ignore_file(base: RelPath, text: str) -> IgnoreRules | None:
    """Return the rules of a .gitignore found in base, or None if it holds no rule."""
    import pathspec  # imported on first use: it costs ~30 ms at startup

    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        return None
    try:
        spec = pathspec.GitIgnoreSpec.from_lines(lines, backend=PATHSPEC_BACKEND)
    except Exception:
        valid = [line for line in lines if _is_valid_pattern(line)]
        spec = pathspec.GitIgnoreSpec.from_lines(valid, backend=PATHSPEC_BACKEND)
    return IgnoreRules(base, spec)


def _is_valid_pattern(line: str) -> bool:
    import pathspec

    try:
        pathspec.GitIgnoreSpec.from_lines([line], backend=PATHSPEC_BACKEND)
    except Exception:
        return False
    return True


@dataclass(frozen=True, slots=True)
class TreeFilter:
    """The user's choice of what to leave out of a tree."""

    exclude: pathspec.GitIgnoreSpec | None = None
    use_gitignore: bool = False

    @property
    def is_trivial(self) -> bool:
        """Tell whether only dirkit's own names are left out."""
        return self.exclude is None and not self.use_gitignore

    def excludes(self, path: RelPath, name: str, is_dir: bool, rules: Sequence[IgnoreRules] = ()) -> bool:
        """Tell whether path (a dir if is_dir) is left out, given the .gitignore rules above it."""
        if is_reserved_name(name, is_dir):
            return True
        if self.use_gitignore and is_dir and name == ".git":
            return True
        candidate = path + "/" if is_dir else path
        if self.exclude is not None and self.exclude.match_file(candidate):
            return True
        if self.use_gitignore:
            for rule in reversed(rules):
                relative = candidate[len(rule.base) + 1 :] if rule.base else candidate
                verdict = rule.spec.check_file(relative).include
                if verdict is not None:
                    return verdict
        return False


def is_reserved_name(name: str, is_dir: bool) -> bool:
    """Tell whether a name is dirkit's own (its folder or a temporary file) and never scanned."""
    return (is_dir and name == RESERVED_DIR_NAME) or TEMP_MARKER in name


def make_filter(patterns: Sequence[str] = (), use_gitignore: bool = False) -> TreeFilter:
    """Return a filter from exclude patterns (gitignore syntax) and the gitignore choice."""
    exclude = compile_patterns(patterns) if patterns else None
    return TreeFilter(exclude, use_gitignore)
