"""SFTP connections on asyncssh: one event loop in a thread, a pool of SFTP channels, and error kinds."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import os
import socket
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import asyncssh

from dirkit.backends.ssh_hosts import HostKeyCheck, HostKeyPolicy
from dirkit.backends.urls import RemoteLocation
from dirkit.errors import (
    AlreadyExistsError,
    BackendError,
    ConnectionLostError,
    IsADirError,
    NoSpaceError,
    NotADirError,
    NotFoundError,
    PermissionDeniedError,
    TimedOutError,
    UnsupportedError,
    translate_os_error,
)

DEFAULT_TIMEOUT_S = 60.0
"""How long one SFTP request (or connecting) may take before the call fails as timed out."""
PASSPHRASE_VARIABLE = "DIRKIT_PASSWORD"
"""The environment variable holding the passphrase of an encrypted key file (ssh-agent needs none)."""
Result = TypeVar("Result")
FAST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
"""Preferred over asyncssh's first choice, chacha20-poly1305, which costs it four cipher calls a packet."""
MSG_IGNORE = 2
QUICK_ACK: int | None = getattr(socket, "TCP_QUICKACK", None)
"""Linux's option to acknowledge received segments at once instead of delaying the ACK."""

_KINDS: dict[type[asyncssh.SFTPError], type[BackendError]] = {
    asyncssh.SFTPNoSuchFile: NotFoundError,
    asyncssh.SFTPNoSuchPath: NotFoundError,
    asyncssh.SFTPPermissionDenied: PermissionDeniedError,
    asyncssh.SFTPWriteProtect: PermissionDeniedError,
    asyncssh.SFTPFileAlreadyExists: AlreadyExistsError,
    asyncssh.SFTPNoSpaceOnFilesystem: NoSpaceError,
    asyncssh.SFTPQuotaExceeded: NoSpaceError,
    asyncssh.SFTPNotADirectory: NotADirError,
    asyncssh.SFTPFileIsADirectory: IsADirError,
    asyncssh.SFTPOpUnsupported: UnsupportedError,
    asyncssh.SFTPConnectionLost: ConnectionLostError,
    asyncssh.SFTPNoConnection: ConnectionLostError,
}
_ERRNOS = {
    NotFoundError: errno.ENOENT,
    PermissionDeniedError: errno.EACCES,
    AlreadyExistsError: errno.EEXIST,
    NoSpaceError: errno.ENOSPC,
    NotADirError: errno.ENOTDIR,
    IsADirError: errno.EISDIR,
    UnsupportedError: errno.EOPNOTSUPP,
    ConnectionLostError: errno.ECONNRESET,
}


def translate_sftp_error(error: BaseException, shown: str) -> BackendError:
    """Return the dirkit error kind for anything asyncssh or the network raised while working on shown.

    The one place SFTP errors become dirkit's: a server's status code gives the kind, a lost or
    refused connection is transient, and authentication and host-key refusals say what to do.
    """
    if isinstance(error, BackendError):
        return error
    if isinstance(error, asyncssh.SFTPDirNotEmpty):
        return BackendError(errno.ENOTEMPTY, "folder not empty", shown)
    if isinstance(error, asyncssh.SFTPError):
        kind = next((kind for cls, kind in _KINDS.items() if isinstance(error, cls)), BackendError)
        reason = error.reason or "the server refused"
        return kind(_ERRNOS.get(kind, errno.EIO), reason, shown)
    if isinstance(error, asyncssh.PermissionDenied):
        reason = "the server accepted none of the keys (ssh-agent, ~/.ssh/config IdentityFile, ~/.ssh/id_*)"
        return PermissionDeniedError(errno.EACCES, reason, shown)
    if isinstance(error, asyncssh.ConnectionLost | asyncssh.SFTPConnectionLost | BrokenPipeError):
        return ConnectionLostError(errno.ECONNRESET, f"connection lost ({error})", shown)
    if isinstance(error, asyncssh.DisconnectError):
        return ConnectionLostError(errno.ECONNRESET, f"the server closed the connection ({error})", shown)
    if isinstance(error, TimeoutError | asyncio.TimeoutError):
        return TimedOutError(errno.ETIMEDOUT, "the server did not answer in time", shown)
    if isinstance(error, OSError):
        return translate_os_error(error, shown)
    if isinstance(error, asyncssh.KeyImportError | asyncssh.KeyEncryptionError):
        return PermissionDeniedError(errno.EACCES, f"cannot use a key file: {error}", shown)
    return BackendError(errno.EIO, f"{type(error).__name__}: {error}", shown)


class EventLoopThread:
    """One asyncio event loop run by a thread of its own; any thread submits coroutines to it and waits."""

    def __init__(self, name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def submit(self, coroutine: Coroutine[Any, Any, Result]) -> Future[Result]:
        """Start coroutine on the loop; return the future of its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def run(self, coroutine: Coroutine[Any, Any, Result], timeout_s: float | None = None) -> Result:
        """Run coroutine on the loop and return its result (its exception or TimeoutError is raised)."""
        future = self.submit(coroutine)
        try:
            return future.result(timeout_s)
        except BaseException:
            future.cancel()
            raise

    def stop(self) -> None:
        """Stop the loop, wait for its thread and close it."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        if not self._thread.is_alive():
            self._loop.close()


@dataclass(frozen=True, slots=True)
class ServerTraits:
    """What the SFTP server offers, read once after connecting (OpenSSH's extensions)."""

    posix_rename: bool
    hard_links: bool
    statvfs: bool
    lsetstat: bool
    exclusive_rename: bool
    """The plain RENAME refuses an existing target (OpenSSH's link() then unlink(), as the draft says)."""
    home: str
    """The login folder, as the server's realpath of '.' gives it."""


class ChannelPool:
    """Up to size SSH connections with one SFTP channel each, used in turn; all on the event loop.

    The first connection is made when first needed (it checks the host key and reads the server's
    traits); the others are then opened in the background and join the turn when ready. Separate
    connections rather than channels of one: each has its own sshd process and TCP stream on the
    server, so one busy stream or process never holds up the others' answers. A channel also
    takes many requests in flight (a file's blocks). After reconnect() the next call connects anew.
    """

    def __init__(
        self, location: RemoteLocation, policy: HostKeyPolicy, size: int, timeout_s: float, config: str
    ) -> None:
        self._location = location
        self._config = config
        self._policy = policy
        self.size = max(1, size)
        self.timeout_s = timeout_s
        self._connections: list[asyncssh.SSHClientConnection] = []
        self._channels: list[asyncssh.SFTPClient] = []
        self._opening: set[asyncio.Task[None]] = set()
        self._turn = itertools.count()
        self._lock: asyncio.Lock | None = None
        self.traits: ServerTraits | None = None

    async def channel(self) -> asyncssh.SFTPClient:
        """Return the next channel in turn, connecting first if there is none."""
        if not self._channels:
            if self._lock is None:
                self._lock = asyncio.Lock()
            async with self._lock:
                if not self._channels:
                    await self._open_one()
                    for _ in range(self.size - 1):
                        task = asyncio.ensure_future(self._open_another())
                        self._opening.add(task)
                        task.add_done_callback(self._opening.discard)
        return self._channels[next(self._turn) % len(self._channels)]

    async def _open_one(self) -> None:
        """Open a connection and its SFTP channel, and add them to the turn."""
        connection = await asyncio.wait_for(self._connect(), self.timeout_s)
        try:
            opened = await asyncio.wait_for(connection.start_sftp_client(), self.timeout_s)
            if self.traits is None:
                self.traits = await self._read_traits(connection, opened)
        except BaseException:
            connection.close()
            raise
        self._connections.append(connection)
        self._channels.append(opened)

    async def _open_another(self) -> None:
        """Open one more connection in the background; a failure leaves the pool smaller."""
        with contextlib.suppress(Exception):
            await self._open_one()

    async def _connect(self) -> asyncssh.SSHClientConnection:
        """Open the SSH connection: ~/.ssh/config, ssh-agent and keys; the host key checked by known_hosts."""
        location, config = self._location, self._config
        options: dict[str, Any] = {
            "config": [config] if os.access(config, os.R_OK) else [],
            "known_hosts": self._policy.known_hosts_arg(),
            "client_factory": lambda: HostKeyCheck(self._policy),
            "passphrase": os.environ.get(PASSPHRASE_VARIABLE),
            "login_timeout": self.timeout_s,
            "keepalive_interval": 15,
            "encryption_algs": _ciphers(),
        }
        if location.user is not None:
            options["username"] = location.user
        port = location.port if location.port != 22 else ()
        try:
            connection = await asyncssh.connect(location.host, port, **options)
        except asyncssh.HostKeyNotVerifiable:
            reason = self._policy.refusal or "the server's host key could not be verified"
            raise PermissionDeniedError(errno.EACCES, reason, location.url) from None
        _lighten(connection)
        return connection

    @staticmethod
    async def _read_traits(ssh: asyncssh.SSHClientConnection, channel: asyncssh.SFTPClient) -> ServerTraits:
        """Read which OpenSSH extensions the server offers, and its login folder."""
        handler = channel._handler  # asyncssh keeps the negotiated extensions there
        home = await channel.realpath(b".")
        return ServerTraits(
            exclusive_rename=str(ssh.get_extra_info("server_version", "")).startswith("SSH-2.0-OpenSSH_"),
            posix_rename=bool(getattr(handler, "_supports_posix_rename", False)),
            hard_links=bool(getattr(handler, "_supports_hardlink", False)),
            statvfs=bool(getattr(handler, "_supports_statvfs", False)),
            lsetstat=bool(getattr(handler, "_supports_lsetstat", False)),
            home=os.fsdecode(home),
        )

    async def drop(self) -> None:
        """Close every channel and connection, quietly; the next call connects anew."""
        opening, self._opening = list(self._opening), set()
        for task in opening:
            task.cancel()
        await asyncio.gather(*opening, return_exceptions=True)
        channels, connections = self._channels, self._connections
        self._channels, self._connections = [], []
        for opened in channels:
            opened.exit()
        for connection in connections:
            connection.close()
        for connection in connections:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.wait_closed(), 5)


def _ciphers() -> list[str]:
    """Return asyncssh's default encryption algorithms, the fast ones first."""
    from asyncssh.encryption import get_default_encryption_algs

    others = [name.decode("ascii") for name in get_default_encryption_algs()]
    return [*FAST_CIPHERS, *(name for name in others if name not in FAST_CIPHERS)]


def _lighten(connection: asyncssh.SSHClientConnection) -> None:
    """Make each packet cheaper to send, right after the handshake (asyncssh's own attributes).

    asyncssh sends an empty SSH_MSG_IGNORE before every packet, a countermeasure for CBC ciphers
    that AES-GCM and ChaCha20 do not need: it doubles the packets, the cipher work and the system
    calls of each request, so those are dropped. And the writes of one loop turn are joined into
    one send (CoalescingTransport).
    """
    transport = connection._transport
    if transport is not None:
        coalescing = CoalescingTransport(transport, asyncio.get_running_loop())
        connection._transport = cast(asyncio.Transport, coalescing)
    cipher = str(connection.get_extra_info("send_cipher", ""))
    if "gcm" not in cipher and "chacha20" not in cipher:
        return
    send = connection.send_packet
    empty = b"\0\0\0\0"

    def send_packet(pkttype: int, *args: bytes, **options: Any) -> None:
        if pkttype == MSG_IGNORE and args == (empty,):
            return
        send(pkttype, *args, **options)

    connection.send_packet = send_packet  # type: ignore[method-assign]


class CoalescingTransport:
    """A transport that joins the writes of one event-loop turn into one send (one TCP segment).

    asyncssh writes an SSH_MSG_IGNORE packet before every packet, and a pipelined flight of SFTP
    requests is several packets more: sent one by one, each is a system call and a segment that
    wakes the server. Joined, a request costs the client and the server about half as much.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        sock = transport.get_extra_info("socket")
        self._socket: socket.socket | None = sock if QUICK_ACK is not None else None

    def write(self, data: bytes) -> None:
        """Queue data; the first write of a turn schedules the flush at the end of it."""
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        """Send what the turn wrote, in one piece."""
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.write(b"".join(pending))
            if self._socket is not None and QUICK_ACK is not None:
                # the answers to a flight come as several segments, of which the server holds
                # back all but the first until it is acknowledged (Nagle): acknowledge at once
                with contextlib.suppress(OSError):
                    self._socket.setsockopt(socket.IPPROTO_TCP, QUICK_ACK, 1)

    def close(self) -> None:
        """Send what is queued, then close."""
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        """Pass everything else to the real transport."""
        return getattr(self._transport, name)
