"""FTP command sequences that save round trips: listings in binary mode, pipelined commands, absence probes.

On loopback and on real links alike an FTP run is bound by round trips, not bytes. ftplib switches
to TYPE A for every listing and back to TYPE I for every transfer (two round trips a file), asks
one reply at a time, and has no cheap way to learn that a name is free. These helpers keep the
session in TYPE I, send batches of read-only commands before reading their replies (pipelining:
servers read commands in order from their input, lftp does the same), and tell a free name from two
short replies on the control connection instead of listing its folder.
"""

from __future__ import annotations

import enum
import ftplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass

from dirkit.backends.ftp_listing import WIRE_ENCODING, ServerTraits, parse_ftp_time
from dirkit.backends.ftp_session import reply_code

PIPELINE_DEPTH = 64
"""Commands sent before their replies are read: small enough that neither side's buffers fill."""


def read_listing(ftp: ftplib.FTP, command: str) -> list[str]:
    """Return the lines a LIST or MLSD command sends, read in the session's binary mode."""
    chunks: list[bytes] = []
    with ftp.transfercmd(command) as connection:
        while data := connection.recv(65536):
            chunks.append(data)
        if isinstance(connection, ssl.SSLSocket):
            connection.unwrap()
    ftp.voidresp()
    text = b"".join(chunks).decode(WIRE_ENCODING)
    return [line.rstrip("\r") for line in text.split("\n") if line.rstrip("\r")]


def mlsd_facts(line: str) -> tuple[str, dict[str, str]]:
    """Return the name and the facts (lower-case keys) of one MLSD line."""
    facts_text, _, name = line.partition(" ")
    facts: dict[str, str] = {}
    for fact in facts_text.rstrip(";").split(";"):
        key, _, value = fact.partition("=")
        if key:
            facts[key.lower()] = value
    return name, facts


Reply = str | ftplib.Error
"""A reply's text, or the refusal ftplib raised for it."""


def pipelined(ftp: ftplib.FTP, commands: Sequence[str]) -> list[Reply]:
    """Send commands in batches and return each one's reply (refusals as their ftplib errors).

    Every reply is read, so the session stays in step whatever the server answered; a dropped
    connection raises (the pool then drops the session).
    """
    replies: list[Reply] = []
    sock = ftp.sock
    assert sock is not None
    for start in range(0, len(commands), PIPELINE_DEPTH):
        batch = commands[start : start + PIPELINE_DEPTH]
        sock.sendall("".join(f"{command}\r\n" for command in batch).encode(WIRE_ENCODING))
        for _ in batch:
            try:
                replies.append(ftp.getresp())
            except (ftplib.error_perm, ftplib.error_temp, ftplib.error_reply) as error:
                replies.append(error)
    return replies


def file_times(ftp: ftplib.FTP, wire_paths: Sequence[str]) -> list[int | None]:
    """Return the MDTM time of each file (None where the server gives none), asked in pipelined batches.

    A 4xx reply (busy, closing) is raised once every reply is read.
    """
    replies = pipelined(ftp, [f"MDTM {path}" for path in wire_paths])
    for reply in replies:
        if isinstance(reply, ftplib.error_temp):
            raise reply
    return [
        parse_ftp_time(reply[4:]) if isinstance(reply, str) and reply.startswith("213") else None
        for reply in replies
    ]


class Probed(enum.Enum):
    """What short replies on the control connection tell of a path."""

    ABSENT = "absent"
    """SIZE and CWD both refused it with 550: nothing is there."""
    FOLDER = "folder"
    """CWD entered it."""
    FILE = "file"
    """SIZE gave its size."""
    UNKNOWN = "unknown"
    """Something else: ask the listing."""


@dataclass(frozen=True, slots=True)
class Probe:
    """What a probe found at a path, with a file's size and MDTM time."""

    found: Probed
    size: int = 0
    mtime_ns: int | None = None


def probe_path(ftp: ftplib.FTP, wire_path: str, with_time: bool) -> Probe:
    """Tell what is at a path from SIZE, CWD (and MDTM) sent together: one round trip, no data connection.

    SIZE follows links, so a link to a file probes as a file and a link to nothing as absent (as
    RETR sees them); a listing would show the link.
    """
    commands = [f"SIZE {wire_path}", f"CWD {wire_path}"] + ([f"MDTM {wire_path}"] if with_time else [])
    replies = pipelined(ftp, commands)
    return _probed(replies[0], replies[1], replies[2] if with_time else None)


def _probed(size: Reply, cwd: Reply, timed: Reply | None) -> Probe:
    """Return what the replies of SIZE, CWD (and MDTM) of one path tell of it."""
    if isinstance(cwd, str) and cwd.startswith("2"):
        return Probe(Probed.FOLDER)
    if isinstance(size, str) and size.startswith("213") and size[4:].strip().isdigit():
        mtime_ns = parse_ftp_time(timed[4:]) if isinstance(timed, str) and timed.startswith("213") else None
        return Probe(Probed.FILE, int(size[4:].strip()), mtime_ns)
    if all(isinstance(reply, ftplib.error_perm) and reply_code(reply) == "550" for reply in (size, cwd)):
        return Probe(Probed.ABSENT)
    return Probe(Probed.UNKNOWN)


def first_refusal(replies: Sequence[Reply]) -> ftplib.Error | None:
    """Return the first refusal among replies, or None if every command was accepted."""
    return next((reply for reply in replies if isinstance(reply, ftplib.Error)), None)


def time_command(traits: ServerTraits, stamp: str, wire_path: str) -> str | None:
    """Return the command that sets a file's time (MFMT, else vsftpd's MDTM, else SITE UTIME), or None."""
    if traits.mfmt:
        return f"MFMT {stamp} {wire_path}"
    if traits.mdtm_sets_time:
        return f"MDTM {stamp} {wire_path}"
    if traits.site_utime:
        return f"SITE UTIME {stamp} {wire_path}"
    return None


def upload_finish(
    traits: ServerTraits, temporary: str, final: str, stamp: str | None, mode: int | None
) -> list[str]:
    """Return the commands that give an uploaded temporary file its mode and time, then its final name.

    The rename is left out where renames do not replace (the caller frees the name first).
    """
    commands: list[str] = []
    if mode is not None and traits.site_chmod:
        commands.append(f"SITE CHMOD {mode & 0o7777:o} {temporary}")
    timing = time_command(traits, stamp, temporary) if stamp is not None else None
    if timing is not None:
        commands.append(timing)
    if traits.replaces_on_rename:
        commands += [f"RNFR {temporary}", f"RNTO {final}"]
    return commands
