"""A TCP relay on 127.0.0.1 in front of an FTP server that injects faults: cuts, 421s, stalls, slow data.

The relay speaks plain FTP only: it reads the server's PASV (227) and EPSV (229) replies, opens a
listening socket of its own for each, and rewrites the reply so that data connections come through
it too. Each relayed connection runs two pump threads; every loop is bounded by a stop flag checked
at least every POLL_S, and stop() closes everything and joins the threads.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

POLL_S = 0.05
CHUNK = 64 * 1024
JOIN_TIMEOUT_S = 5.0
PASV_REPLY = re.compile(rb"^227 .*?\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)")
EPSV_REPLY = re.compile(rb"^229 .*?\(\|\|\|(\d+)\|\)")


@dataclass
class Faults:
    """What the relay does wrong; change the fields while it runs (reads are atomic enough for tests)."""

    cut_every_data: int = 0
    """Cut every Nth data connection (and its control connection, as a server that drops the session)."""
    cut_data_after_bytes: int = 0
    """A cut data connection first relays this many bytes (server to client, or client to server)."""
    cut_data_times: int | None = None
    """How many data cuts in all (None: without end)."""
    cut_data_beyond_bytes: int | None = None
    """Cut any data connection (and its session) once it carried more than this many bytes."""
    cut_control_after_s: float | None = None
    """Cut every control connection this long after it was accepted."""
    idle_control_cut_s: float | None = None
    """Cut a control connection whose client sent nothing for this long (a NAT forgetting it)."""
    refuse_beyond: int | None = None
    """Answer '421 Too many connections' to a control connection beyond this many open at once."""
    refuse_all: bool = False
    """Answer 421 to every new control connection (a server restarting)."""
    data_bytes_per_s: int | None = None
    """Relay data connections at about this rate (long transfers on loopback)."""
    restart_at_data: int | None = None
    """At this data connection (counted from the start), reset everything open: a server restart."""
    down_for: int = 0
    """After a restart, close this many new control connections at once (the server still starting)."""
    cut_after_command: str | None = None
    """Relay a command starting with this word, then reset its session before the reply (reply lost)."""
    cut_after_command_times: int = 1
    stall_data_times: int = 0
    """Let this many data connections (the next ones) carry nothing at all: a server that hangs."""


@dataclass
class Counts:
    """What went through the relay."""

    data_connections: int = 0
    data_to_client: int = 0
    data_to_server: int = 0
    control_connections: int = 0
    refused: int = 0
    cuts: int = 0
    commands: list[str] = field(default_factory=list)
    """Each command line a client sent (PASS lines are kept as 'PASS ***')."""


def _no_delay(sock: socket.socket) -> socket.socket:
    """Return sock with Nagle's algorithm off (the relay must not add delays of its own)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _abort(sock: socket.socket) -> None:
    """Close sock with a reset (SO_LINGER 0), as a dropped connection looks to both ends."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class Session:
    """One control connection through the relay, and the data connections opened for it."""

    def __init__(self, proxy: FaultProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server = _no_delay(socket.create_connection(("127.0.0.1", proxy.server_port), timeout=5))
        _no_delay(client)
        self.sockets: list[socket.socket] = [client, self.server]
        self.accepted_at = time.monotonic()
        self.client_seen = time.monotonic()
        self.closed = threading.Event()
        self.muted = threading.Event()
        self.doomed_data = False
        """Set while a data connection that will be cut is open: its completion reply is held back."""
        """Set: replies are dropped (a command's reply lost before the cut)."""

    def start(self) -> None:
        """Start the two pumps of the control connection."""
        self.proxy.spawn(self._pump_commands)
        self.proxy.spawn(self._pump_replies)

    def cut(self) -> None:
        """Reset every socket of this session."""
        if self.closed.is_set():
            return
        self.closed.set()
        with self.proxy.lock:
            self.proxy.counts.cuts += 1
        for sock in list(self.sockets):
            _abort(sock)

    def close(self) -> None:
        """Close every socket of this session quietly."""
        self.closed.set()
        for sock in list(self.sockets):
            with contextlib.suppress(OSError):
                sock.close()

    def _deadline_passed(self) -> bool:
        faults = self.proxy.faults
        now = time.monotonic()
        if faults.cut_control_after_s is not None and now - self.accepted_at > faults.cut_control_after_s:
            return True
        return faults.idle_control_cut_s is not None and now - self.client_seen > faults.idle_control_cut_s

    def _pump_commands(self) -> None:
        """Relay client commands to the server, noting each line."""
        pending = b""
        try:
            self.client.settimeout(POLL_S)
        except OSError:
            return
        while not self.closed.is_set() and not self.proxy.stopping.is_set():
            if self._deadline_passed():
                self.cut()
                return
            try:
                data = self.client.recv(CHUNK)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            self.client_seen = time.monotonic()
            pending += data
            cut_now = False
            while b"\r\n" in pending:
                line, pending = pending.split(b"\r\n", 1)
                text = line.decode("latin-1")
                cut_now = cut_now or self.proxy.cuts_after(text)
                with self.proxy.lock:
                    self.proxy.counts.commands.append("PASS ***" if text.upper().startswith("PASS") else text)
            if cut_now:
                self.muted.set()
            try:
                self.server.sendall(data)
            except OSError:
                break
            if cut_now:
                time.sleep(0.2)  # the server acts on the command; its reply is then lost
                self.cut()
                return
        self.close()

    def _pump_replies(self) -> None:
        """Relay server replies to the client, rewriting passive replies to point at the relay."""
        pending = b""
        try:
            self.server.settimeout(POLL_S)
        except OSError:
            return
        while not self.closed.is_set() and not self.proxy.stopping.is_set():
            try:
                data = self.server.recv(CHUNK)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            pending += data
            out = b""
            while b"\r\n" in pending:
                line, pending = pending.split(b"\r\n", 1)
                if self.doomed_data and line[:1] == b"2":
                    continue  # a server that drops the session mid-transfer never says it completed
                out += self._rewrite(line) + b"\r\n"
            if self.muted.is_set():
                continue
            try:
                self.client.sendall(out)
            except OSError:
                break
        self.close()

    def _rewrite(self, line: bytes) -> bytes:
        """Return a reply line, with a passive address replaced by a listening socket of the relay."""
        pasv = PASV_REPLY.match(line)
        if pasv:
            port = int(pasv.group(5)) * 256 + int(pasv.group(6))
            mine = self._listen_for_data(port)
            return f"227 Entering Passive Mode (127,0,0,1,{mine // 256},{mine % 256}).".encode()
        epsv = EPSV_REPLY.match(line)
        if epsv:
            mine = self._listen_for_data(int(epsv.group(1)))
            return f"229 Entering Extended Passive Mode (|||{mine}|)".encode()
        return line

    def _listen_for_data(self, server_port: int) -> int:
        """Open a one-shot listener that relays its first connection to the server's data port."""
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        self.sockets.append(listener)
        port: int = listener.getsockname()[1]
        cut_after = self.proxy.next_data_cut()
        self.doomed_data = self.doomed_data or cut_after is not None
        self.proxy.spawn(lambda: self._relay_data(listener, server_port, cut_after))
        return port

    def _relay_data(self, listener: socket.socket, server_port: int, cut_after: int | None) -> None:
        """Accept the client's data connection (bounded wait) and relay it both ways, cutting if told."""
        try:
            listener.settimeout(POLL_S)
        except OSError:
            return
        deadline = time.monotonic() + 30
        client: socket.socket | None = None
        while client is None and time.monotonic() < deadline and not self.closed.is_set():
            try:
                client, _address = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
        listener.close()
        if client is None:
            return
        try:
            server = _no_delay(socket.create_connection(("127.0.0.1", server_port), timeout=5))
            _no_delay(client)
        except OSError:
            client.close()
            return
        self.sockets.extend([client, server])
        if self.proxy.stalls():
            while not self.closed.is_set() and not self.proxy.stopping.is_set():
                time.sleep(POLL_S)
            return
        beyond = self.proxy.faults.cut_data_beyond_bytes
        budget = [cut_after if cut_after is not None or beyond is None else beyond + 1]
        doomed = cut_after is not None
        lock = threading.Lock()

        def pump(source: socket.socket, sink: socket.socket, to_client: bool) -> None:
            try:
                source.settimeout(POLL_S)
            except OSError:
                return
            while not self.closed.is_set() and not self.proxy.stopping.is_set():
                try:
                    data = source.recv(CHUNK if self.proxy.faults.data_bytes_per_s is None else 4096)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data and doomed:
                    self.cut()  # a doomed transfer that ended before its cut: the session drops now
                    return
                if not data:
                    with contextlib.suppress(OSError):
                        sink.shutdown(socket.SHUT_WR)
                    return
                with lock:
                    if budget[0] is not None:
                        data = data[: budget[0]]
                        budget[0] -= len(data)
                self.proxy.count_data(len(data), to_client)
                try:
                    if data:
                        sink.sendall(data)
                except OSError:
                    break
                if budget[0] is not None and budget[0] <= 0:
                    self.cut()
                    return
                rate = self.proxy.faults.data_bytes_per_s
                if rate:
                    time.sleep(len(data) / rate)
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()

        if cut_after == 0:
            self.cut()
            return
        self.proxy.spawn(lambda: pump(server, client, True))
        pump(client, server, False)


class FaultProxy:
    """The relay: listens on 127.0.0.1, relays to server_port, and injects the faults set in faults."""

    def __init__(self, server_port: int, faults: Faults | None = None) -> None:
        self.server_port = server_port
        self.faults = faults or Faults()
        self.counts = Counts()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sessions: list[Session] = []
        self.threads: list[threading.Thread] = []
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port: int = self.listener.getsockname()[1]
        self._data_cuts = 0
        self._down = 0
        self.spawn(self._accept)

    def spawn(self, target: object) -> None:
        """Run target in a daemon thread that stop() joins."""
        thread = threading.Thread(target=target, daemon=True)  # type: ignore[arg-type]
        with self.lock:
            self.threads = [known for known in self.threads if known.is_alive()]
            self.threads.append(thread)
        thread.start()

    def stalls(self) -> bool:
        """Tell whether the data connection opening now must hang (and count it)."""
        with self.lock:
            if self.faults.stall_data_times <= 0:
                return False
            self.faults.stall_data_times -= 1
            return True

    def cuts_after(self, command: str) -> bool:
        """Tell whether the session must be reset once command reached the server (and count it)."""
        word = self.faults.cut_after_command
        if word is None or not command.upper().startswith(word.upper()):
            return False
        with self.lock:
            if self.faults.cut_after_command_times <= 0:
                return False
            self.faults.cut_after_command_times -= 1
        return True

    def next_data_cut(self) -> int | None:
        """Count a new data connection; return after how many bytes to cut it (None: never)."""
        faults = self.faults
        with self.lock:
            self.counts.data_connections += 1
            number = self.counts.data_connections
        if faults.restart_at_data == number:
            self.restart()
            return 0
        with self.lock:
            if not faults.cut_every_data or number % faults.cut_every_data:
                return None
            if faults.cut_data_times is not None and self._data_cuts >= faults.cut_data_times:
                return None
            self._data_cuts += 1
            return faults.cut_data_after_bytes

    def count_data(self, size: int, to_client: bool) -> None:
        """Add size bytes to the data counts."""
        with self.lock:
            if to_client:
                self.counts.data_to_client += size
            else:
                self.counts.data_to_server += size

    def open_sessions(self) -> int:
        """Return how many control connections are open now."""
        with self.lock:
            self.sessions = [session for session in self.sessions if not session.closed.is_set()]
            return len(self.sessions)

    def restart(self) -> None:
        """Reset every connection and close the next down_for new ones, as a restarting server does."""
        with self.lock:
            self._down = self.faults.down_for
        self.cut_all()

    def cut_all(self) -> None:
        """Reset every connection open now (a server restart); new ones are served again."""
        with self.lock:
            sessions = list(self.sessions)
        for session in sessions:
            session.cut()

    def _accept(self) -> None:
        self.listener.settimeout(POLL_S)
        while not self.stopping.is_set():
            try:
                client, _address = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                down, self._down = self._down > 0, max(0, self._down - 1)
            if down:
                with self.lock:
                    self.counts.refused += 1
                _abort(client)
                continue
            limit = self.faults.refuse_beyond
            if self.faults.refuse_all or (limit is not None and self.open_sessions() >= limit):
                with self.lock:
                    self.counts.refused += 1
                try:
                    client.sendall(b"421 Too many connections, try again later\r\n")
                finally:
                    client.close()
                continue
            try:
                session = Session(self, client)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sessions.append(session)
                self.counts.control_connections += 1
            session.start()

    def stop(self) -> None:
        """Close every connection and the listener, and join the threads (bounded)."""
        self.stopping.set()
        self.listener.close()
        with self.lock:
            sessions, threads = list(self.sessions), list(self.threads)
        for session in sessions:
            session.close()
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
