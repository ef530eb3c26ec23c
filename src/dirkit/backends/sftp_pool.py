"""SFTP connections lent to one caller at a time, each with an event loop of its own run by the caller.

A call takes a connection from the pool, runs its coroutine on that connection's loop in the
calling thread (no hand-off to another thread and back: that cost more than the request itself
for a small file), and gives it back. A stream that must go on between calls (a big file read
ahead or written behind) holds its connection until it ends and has its loop run by a thread of
its own meanwhile (LoopDriver). Separate connections rather than channels of one: each has its
own sshd process and TCP stream, so one busy stream never holds up the others' answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import asyncssh

from dirkit.backends.sftp_session import ServerTraits
from dirkit.errors import BackendError, TimedOutError

Result = TypeVar("Result")
THREAD_NAME = "dirkit-sftp"
"""The name of the threads that run a connection's loop while a stream holds it."""
CLOSE_WAIT_S = 5.0
"""How long closing one connection waits for the server's goodbye."""
Opener = Callable[[], Awaitable[tuple[asyncssh.SSHClientConnection, asyncssh.SFTPClient]]]
TraitsReader = Callable[[asyncssh.SSHClientConnection, asyncssh.SFTPClient], Awaitable[ServerTraits]]


class Connection:
    """One SSH connection, its SFTP channel and the event loop they live on."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        ssh: asyncssh.SSHClientConnection,
        channel: asyncssh.SFTPClient,
        generation: int,
    ) -> None:
        self.loop = loop
        self.ssh = ssh
        self.channel = channel
        self.generation = generation
        self.driver: LoopDriver | None = None

    def run(self, coroutine: Coroutine[Any, Any, Result], timeout_s: float) -> Result:
        """Run coroutine to its end on this connection's loop (here, or on its driver), within timeout_s."""
        if self.driver is not None:
            return self.driver.submit(coroutine).result(timeout_s)
        return self.loop.run_until_complete(_bounded(coroutine, timeout_s))

    def drive(self) -> None:
        """Have a thread of its own run the loop, until stop_driving."""
        if self.driver is None:
            self.driver = LoopDriver(self.loop)

    def stop_driving(self) -> None:
        """Stop the thread running the loop (calls then run it here again)."""
        driver, self.driver = self.driver, None
        if driver is not None:
            driver.stop()

    def shut(self, gracefully: bool) -> None:
        """Close the connection and its loop (gracefully: saying goodbye first), waiting a bounded time."""
        self.stop_driving()
        close_on_loop(self.loop, self.ssh, self.channel if gracefully else None)


def close_on_loop(
    loop: asyncio.AbstractEventLoop, ssh: asyncssh.SSHClientConnection, channel: asyncssh.SFTPClient | None
) -> None:
    """Close ssh (its channel first, if given; else at once) and then loop, ending what a cut call left."""
    try:
        with contextlib.suppress(Exception):
            if channel is not None:
                channel.exit()
                ssh.close()
            else:
                ssh.abort()
            # the socket is closed by a callback of the loop: run it until the connection is gone
            loop.run_until_complete(_bounded(ssh.wait_closed(), CLOSE_WAIT_S))
        with contextlib.suppress(Exception):
            left = asyncio.all_tasks(loop)
            for task in left:
                task.cancel()
            if left:
                gathered = asyncio.gather(*left, return_exceptions=True)
                loop.run_until_complete(_bounded(gathered, CLOSE_WAIT_S))
    finally:
        loop.close()


async def _bounded(coroutine: Awaitable[Result], timeout_s: float) -> Result:
    """Await coroutine, raising TimeoutError after timeout_s."""
    async with asyncio.timeout(timeout_s):
        return await coroutine


class LoopDriver:
    """A thread running an event loop until stopped; any thread submits coroutines to it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def submit(self, coroutine: Coroutine[Any, Any, Result]) -> Future[Result]:
        """Start coroutine on the loop; return the future of its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def stop(self) -> None:
        """Stop the loop (it may run again later) and wait for the thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)


def keeps_connection(error: BaseException) -> bool:
    """Tell whether a connection is still fit to lend after a call failed with error (a server's refusal)."""
    if isinstance(error, asyncssh.SFTPConnectionLost | asyncssh.SFTPNoConnection):
        return False
    return isinstance(error, asyncssh.SFTPError | BackendError)


class ConnectionPool:
    """Up to size connections, each lent to one caller at a time; opened when a caller finds none free.

    The first one also reads the server's traits. An extra connection the server refuses leaves
    the pool smaller (the caller waits for a busy one instead). drop() closes every connection:
    the free ones at once, the lent ones when given back; the next call connects anew.
    """

    def __init__(self, size: int, timeout_s: float, opener: Opener) -> None:
        self.size = max(1, size)
        self.timeout_s = timeout_s
        self._opener = opener
        self._free: list[Connection] = []
        self._opened = 0
        self._generation = 0
        self._changed = threading.Condition()
        self._channels: dict[asyncio.AbstractEventLoop, asyncssh.SFTPClient] = {}
        self.traits: ServerTraits | None = None
        self.read_traits: TraitsReader | None = None

    def channel(self) -> asyncssh.SFTPClient:
        """Return the SFTP channel of the connection whose loop runs the calling coroutine."""
        return self._channels[asyncio.get_running_loop()]

    def take(self) -> Connection:
        """Return a free connection, opening one if none is free and the pool is not full (else wait)."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            with self._changed:
                while not self._free and self._opened >= self.size:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._changed.wait(left):
                        raise TimedOutError(errno.ETIMEDOUT, "no SFTP connection came free in time", "")
                if self._free:
                    return self._free.pop()
                self._opened += 1
                generation = self._generation
            try:
                return self._open(generation)
            except BaseException:
                with self._changed:
                    self._opened -= 1
                    others = self._opened
                    if others > 0:
                        self.size = others
                    self._changed.notify_all()
                if others == 0:
                    raise

    def _open(self, generation: int) -> Connection:
        """Open a connection on a new loop (reading the server's traits if not yet read)."""
        loop = asyncio.new_event_loop()
        try:
            ssh, channel = loop.run_until_complete(_bounded(self._opener(), self.timeout_s))
        except BaseException:
            loop.close()
            raise
        if self.traits is None and self.read_traits is not None:
            try:
                reading = _bounded(self.read_traits(ssh, channel), self.timeout_s)
                self.traits = loop.run_until_complete(reading)
            except BaseException:
                close_on_loop(loop, ssh, None)
                raise
        self._channels[loop] = channel
        return Connection(loop, ssh, channel, generation)

    def give_back(self, connection: Connection, fit: bool = True) -> None:
        """Take back a lent connection: kept if fit and not dropped meanwhile, else closed."""
        connection.stop_driving()
        with self._changed:
            if fit and connection.generation == self._generation:
                self._free.append(connection)
                self._changed.notify()
                return
            self._opened -= 1
            self._changed.notify()
        self._close(connection, fit)

    def run(self, coroutine: Coroutine[Any, Any, Result]) -> Result:
        """Run coroutine on a lent connection (in this thread), bounded by the timeout."""
        try:
            connection = self.take()
        except BaseException:
            coroutine.close()
            raise
        try:
            result = connection.run(coroutine, self.timeout_s)
        except BaseException as error:
            self.give_back(connection, keeps_connection(error))
            raise
        self.give_back(connection)
        return result

    def drop(self) -> None:
        """Close every free connection now and every lent one when it comes back."""
        with self._changed:
            idle, self._free = self._free, []
            self._opened -= len(idle)
            self._generation += 1
            self._changed.notify_all()
        for connection in idle:
            self._close(connection, True)

    def _close(self, connection: Connection, gracefully: bool) -> None:
        self._channels.pop(connection.loop, None)
        connection.shut(gracefully)
