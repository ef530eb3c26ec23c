"""Split parts: part naming, part sizes, and the parts manifest format (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import blake3

from dirkit.errors import UsageError

MANIFEST_FORMAT = "dirkit-parts"
MANIFEST_VERSION = 1
MANIFEST_SUFFIX = ".parts.json"
PART_MARKER = ".part"
MIN_PART_DIGITS = 4
DIGEST_ALGORITHM = "blake3"
MAX_PARTS = 10_000_000

_DIGEST_PATTERN = re.compile(r"[0-9a-f]{64}")


class Hasher(Protocol):
    """A running digest: feed bytes, read the hex digest."""

    def update(self, data: bytes | memoryview, /) -> object:
        """Feed more bytes."""
        ...

    def hexdigest(self) -> str:
        """Return the digest of everything fed so far, in hex."""
        ...


def new_hasher() -> Hasher:
    """Return a fresh hasher of DIGEST_ALGORITHM (the one place the digest of parts is chosen)."""
    return blake3.blake3()


def part_digits(count: int) -> int:
    """Return the width of part numbers for count parts (at least 4, growing as needed)."""
    return max(MIN_PART_DIGITS, len(str(count)))


def part_name(original: str, number: int, digits: int = MIN_PART_DIGITS) -> str:
    """Return the name of part number (from 1) of original: NAME.part0001, ...; wider past 9999."""
    return f"{original}{PART_MARKER}{number:0{max(digits, 1)}d}"


def manifest_name(original: str) -> str:
    """Return the name of the parts manifest of original."""
    return original + MANIFEST_SUFFIX


def part_sizes_by_count(total: int, count: int) -> list[int]:
    """Return the sizes of count parts of a total, as even as can be (earlier parts one byte larger)."""
    if count < 1:
        raise UsageError("--parts must be at least 1")
    if count > MAX_PARTS:
        raise UsageError(f"--parts must be at most {MAX_PARTS}")
    base, extra = divmod(total, count)
    return [base + 1 if index < extra else base for index in range(count)]


def part_count_by_size(total: int, part_size: int) -> int:
    """Return how many parts of part_size a total needs (none for an empty whole)."""
    if part_size < 1:
        raise UsageError("--size must be at least 1 byte")
    return -(-total // part_size)


_NUMBER_RUN = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[int, int, str], ...]:
    """Return a key ordering names with digit runs by value: x9 < x10, part9999 < part10000."""
    key: list[tuple[int, int, str]] = []
    for index, piece in enumerate(_NUMBER_RUN.split(name)):
        if index % 2:
            key.append((1, int(piece), piece))
        elif piece:
            key.append((0, 0, piece))
    return tuple(key)


def is_plain_name(name: str) -> bool:
    """Tell whether name is one safe path component (no '/', not '.' or '..', no NUL, not empty)."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name


@dataclass(frozen=True, slots=True)
class PartRecord:
    """One part as the manifest records it."""

    name: str
    size: int
    digest: str


@dataclass(frozen=True, slots=True)
class PartsManifest:
    """What split wrote: the original's name, size, mode, mtime, digest, and every part in order."""

    name: str
    size: int
    mode: int | None
    mtime_ns: int | None
    digest: str
    parts: tuple[PartRecord, ...]
    algorithm: str = DIGEST_ALGORITHM


def render_manifest(manifest: PartsManifest) -> str:
    """Return the manifest as indented JSON text ending in a newline."""
    document = {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "name": manifest.name,
        "size": manifest.size,
        "mode": manifest.mode,
        "mtime_ns": manifest.mtime_ns,
        "algorithm": manifest.algorithm,
        "digest": manifest.digest,
        "parts": [{"name": part.name, "size": part.size, "digest": part.digest} for part in manifest.parts],
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def parse_manifest(text: str, source: str = "manifest") -> PartsManifest:
    """Return the manifest in text, or raise UsageError naming source and what is wrong with it."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{source}: not a parts manifest: {error}") from error
    if not isinstance(document, dict) or document.get("format") != MANIFEST_FORMAT:
        raise UsageError(f'{source}: not a parts manifest (no "format": "{MANIFEST_FORMAT}")')
    if document.get("version") != MANIFEST_VERSION:
        raise UsageError(f"{source}: unsupported parts manifest version {document.get('version')!r}")
    name = _field(document, "name", str, source)
    if not is_plain_name(name):
        raise UsageError(f"{source}: original name {name!r} is not a plain file name")
    algorithm = _field(document, "algorithm", str, source)
    if algorithm != DIGEST_ALGORITHM:
        raise UsageError(f"{source}: unsupported digest algorithm {algorithm!r}")
    size = _natural(document, "size", source)
    mode = document.get("mode")
    if mode is not None and (not isinstance(mode, int) or isinstance(mode, bool) or not 0 <= mode <= 0o7777):
        raise UsageError(f"{source}: bad mode {mode!r}")
    mtime_ns = document.get("mtime_ns")
    if mtime_ns is not None and (not isinstance(mtime_ns, int) or isinstance(mtime_ns, bool)):
        raise UsageError(f"{source}: bad mtime_ns {mtime_ns!r}")
    digest = _digest(document, source)
    raw_parts = document.get("parts")
    if not isinstance(raw_parts, list):
        raise UsageError(f'{source}: "parts" must be a list')
    parts = tuple(_part(raw, index, source) for index, raw in enumerate(raw_parts, 1))
    check_parts(parts, size, source)
    return PartsManifest(name, size, mode, mtime_ns, digest, parts, algorithm)


def check_parts(parts: Sequence[PartRecord], size: int, source: str) -> None:
    """Raise UsageError if part names repeat or part sizes do not add up to size."""
    names = [part.name for part in parts]
    if len(set(names)) != len(names):
        raise UsageError(f"{source}: a part name appears twice")
    total = sum(part.size for part in parts)
    if total != size:
        raise UsageError(f"{source}: parts add up to {total} bytes, but the whole is {size} bytes")


def _field(document: dict[str, Any], key: str, kind: type[str], source: str) -> str:
    value = document.get(key)
    if not isinstance(value, kind):
        raise UsageError(f"{source}: field {key!r} is missing or not a {kind.__name__}")
    return value


def _natural(document: dict[str, Any], key: str, source: str) -> int:
    value = document.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise UsageError(f"{source}: field {key!r} must be a whole number >= 0")
    return value


def _digest(document: dict[str, Any], source: str) -> str:
    value = document.get("digest")
    if not isinstance(value, str) or not _DIGEST_PATTERN.fullmatch(value):
        raise UsageError(f"{source}: field 'digest' must be 64 lowercase hex digits")
    return value


def _part(raw: object, number: int, source: str) -> PartRecord:
    where = f"{source}: part {number}"
    if not isinstance(raw, dict):
        raise UsageError(f"{where} is not an object")
    name = raw.get("name")
    if not isinstance(name, str) or not is_plain_name(name):
        raise UsageError(f"{where}: name {name!r} is not a plain file name")
    return PartRecord(name, _natural(raw, "size", where), _digest(raw, where))
