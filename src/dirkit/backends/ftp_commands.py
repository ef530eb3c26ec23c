"""FTP command sequences that save round trips: listings in binary mode, pipelined commands, absence probes.

On loopback and on real links alike an FTP run is bound by round trips, not bytes. ftplib switches
to TYPE A for every listing and back to TYPE I for every transfer (two round trips a file), asks
one reply at a time, and has no cheap way to learn that a name is free. These helpers keep the
session in TYPE I, send batches of read-only commands before reading their replies (pipelining:
servers read commands in order from their input, lftp does the same), and tell a free name from two
short replies on the control connection instead of listing its folder.
"""

from __future__ import annotations

import ftplib
import ssl
from collections.abc import Sequence

from dirkit.backends.ftp_listing import WIRE_ENCODING, parse_ftp_time
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


def pipelined(ftp: ftplib.FTP, commands: Sequence[str]) -> list[str | None]:
    """Send commands in batches and return each reply (None for a 5xx refusal).

    Only for commands that change nothing and whose refusal is harmless (MDTM, SIZE). A 4xx reply
    or a dropped connection raises, leaving the session out of step: the pool then drops it.
    """
    replies: list[str | None] = []
    sock = ftp.sock
    assert sock is not None
    for start in range(0, len(commands), PIPELINE_DEPTH):
        batch = commands[start : start + PIPELINE_DEPTH]
        sock.sendall("".join(f"{command}\r\n" for command in batch).encode(WIRE_ENCODING))
        for _ in batch:
            try:
                replies.append(ftp.getresp())
            except ftplib.error_perm:
                replies.append(None)
    return replies


def file_times(ftp: ftplib.FTP, wire_paths: Sequence[str]) -> list[int | None]:
    """Return the MDTM time of each file (None where the server gives none), asked in pipelined batches."""
    replies = pipelined(ftp, [f"MDTM {path}" for path in wire_paths])
    return [parse_ftp_time(reply[4:]) if reply and reply.startswith("213") else None for reply in replies]


def surely_absent(ftp: ftplib.FTP, wire_path: str) -> bool:
    """Tell whether nothing is at a path, by SIZE and CWD both refusing it with 550.

    False means "ask the listing": something may be there, or the server answered otherwise. A
    link to nothing also answers 550 to both, as it does to RETR.
    """
    for command in (f"SIZE {wire_path}", f"CWD {wire_path}"):
        try:
            ftp.sendcmd(command)
        except ftplib.error_perm as error:
            if reply_code(error) != "550":
                return False
            continue
        return False
    return True
