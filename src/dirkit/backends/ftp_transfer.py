"""FTP transfers with NOOP keep-alives on the control connection, and downloads resumed with REST."""

from __future__ import annotations

import ftplib
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, BinaryIO

from dirkit.core.tree.paths import RelPath

BLOCK = 64 * 1024
KEEPALIVE_S = 60.0
"""Seconds a transfer may leave its control connection silent before a NOOP goes out (lftp: 120)."""
REST_REFUSED = ("500", "501", "502", "504")
"""Replies to REST that mean the server does not resume (the download then starts over)."""
PARTIALS_KEPT = 8
"""Interrupted downloads kept for a retry to resume with REST (the oldest is dropped beyond)."""
PARTIAL_KEPT_S = 600.0
"""How long an interrupted download may wait for its retry."""


def _finish(ftp: ftplib.FTP, noops: int) -> None:
    """Read the transfer's final reply and one reply per NOOP sent during it (in either order).

    Every reply is read even after a refusal, so the connection stays in step; the first refusal
    is raised then.
    """
    first: ftplib.Error | None = None
    for _ in range(1 + noops):
        try:
            ftp.voidresp()
        except (ftplib.error_reply, ftplib.error_temp, ftplib.error_perm) as error:
            first = first or error
    if first is not None:
        raise first


class _RawReplies:
    """Replies read straight from the control socket, so that a wait on it sees every byte not yet read.

    Used after an upload only: ftplib's buffered reader holds nothing then (the server said nothing
    after its 150 before the data connection closed).
    """

    def __init__(self, ftp: ftplib.FTP) -> None:
        self._ftp = ftp
        self._pending = b""

    def waiting(self, wait_s: float) -> bool:
        """Wait up to wait_s for reply bytes; tell whether some are there."""
        sock = self._ftp.sock
        if self._pending or sock is None or (isinstance(sock, ssl.SSLSocket) and sock.pending()):
            return True
        readable, _writable, _failed = select.select([sock], [], [], max(0.0, wait_s))
        return bool(readable)

    def _line(self) -> str:
        while b"\n" not in self._pending:
            assert self._ftp.sock is not None
            data = self._ftp.sock.recv(8192)
            if not data:
                raise EOFError
            self._pending += data
        line, self._pending = self._pending.split(b"\n", 1)
        return line.rstrip(b"\r").decode(self._ftp.encoding, "surrogateescape")

    def answer(self) -> str | ftplib.Error:
        """Read one whole reply: its text, or the refusal it is."""
        try:
            return self.reply()
        except (ftplib.error_reply, ftplib.error_temp, ftplib.error_perm) as error:
            return error

    def reply(self) -> str:
        """Read one whole reply (a multi-line one to its last line); raise ftplib's error for a refusal."""
        first = line = self._line()
        if line[3:4] == "-":
            while not (line[:3] == first[:3] and line[3:4] == " "):
                line = self._line()
        if first[:1] == "4":
            raise ftplib.error_temp(first)
        if first[:1] == "5":
            raise ftplib.error_perm(first)
        if first[:1] != "2":
            raise ftplib.error_reply(first)
        return first


def _finish_upload(
    ftp: ftplib.FTP, noops: int, last: float, keepalive_s: float, replies: _RawReplies
) -> ftplib.Error | None:
    """Read an upload's final reply and the NOOP replies, sending NOOPs while the server is still busy.

    The socket buffers may take a whole upload at once, so the server can be writing its tail long
    after the last byte was sent; NOOPs go on then for at most the connection's timeout. Return the
    first refusal among the replies (None: the upload is complete).
    """
    expected = 1 + noops
    first: ftplib.Error | None = None
    deadline = time.monotonic() + (ftp.timeout if isinstance(ftp.timeout, int | float) else 60.0)
    while expected:
        quiet_for = keepalive_s - (time.monotonic() - last)
        if keepalive_s > 0 and time.monotonic() < deadline and not replies.waiting(quiet_for):
            ftp.putcmd("NOOP")
            expected, last = expected + 1, time.monotonic()
            continue
        try:
            replies.reply()
        except (ftplib.error_reply, ftplib.error_temp, ftplib.error_perm) as error:
            first = first or error
        expected -= 1
    return first


def _send_noop_if_quiet(ftp: ftplib.FTP, last: float, keepalive_s: float) -> float | None:
    """Send NOOP when the control connection was quiet for keepalive_s; return the new time, or None."""
    now = time.monotonic()
    if keepalive_s <= 0 or now - last < keepalive_s:
        return None
    ftp.putcmd("NOOP")
    return now


def retrieve(
    ftp: ftplib.FTP, command: str, write: Callable[[bytes], object], rest: int, keepalive_s: float
) -> None:
    """Run a download command (RETR), passing each block to write; REST rest first when rest > 0.

    Where the server's 150 reply gives the size (vsftpd, ProFTPD), a download that ended short of it
    raises EOFError, a lost connection: a data connection closed early looks like a finished one.
    """
    ftp.voidcmd("TYPE I")  # REST needs binary mode (vsftpd); not sent again when already in force
    conn, size = ftp.ntransfercmd(command, rest or None)
    noops, last, received = 0, time.monotonic(), 0
    try:
        while data := conn.recv(BLOCK):
            write(data)
            received += len(data)
            sent = _send_noop_if_quiet(ftp, last, keepalive_s)
            if sent is not None:
                noops, last = noops + 1, sent
        if isinstance(conn, ssl.SSLSocket):
            conn.unwrap()
    finally:
        conn.close()
    _finish(ftp, noops)
    if size is not None and received not in (size, size - rest):
        raise EOFError(f"the download ended after {received} of {size} bytes")


def retrieve_into(ftp: ftplib.FTP, command: str, spool: IO[bytes], keepalive_s: float) -> None:
    """Download into spool from its current end: REST there if the server takes it, else from byte 0."""
    rest = spool.tell()
    try:
        retrieve(ftp, command, spool.write, rest, keepalive_s)
    except ftplib.error_perm as error:
        if not rest or str(error)[:3] not in REST_REFUSED:
            raise
        spool.seek(0)
        spool.truncate()
        retrieve(ftp, command, spool.write, 0, keepalive_s)


def store(
    ftp: ftplib.FTP,
    command: str,
    source: BinaryIO,
    keepalive_s: float,
    after: Sequence[str] = (),
    in_order: bool = False,
) -> list[str | ftplib.Error]:
    """Run an upload command (STOR), sending source to its end; then send after, return their replies.

    On a server that reads no command before its transfer's final reply (in_order: vsftpd), the
    after commands (read-only ones) go out as soon as the data connection is closed, so their
    replies follow the upload's own without a round trip of their own; elsewhere (pyftpdlib answers
    commands during a transfer), and after an upload so long that NOOPs were sent, they are sent
    once the upload's replies are in. The upload's refusal, if any, is raised once every reply is read.
    """
    ftp.voidcmd("TYPE I")  # REST needs binary mode (vsftpd); not sent again when already in force
    conn = ftp.transfercmd(command)
    noops, last = 0, time.monotonic()
    try:
        while data := source.read(BLOCK):
            conn.sendall(data)
            sent = _send_noop_if_quiet(ftp, last, keepalive_s)
            if sent is not None:
                noops, last = noops + 1, sent
        if isinstance(conn, ssl.SSLSocket):
            conn.unwrap()
    finally:
        conn.close()
    replies = _RawReplies(ftp)
    early = bool(after) and in_order and noops == 0
    if early:
        assert ftp.sock is not None
        ftp.sock.sendall("".join(f"{line}\r\n" for line in after).encode(ftp.encoding))
    refusal = _finish_upload(ftp, noops, last, 0.0 if early else keepalive_s, replies)
    if after and not early:
        assert ftp.sock is not None
        ftp.sock.sendall("".join(f"{line}\r\n" for line in after).encode(ftp.encoding))
    answers = [replies.answer() for _line in after]
    if refusal is not None:
        raise refusal
    return answers


def store_small(
    ftp: ftplib.FTP, address: tuple[str, int], command: str, data: bytes, after: Sequence[str]
) -> list[str | ftplib.Error] | None:
    """Upload data (a small file) to a passive port opened ahead, without waiting for any reply first.

    The data connection is made, the command (STOR) sent and the bytes written and closed, then the
    after commands go out, and only then are the replies read: the 150, the 226 and theirs, in one
    round trip. For a server that answers in order (vsftpd) and plain FTP only. Return None, having
    sent nothing, when the port no longer takes a connection. A refused command is raised (the bytes
    went nowhere); a data connection that failed raises EOFError, so nothing partial is renamed.
    """
    timeout = ftp.timeout if isinstance(ftp.timeout, int | float) else None
    try:
        conn = socket.create_connection(address, timeout)
    except OSError:
        return None
    assert ftp.sock is not None
    delivered = True
    try:
        ftp.sock.sendall(f"{command}\r\n".encode(ftp.encoding))
        try:
            conn.sendall(data)
        except OSError:
            delivered = False  # a refused STOR closes the data connection: its reply says why
    finally:
        conn.close()
    if after:
        ftp.sock.sendall("".join(f"{line}\r\n" for line in after).encode(ftp.encoding))
    replies = _RawReplies(ftp)
    opened = replies.answer()
    if isinstance(opened, ftplib.error_reply) and str(opened).startswith("1"):
        opened = str(opened)  # the preliminary 150: the final reply follows
    final = replies.answer() if isinstance(opened, str) else None
    answers = [replies.answer() for _line in after]
    for reply in (opened, final):
        if isinstance(reply, ftplib.Error):
            raise reply
    if not delivered:
        raise EOFError("the data connection closed before the upload was sent")
    return answers


class PartialDownloads:
    """Downloads a transient error cut short, kept a while for their retry to resume with REST."""

    def __init__(self, most: int = PARTIALS_KEPT, kept_s: float = PARTIAL_KEPT_S) -> None:
        self._most = most
        self._kept_s = kept_s
        self._kept: dict[RelPath, tuple[BinaryIO, float]] = {}
        self._lock = threading.Lock()

    def take(self, path: RelPath) -> BinaryIO | None:
        """Return the part of path an interrupted download left (its end is where to resume), if fresh."""
        with self._lock:
            spool, since = self._kept.pop(path, (None, 0.0))
        if spool is not None and time.monotonic() - since > self._kept_s:
            spool.close()
            return None
        return spool

    def keep(self, path: RelPath, spool: BinaryIO) -> None:
        """Keep an interrupted download for its retry (nothing received: nothing to keep)."""
        if not spool.tell():
            spool.close()
            return
        with self._lock:
            self._kept[path] = (spool, time.monotonic())
            while len(self._kept) > self._most:
                oldest = min(self._kept, key=lambda known: self._kept[known][1])
                self._kept.pop(oldest)[0].close()

    def close(self) -> None:
        """Drop every kept part."""
        with self._lock:
            kept, self._kept = list(self._kept.values()), {}
        for spool, _since in kept:
            spool.close()


class Leftovers:
    """Temporary names of uploads a transient error cut short, to be removed at the next chance."""

    def __init__(self) -> None:
        self._names: set[RelPath] = set()
        self._lock = threading.Lock()

    def add(self, name: RelPath) -> None:
        """Note a temporary name that may hold a partial upload."""
        with self._lock:
            self._names.add(name)

    def __bool__(self) -> bool:
        with self._lock:
            return bool(self._names)

    def remove_all(self, delete: Callable[[RelPath], object]) -> None:
        """Call delete on each name (a refusal, such as 550 for one already gone, counts as removed).

        A name whose delete fails otherwise (the connection dropped) is kept for the next chance.
        """
        with self._lock:
            names, self._names = self._names, set()
        try:
            while names:
                name = names.pop()
                try:
                    delete(name)
                except ftplib.error_perm:
                    continue
                except BaseException:
                    names.add(name)
                    raise
        finally:
            with self._lock:
                self._names |= names
