"""Digest algorithm names, their hex lengths, and telling an algorithm from a digest's length."""

from __future__ import annotations

import enum


class DigestAlgorithm(enum.Enum):
    """A content digest dirkit can compute or check; the value is the name users type."""

    BLAKE3 = "blake3"
    SHA256 = "sha256"
    SHA1 = "sha1"
    MD5 = "md5"

    @property
    def hex_length(self) -> int:
        """Return the number of hex characters of one digest."""
        return HEX_LENGTHS[self]

    @property
    def tag(self) -> str:
        """Return the name used in BSD-style tagged lines ('SHA256 (name) = ...')."""
        return TAGS[self]

    @property
    def coreutils_style(self) -> bool:
        """Tell whether manifests follow GNU coreutils' escaping (else b3sum's)."""
        return self is not DigestAlgorithm.BLAKE3


HEX_LENGTHS = {
    DigestAlgorithm.BLAKE3: 64,
    DigestAlgorithm.SHA256: 64,
    DigestAlgorithm.SHA1: 40,
    DigestAlgorithm.MD5: 32,
}
TAGS = {
    DigestAlgorithm.BLAKE3: "BLAKE3",
    DigestAlgorithm.SHA256: "SHA256",
    DigestAlgorithm.SHA1: "SHA1",
    DigestAlgorithm.MD5: "MD5",
}
WRITABLE_ALGORITHMS = (DigestAlgorithm.BLAKE3, DigestAlgorithm.SHA256)
"""The algorithms `dirkit manifest` writes; the others are only read and checked."""

_HEX_DIGITS = frozenset("0123456789abcdef")


def algorithms_for_length(hex_length: int) -> tuple[DigestAlgorithm, ...]:
    """Return the algorithms whose digests have hex_length characters (two share 64)."""
    return tuple(algorithm for algorithm, length in HEX_LENGTHS.items() if length == hex_length)


def algorithm_for_tag(tag: str) -> DigestAlgorithm | None:
    """Return the algorithm named by a tagged line's tag ('SHA256', 'BLAKE3'), or None."""
    for algorithm, known in TAGS.items():
        if known == tag.upper():
            return algorithm
    return None


def algorithm_hint_from_name(file_name: str) -> DigestAlgorithm | None:
    """Return the algorithm a manifest's file name suggests ('SHA256SUMS', 'x.b3'), or None."""
    lowered = file_name.lower()
    if "b3" in lowered or "blake3" in lowered:
        return DigestAlgorithm.BLAKE3
    for algorithm in (DigestAlgorithm.SHA256, DigestAlgorithm.SHA1, DigestAlgorithm.MD5):
        if algorithm.value in lowered:
            return algorithm
    return None


def is_hex_digest(text: str) -> bool:
    """Tell whether text is a lower- or upper-case hex string of a known digest length."""
    return bool(text) and len(text) in HEX_LENGTHS.values() and set(text.lower()) <= _HEX_DIGITS
