"""Reading FTP replies line by line where only CR LF ends a line, and folder listings sent as a STAT reply.

ftplib reads replies through a text file with universal newlines, so a bare CR or LF inside a reply
ends a line. Replies that carry names (a STAT listing on the control connection) would then let a
file named with a CR, which an FTP client can make, forge the end of the reply and put the session
out of step. Here a line ends only at CR LF, as RFC 959 says; a name holding CR LF itself can only
be made on the server's own disk, and a line of such a listing that does not parse stops the listing
(the caller then drops the connection and lists with LIST instead).
"""

from __future__ import annotations

import ftplib
import socket
from typing import BinaryIO

from dirkit.backends.ftp_listing import WIRE_ENCODING

MAX_LINE = 8192
"""The longest reply line accepted (ftplib's own limit)."""
STAT_LINES_MOST = 1_000_000
"""A bound on the lines of one STAT listing (a server that never ends its reply is cut off)."""


class ReplyReader:
    """Reply lines read from one control socket through a binary buffer, split at CR LF only."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._file: BinaryIO = sock.makefile("rb")

    def line(self) -> str:
        """Return the next reply line without its CR LF (EOFError once the server has closed)."""
        raw = self._file.readline(MAX_LINE + 1)
        while raw.endswith(b"\n") and not raw.endswith(b"\r\n") and len(raw) <= MAX_LINE:
            more = self._file.readline(MAX_LINE + 1 - len(raw))
            if not more:
                break
            raw += more
        if len(raw) > MAX_LINE:
            raise ftplib.Error(f"got more than {MAX_LINE} bytes in one reply line")
        if not raw:
            raise EOFError
        return raw.decode(WIRE_ENCODING).removesuffix("\n").removesuffix("\r")

    def close(self) -> None:
        """Close the buffer (not the socket)."""
        self._file.close()


class NotAListingError(Exception):
    """A STAT reply that is not a folder listing (refused, or a line that is not an ls -l line)."""


def stat_lines(ftp: ftplib.FTP, wire_path: str) -> list[str]:
    """Return the lines a `STAT PATH` reply lists (vsftpd: ls -l lines of a folder, '.' and '..' first).

    The reply must be a multi-line 213; anything else raises NotAListingError (a refusal as its ftplib error).
    """
    ftp.putcmd(f"STAT {wire_path}")
    first = ftp.getline()
    if first[:1] in ("4", "5"):
        if first[3:4] == "-":  # a multi-line refusal: read it to its last line
            for _ in range(STAT_LINES_MOST):
                if ftp.getline().startswith(first[:3] + " "):
                    break
        raise (ftplib.error_temp if first[:1] == "4" else ftplib.error_perm)(first)
    if not first.startswith("213-"):
        raise NotAListingError(first)
    lines: list[str] = []
    for _ in range(STAT_LINES_MOST):
        line = ftp.getline()
        if line.startswith("213 "):
            return lines
        lines.append(line)
    raise NotAListingError("the listing did not end")
