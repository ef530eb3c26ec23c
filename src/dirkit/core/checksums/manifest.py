"""The checksum-file line format of b3sum and GNU sha256sum/md5sum/sha1sum: writing and parsing (pure).

A line is the hex digest, two spaces (or a space and '*' for binary mode) and the name. A name holding
a backslash or a newline (and, for coreutils since 9.0, a carriage return) is escaped, and the line then
starts with a backslash. BSD-style tagged lines ('SHA256 (name) = digest') are read too. Names are
bytes on disk; here they are str decoded with surrogateescape, as everywhere in dirkit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from dirkit.core.checksums.digest import DigestAlgorithm, algorithm_for_tag, is_hex_digest
from dirkit.core.tree.paths import sort_key

_B3SUM_ESCAPES = ((b"\\", b"\\\\"), (b"\n", b"\\n"))
_COREUTILS_ESCAPES = (*_B3SUM_ESCAPES, (b"\r", b"\\r"))
_UNESCAPES = {ord("\\"): b"\\", ord("n"): b"\n", ord("r"): b"\r"}


class ManifestRecord(NamedTuple):
    """One parsed line of a checksum file."""

    line_number: int
    digest: str
    """Lower-case hex."""
    name: str
    """The name as written (unescaped), decoded with surrogateescape; may be './x' or absolute."""
    algorithm: DigestAlgorithm | None = None
    """Set when the line itself names it (tagged lines)."""


class ParsedManifest(NamedTuple):
    """Every well-formed record of a checksum file, and the numbers of the lines that were not."""

    records: tuple[ManifestRecord, ...]
    malformed_lines: tuple[int, ...]


def encode_name(name: str) -> bytes:
    """Return a dirkit path as the bytes it has on disk."""
    return name.encode("utf-8", "surrogateescape")


def format_manifest_line(digest: str, name: str, algorithm: DigestAlgorithm) -> bytes:
    """Return one checksum line exactly as b3sum (blake3) or sha256sum (others) would write it."""
    raw = encode_name(name)
    escapes = _COREUTILS_ESCAPES if algorithm.coreutils_style else _B3SUM_ESCAPES
    prefix = b""
    if any(char in raw for char, _ in escapes):
        prefix = b"\\"
        for char, escaped in escapes:
            raw = raw.replace(char, escaped)
    return prefix + digest.lower().encode("ascii") + b"  " + raw + b"\n"


def format_manifest(digests: Iterable[tuple[str, str]], algorithm: DigestAlgorithm) -> bytes:
    """Return a whole checksum file for (name, digest) pairs, sorted by name component by component."""
    ordered = [(sort_key(name), name, digest) for name, digest in digests]
    ordered.sort()
    escape_cr = algorithm.coreutils_style
    plain: list[str] = []
    for _, name, digest in ordered:
        if "\\" in name or "\n" in name or (escape_cr and "\r" in name):
            plain.append(format_manifest_line(digest, name, algorithm).decode("utf-8", "surrogateescape"))
        else:
            plain.append(f"{digest.lower()}  {name}\n")
    return "".join(plain).encode("utf-8", "surrogateescape")


def unescape_name(raw: bytes) -> bytes | None:
    """Return an escaped name with its backslash escapes undone, or None for an unknown escape."""
    if b"\\" not in raw:
        return raw
    out = bytearray()
    index = 0
    length = len(raw)
    while index < length:
        byte = raw[index]
        if byte != ord("\\"):
            out.append(byte)
            index += 1
            continue
        if index + 1 >= length:
            return None
        replacement = _UNESCAPES.get(raw[index + 1])
        if replacement is None:
            return None
        out += replacement
        index += 2
    return bytes(out)


def parse_manifest_line(line: bytes, line_number: int) -> ManifestRecord | None:
    """Return the record of one line (without its newline), or None if it is not a checksum line."""
    escaped = line.startswith(b"\\")
    body = line[1:] if escaped else line
    record = _parse_tagged(body, line_number) or _parse_plain(body, line_number)
    if record is None:
        return None
    raw_name = encode_name(record.name)
    if escaped:
        unescaped = unescape_name(raw_name)
        if unescaped is None:
            return None
        raw_name = unescaped
    if not raw_name or b"\0" in raw_name:
        return None
    return record._replace(name=raw_name.decode("utf-8", "surrogateescape"))


def _parse_plain(body: bytes, line_number: int) -> ManifestRecord | None:
    cut = body.find(b" ")
    if cut <= 0 or len(body) < cut + 3 or body[cut + 1 : cut + 2] not in (b" ", b"*"):
        return None
    digest = body[:cut].decode("ascii", "replace")
    if not is_hex_digest(digest):
        return None
    name = body[cut + 2 :].decode("utf-8", "surrogateescape")
    return ManifestRecord(line_number, digest.lower(), name)


def _parse_tagged(body: bytes, line_number: int) -> ManifestRecord | None:
    open_at = body.find(b" (")
    close_at = body.rfind(b") = ")
    if open_at <= 0 or close_at < open_at + 2:
        return None
    algorithm = algorithm_for_tag(body[:open_at].decode("ascii", "replace"))
    digest = body[close_at + 4 :].decode("ascii", "replace")
    if algorithm is None or not is_hex_digest(digest) or len(digest) != algorithm.hex_length:
        return None
    name = body[open_at + 2 : close_at].decode("utf-8", "surrogateescape")
    return ManifestRecord(line_number, digest.lower(), name, algorithm)


def parse_manifest(data: bytes) -> ParsedManifest:
    """Parse a whole checksum file; blank lines are skipped, a trailing CR per line is dropped."""
    records: list[ManifestRecord] = []
    malformed: list[int] = []
    for number, raw_line in enumerate(data.split(b"\n"), start=1):
        line = raw_line.removesuffix(b"\r")
        if not line.strip():
            continue
        record = parse_manifest_line(line, number)
        if record is None:
            malformed.append(number)
        else:
            records.append(record)
    return ParsedManifest(tuple(records), tuple(malformed))
