"""FTP connections on ftplib: TLS with session reuse, EPSV then PASV, error kinds, and a bounded pool."""

from __future__ import annotations

import contextlib
import errno
import ftplib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dirkit.backends.ftp_listing import WIRE_ENCODING, ServerTraits, from_wire, read_traits
from dirkit.backends.ftp_replies import ReplyReader
from dirkit.backends.urls import Login, RemoteLocation
from dirkit.errors import (
    BackendError,
    ConnectionLostError,
    NoSpaceError,
    NotFoundError,
    PermissionDeniedError,
    TimedOutError,
    TransientError,
    UnsupportedError,
    translate_os_error,
)

DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """How to check the server's certificate: verified by default, against ca_file if given."""

    ca_file: str | None = None
    insecure: bool = False
    """Skip certificate and host name checks (the connection is encrypted but not authenticated)."""
    implicit: bool = False
    """TLS from the first byte (FTPS on port 990) instead of AUTH TLS."""

    def context(self) -> ssl.SSLContext:
        """Return the TLS context these options describe."""
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


class LeanSession(ftplib.FTP):
    """ftplib.FTP that saves round trips: TYPE only when it changes, EPSV sent with the transfer command.

    ftplib sends TYPE I before every transfer and waits for EPSV's reply before it sends RETR or STOR.
    Once EPSV has answered on a session, later transfers send both lines at once and connect to the
    port EPSV names while the server reads the second (a REST transfer keeps ftplib's way).
    """

    transfer_type = ""
    """The TYPE command in force on this session ('' after connect: the server's default)."""
    use_epsv = True
    epsv_proven = False
    replies: ReplyReader | None = None
    spare_port: tuple[int, float] | None = None
    """A passive port the server opened ahead (EPSV sent with the last upload's rename) and when."""

    def getline(self) -> str:
        """Return the next reply line; only CR LF ends one (a CR or LF in a listed name does not)."""
        sock = self.sock
        if sock is None:
            raise EOFError
        if self.replies is None or self.replies.sock is not sock:
            if self.replies is not None:
                self.replies.close()
            self.replies = ReplyReader(sock)
        return self.replies.line()

    def close(self) -> None:
        """Close the reply reader, then the connection (the socket closes only once no reader holds it)."""
        if self.replies is not None:
            self.replies.close()
            self.replies = None
        super().close()

    def connect(
        self, host: str = "", port: int = 0, timeout: float = -999, source_address: Any = None
    ) -> str:
        """Connect (a new session starts in the server's default type)."""
        self.spare_port = None
        self.transfer_type = ""
        self.epsv_proven = False
        return super().connect(host, port, timeout, source_address)

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[socket.socket, int | None]:
        """Open the data connection of cmd; once EPSV is proven, EPSV and cmd go out together."""
        self.spare_port = None
        if not self.epsv_proven or rest is not None or not self.use_epsv or self.sock is None:
            conn, size = super().ntransfercmd(cmd, rest)
            self.epsv_proven = self.use_epsv
            return conn, size
        peer = self.sock.getpeername()
        self.sock.sendall(f"EPSV\r\n{cmd}\r\n".encode(self.encoding))
        try:
            passive = self.getresp()
        except ftplib.Error:
            with contextlib.suppress(ftplib.Error):
                self.getresp()  # cmd's refusal: no data connection was offered
            raise
        _host, data_port = ftplib.parse229(passive, peer)
        try:
            conn = socket.create_connection(
                (peer[0], data_port), self.timeout, source_address=self.source_address
            )
        except ConnectionError:
            # ProFTPD answers a RETR of a missing file or a folder at once and closes the passive
            # port (the connect is refused or reset): its refusal is the reply waiting on the
            # control connection.
            self.getresp()
            raise
        try:
            reply = self.getresp()
            if reply.startswith("2"):
                reply = self.getresp()
            if not reply.startswith("1"):
                raise ftplib.error_reply(reply)
        except BaseException:
            conn.close()
            raise
        return conn, ftplib.parse150(reply) if reply.startswith("150") else None

    def voidcmd(self, cmd: str) -> str:
        """Send a command and expect a 2xx reply; a TYPE already in force is not sent again."""
        if cmd.startswith("TYPE ") and cmd == self.transfer_type:
            return "200 type unchanged"
        reply = super().voidcmd(cmd)
        if cmd.startswith("TYPE "):
            self.transfer_type = cmd
        return reply

    def sendcmd(self, cmd: str) -> str:
        """Send a command and return the reply; a TYPE already in force is not sent again."""
        if cmd.startswith("TYPE ") and cmd == self.transfer_type:
            return "200 type unchanged"
        reply = super().sendcmd(cmd)
        if cmd.startswith("TYPE "):
            self.transfer_type = cmd if reply.startswith("2") else ""
        return reply


class PlainFtp(LeanSession):
    """ftplib.FTP that tries EPSV first and falls back to PASV for good after the first refusal."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout, encoding=WIRE_ENCODING)
        self.use_epsv = True

    def makepasv(self) -> tuple[str, int]:
        """Return the data address: EPSV while the server takes it, else PASV at the control host."""
        return _passive_address(self)


def _passive_address(ftp: PlainFtp | TlsFtp) -> tuple[str, int]:
    """Ask EPSV, falling back to PASV for good after the first refusal; trust only the control host."""
    peer = ftp.sock.getpeername() if ftp.sock is not None else ("", 0)
    if ftp.use_epsv:
        try:
            host, port = ftplib.parse229(ftp.sendcmd("EPSV"), peer)
            return str(host), int(port)
        except ftplib.error_perm:
            ftp.use_epsv = False
    _untrusted, port = ftplib.parse227(ftp.sendcmd("PASV"))
    return str(peer[0]), int(port)


class TlsFtp(ftplib.FTP_TLS, LeanSession):
    """ftplib.FTP_TLS that reuses the control connection's TLS session on data connections.

    vsftpd and ProFTPD refuse data connections that do not (522); ftplib does not (cpython#63699).
    With implicit set, TLS starts before the server's greeting (FTPS on port 990).
    """

    def __init__(self, timeout: float, context: ssl.SSLContext, implicit: bool) -> None:
        super().__init__(timeout=timeout, encoding=WIRE_ENCODING, context=context)
        self.use_epsv = True
        self.implicit = implicit

    def connect(
        self, host: str = "", port: int = 0, timeout: float = -999, source_address: Any = None
    ) -> str:
        """Connect; with implicit TLS, wrap the socket before reading the greeting."""
        if not self.implicit:
            return super().connect(host, port, timeout, source_address)
        self.host, self.port = host, port
        self.transfer_type = ""
        self.epsv_proven = False
        raw = socket.create_connection((host, port), self.timeout)
        self.sock = self.context.wrap_socket(raw, server_hostname=host)
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome

    def makepasv(self) -> tuple[str, int]:
        """Return the data address: EPSV while the server takes it, else PASV at the control host."""
        return _passive_address(self)

    def ntransfercmd(self, cmd: str, rest: int | str | None = None) -> tuple[socket.socket, int | None]:
        """Open the data connection, wrapped in TLS that resumes the control connection's session."""
        conn, size = LeanSession.ntransfercmd(self, cmd, rest)
        if self._prot_p:  # type: ignore[attr-defined]
            session = self.sock.session if isinstance(self.sock, ssl.SSLSocket) else None
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=session)
        return conn, size


def reply_code(error: BaseException) -> str:
    """Return the three-digit code of an ftplib error reply ('' if it carries none)."""
    text = error.args[0] if error.args and isinstance(error.args[0], str) else ""
    return text[:3] if text[:3].isdigit() else ""


def translate_ftp_error(error: BaseException, path: str) -> BackendError:
    """Return the dirkit error kind for anything ftplib, ssl or a socket raised while working on path.

    The one place FTP replies become error kinds: 421, a dropped connection and a timeout are
    transient; 550 is "not found" until a caller that knows more refines it.
    """
    if isinstance(error, BackendError):
        return error
    text = from_wire(str(error.args[0])) if error.args and isinstance(error.args[0], str) else str(error)
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
    code = reply_code(error)
    kind: type[BackendError]
    number = errno.EIO
    if isinstance(error, EOFError | ssl.SSLEOFError | ConnectionError | ftplib.error_proto) or code == "421":
        kind, number = ConnectionLostError, errno.ECONNRESET
    elif isinstance(error, TimeoutError | socket.timeout):
        kind, number = TimedOutError, errno.ETIMEDOUT
    elif isinstance(error, OSError) and not isinstance(error, ssl.SSLError):
        return translate_os_error(error, path)
    elif code in ("452", "552"):
        kind, number = NoSpaceError, errno.ENOSPC
    elif code.startswith("4"):
        kind = TransientError
    elif code in ("530", "532", "553"):
        kind, number = PermissionDeniedError, errno.EACCES
    elif code in ("500", "502", "504"):
        kind, number = UnsupportedError, errno.EOPNOTSUPP
    elif code == "550":
        kind, number = NotFoundError, errno.ENOENT
    else:
        kind = BackendError
    if isinstance(error, EOFError) and not text:
        text = "the server closed the connection"
    translated = kind(number, f"server said: {text}" if code else text or type(error).__name__, path)
    translated.__cause__ = error
    return translated


FTP_ERRORS = (ftplib.Error, OSError, EOFError)
"""What ftplib calls raise (ssl errors and socket timeouts are OSErrors)."""


class FtpConnector:
    """Opens logged-in connections to one server and reads its traits from the first one."""

    def __init__(self, location: RemoteLocation, login: Login, tls: TlsOptions, timeout_s: float) -> None:
        self.location = location
        self._login = login
        self._tls = tls
        self._timeout_s = timeout_s
        self.traits: ServerTraits | None = None
        self.login_folder = "/"

    def open(self) -> ftplib.FTP:
        """Return a new connection, logged in, in binary mode, UTF-8 on where offered."""
        where = self.location.url
        ftp: ftplib.FTP
        if self.location.tls:
            implicit = self._tls.implicit or self.location.implicit_tls
            ftp = TlsFtp(self._timeout_s, self._tls.context(), implicit)
        else:
            ftp = PlainFtp(self._timeout_s)
        try:
            banner = ftp.connect(self.location.host, self.location.port)
            if isinstance(ftp, TlsFtp) and not ftp.implicit:
                ftp.auth()
            ftp.login(self._login.user, self._login.password)
            if isinstance(ftp, TlsFtp):
                ftp.prot_p()
            if self.traits is None:
                self.traits = self._read_traits(ftp, banner)
                self.login_folder = from_wire(ftp.pwd())
            if self.traits.utf8:
                with contextlib.suppress(ftplib.error_perm, ftplib.error_reply):
                    ftp.sendcmd("OPTS UTF8 ON")
            ftp.voidcmd("TYPE I")
        except ftplib.error_perm as error:
            with contextlib.suppress(*FTP_ERRORS):
                ftp.close()
            if reply_code(error) == "530":
                raise PermissionDeniedError(errno.EACCES, "login refused", where) from None
            raise translate_ftp_error(error, where) from None
        except ssl.SSLCertVerificationError as error:
            ftp.close()
            reason = f"the server's TLS certificate is not trusted ({error.verify_message}); "
            reason += "name its certificate or CA with --ca-file FILE, "
            reason += "or use --insecure to skip the check"
            raise PermissionDeniedError(errno.EACCES, reason, where) from None
        except ftplib.error_temp as error:
            ftp.close()
            if reply_code(error) == "421":
                raise TooManyConnectionsError(errno.ECONNRESET, "server said: " + str(error), where) from None
            raise translate_ftp_error(error, where) from None
        except FTP_ERRORS as error:
            ftp.close()
            raise translate_ftp_error(error, where) from None
        return ftp

    def _read_traits(self, ftp: ftplib.FTP, banner: str) -> ServerTraits:
        """Return the server's traits from FEAT and SITE HELP, asked once per tree."""
        try:
            feat = ftp.sendcmd("FEAT")
        except ftplib.Error:
            feat = ""
        try:
            site = ftp.sendcmd("SITE HELP")
        except ftplib.Error:
            site = ""
        return read_traits(banner, feat, site)


class TooManyConnectionsError(ConnectionLostError):
    """The server refused a new connection with 421 (too many connections or users)."""


class ConnectionPool:
    """At most size connections to one server, each used by one thread at a time.

    A connection idle for longer than check_idle_after_s is checked with NOOP before it is
    handed out, and replaced if the server has dropped it (servers close idle sessions). When the
    server refuses a new connection with 421 while others are open, the pool lowers its size to
    the connections it has and waits for one of them instead.
    """

    def __init__(self, connector: FtpConnector, size: int, check_idle_after_s: float = 10.0) -> None:
        self._connector = connector
        self.size = max(1, size)
        self.lowered = False
        """Whether a 421 made the pool smaller than asked."""
        self._check_idle_after_s = check_idle_after_s
        self._free: list[tuple[ftplib.FTP, float]] = []
        self._open = 0
        """Connections that exist or are being opened: free, in use, or logging in."""
        self._ready = threading.Condition()

    @contextlib.contextmanager
    def connection(self) -> Iterator[ftplib.FTP]:
        """Yield a logged-in connection; one that failed with a transient error is dropped, not reused."""
        ftp = self._take_live()
        try:
            yield ftp
        except BaseException as error:
            if _breaks_connection(error):
                self._discard(ftp)
                raise
            self._give_back(ftp)
            raise
        self._give_back(ftp)

    def _take_live(self) -> ftplib.FTP:
        """Return an idle connection that still answers, or a new one once there is room."""
        while True:
            with self._ready:
                while not self._free and self._open >= self.size:
                    self._ready.wait()
                opening = not self._free
                if opening:
                    self._open += 1
                else:
                    ftp, since = self._free.pop()
            if opening:
                found = self._open_one()
                if found is None:
                    continue
                return found
            if time.monotonic() - since < self._check_idle_after_s:
                return ftp
            try:
                ftp.voidcmd("NOOP")
                return ftp
            except FTP_ERRORS:
                self._discard(ftp)

    def _open_one(self) -> ftplib.FTP | None:
        """Open a connection for a slot already counted; None if a 421 lowered the pool (wait for one)."""
        try:
            return self._connector.open()
        except TooManyConnectionsError:
            with self._ready:
                self._open -= 1
                self._ready.notify_all()
                if self._open == 0:
                    raise
                self.size, self.lowered = min(self.size, self._open), True
            return None
        except BaseException:
            with self._ready:
                self._open -= 1
                self._ready.notify_all()
            raise

    def _give_back(self, ftp: ftplib.FTP) -> None:
        with self._ready:
            self._free.append((ftp, time.monotonic()))
            self._ready.notify()

    def _discard(self, ftp: ftplib.FTP) -> None:
        """Close a connection that must not be reused, freeing its slot."""
        with contextlib.suppress(*FTP_ERRORS):
            ftp.close()
        with self._ready:
            self._open -= 1
            self._ready.notify()

    def check_idle(self) -> None:
        """Have every idle connection checked with NOOP before its next use (a fault may cut them all)."""
        with self._ready:
            self._free = [(ftp, float("-inf")) for ftp, _since in self._free]

    def close(self) -> None:
        """Say QUIT on every idle connection."""
        with self._ready:
            idle, self._free = self._free, []
            self._open -= len(idle)
        for ftp, _since in idle:  # every QUIT goes out before any reply is read: one round trip in all
            with contextlib.suppress(*FTP_ERRORS):
                ftp.putcmd("QUIT")
        for ftp, _since in idle:
            with contextlib.suppress(*FTP_ERRORS):
                ftp.getresp()
            with contextlib.suppress(*FTP_ERRORS):
                ftp.close()


def _breaks_connection(error: BaseException) -> bool:
    """Tell whether a connection may be out of step after error (so it must not be reused)."""
    if isinstance(error, TransientError | ConnectionError | EOFError | TimeoutError | ssl.SSLError):
        return True
    if isinstance(error, ftplib.Error):
        return reply_code(error).startswith("4") or not reply_code(error)
    return not isinstance(error, BackendError | ftplib.Error)
