"""The floor for dirkit's FTP rows: the smallest, fastest plain-ftplib program doing the same work.

Usage: python -m benchmarks.ftp_floor up|down LOCAL PORT FOLDER [--connections 4] [--list stat|list]
  up    list FOLDER on the server, upload every local file whose size or whole-second mtime differs
        (STOR to a temporary name, the two-argument MDTM to set its time, RNFR/RNTO), making missing
        folders (MKD); into an empty folder that is the first upload, else a rerun
  down  list FOLDER the same way, download every file (RETR) and set its local mtime

What makes it the best ftplib program on vsftpd (no MLSD, no MFMT), every trick stated:
- --connections sessions log in at once (one thread each) and serve every phase (no reconnects);
- folders are listed by all sessions at once, each with one `STAT FOLDER` (vsftpd sends the ls -l
  lines on the control connection: one round trip, no data connection; `--list list` uses EPSV and
  LIST -a instead, sent together);
- MDTM is asked only for files whose time is needed (up: those whose size matches the local file;
  down: all), pipelined: a whole folder's MDTMs are sent before their replies are read;
- missing folders are made by one pipelined batch of MKDs, parents first;
- each transfer sends EPSV and STOR (or RETR) together; after an upload's 226, its MDTM, RNFR and
  RNTO go out in one batch together with the next file's EPSV and STOR (one round trip per file
  besides the transfer itself); a download sends the next EPSV and RETR right after the 226.
It keeps what dirkit promises about bytes (a file appears under its name only complete, with its
time) but nothing else: no backups, journal, locks, re-checks, retries or digests.
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import ftplib
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ENCODING = "latin-1"
DEPTH = 64
"""Commands sent before their replies are read."""
Remote = dict[str, tuple[int, int | None]]
"""Files below the top folder: size and MDTM time (None when not asked)."""


class Session(ftplib.FTP):
    """An anonymous binary-mode session that can send several commands before reading their replies."""

    def __init__(self, port: int) -> None:
        super().__init__(encoding=ENCODING)
        self.connect("127.0.0.1", port)
        self.send_lines("USER anonymous", "PASS anonymous@", "TYPE I")
        self.getresp()
        with contextlib.suppress(ftplib.error_perm):  # vsftpd: 230 again for PASS (or 503)
            self.getresp()
        self.getresp()

    def send_lines(self, *commands: str) -> None:
        """Send commands at once, without reading any reply."""
        assert self.sock is not None
        self.sock.sendall("".join(f"{command}\r\n" for command in commands).encode(ENCODING))

    def replies(self, count: int) -> list[str]:
        """Read count replies (a refusal is kept as its text)."""
        found: list[str] = []
        for _ in range(count):
            try:
                found.append(self.getresp())
            except ftplib.Error as error:
                found.append(str(error))
        return found

    def data_port(self, reply: str) -> socket.socket:
        """Connect to the port of an EPSV reply."""
        _host, port = ftplib.parse229(reply, ("127.0.0.1", 0))
        return socket.create_connection(("127.0.0.1", port))

    def times(self, paths: list[str]) -> list[int | None]:
        """Return the MDTM time of each path, pipelined."""
        found: list[int | None] = []
        for start in range(0, len(paths), DEPTH):
            batch = paths[start : start + DEPTH]
            self.send_lines(*(f"MDTM {path}" for path in batch))
            for reply in self.replies(len(batch)):
                good = reply.startswith("213 ")
                found.append(calendar.timegm(time.strptime(reply[4:18], "%Y%m%d%H%M%S")) if good else None)
        return found

    def listing(self, folder: str, use_stat: bool) -> list[str]:
        """Return the ls -l lines of folder: from STAT on the control connection, or from LIST -a."""
        if use_stat:
            self.send_lines(f"STAT {folder}")
            return self.getmultiline().split("\n")[1:-1]
        self.send_lines("EPSV", f"LIST -a {folder}")
        with self.data_port(self.getresp()) as data:
            self.getresp()
            chunks = []
            while chunk := data.recv(65536):
                chunks.append(chunk)
        self.getresp()
        return b"".join(chunks).decode(ENCODING).splitlines()


Job = Callable[[Session], None]


def run_jobs(sessions: list[Session], jobs: queue.Queue[Job | None]) -> None:
    """Run the queued jobs (which may queue more) on every session at once until none is left."""

    def worker(session: Session) -> None:
        while (job := jobs.get()) is not None:
            job(session)
            jobs.task_done()

    threads = [threading.Thread(target=worker, args=(session,)) for session in sessions]
    for thread in threads:
        thread.start()
    jobs.join()
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()


def open_sessions(port: int, connections: int) -> list[Session]:
    """Log in connections sessions at once."""
    sessions: list[Session | None] = [None] * connections

    def login(index: int) -> None:
        sessions[index] = Session(port)

    threads = [threading.Thread(target=login, args=(index,)) for index in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [session for session in sessions if session is not None]


def list_tree(
    sessions: list[Session], top: str, use_stat: bool, wants_time: Callable[[str, int], bool]
) -> tuple[Remote, set[str]]:
    """Return the files below top (size, and MDTM time where wants_time says so) and its folders."""
    found: Remote = {}
    folders: set[str] = set()
    lock = threading.Lock()
    jobs: queue.Queue[Job | None] = queue.Queue()

    def list_folder(folder: str) -> Job:
        def job(session: Session) -> None:
            files: list[tuple[str, int]] = []
            for line in session.listing(folder, use_stat):
                parts = line.split(None, 8)
                if len(parts) < 9 or parts[8] in (".", ".."):
                    continue
                path = f"{folder}/{parts[8]}"[len(top) + 1 :]
                if line.startswith("d"):
                    with lock:
                        folders.add(path)
                    jobs.put(list_folder(f"{folder}/{parts[8]}"))
                elif line.startswith("-"):
                    files.append((path, int(parts[4])))
            timed = [(path, size) for path, size in files if wants_time(path, size)]
            times = session.times([f"{top}/{path}" for path, _size in timed])
            with lock:
                found.update((path, (size, None)) for path, size in files)
                found.update((path, (size, mtime)) for (path, size), mtime in zip(timed, times, strict=True))

        return job

    jobs.put(list_folder(top))
    run_jobs(sessions, jobs)
    return found, folders


def walk_local(local: Path) -> Iterator[tuple[str, os.stat_result, bool]]:
    """Yield every path below local (relative, POSIX), its stat, and whether it is a folder."""
    stack = [""]
    while stack:
        folder = stack.pop()
        with os.scandir(local / folder if folder else local) as entries:
            for entry in entries:
                name = f"{folder}/{entry.name}" if folder else entry.name
                is_dir = entry.is_dir(follow_symlinks=False)
                yield name, entry.stat(follow_symlinks=False), is_dir
                if is_dir:
                    stack.append(name)


def upload(local: Path, port: int, top: str, connections: int, use_stat: bool) -> None:
    """Upload the files of local that differ from what the server holds below top."""
    sessions = open_sessions(port, connections)
    mine: dict[str, os.stat_result] = {}
    local_folders: list[str] = []
    for name, status, is_dir in walk_local(local):
        if is_dir:
            local_folders.append(name)
        else:
            mine[name] = status

    def wants_time(path: str, size: int) -> bool:
        status = mine.get(path)
        return status is not None and status.st_size == size

    remote, remote_folders = list_tree(sessions, top, use_stat, wants_time)
    missing = sorted(folder for folder in local_folders if folder not in remote_folders)
    for start in range(0, len(missing), DEPTH):
        batch = missing[start : start + DEPTH]
        sessions[0].send_lines(*(f"MKD {top}/{folder}" for folder in batch))
        sessions[0].replies(len(batch))
    todo: queue.Queue[tuple[str, int]] = queue.Queue()
    for name, status in sorted(mine.items()):
        if remote.get(name) != (status.st_size, int(status.st_mtime)):
            todo.put((name, int(status.st_mtime)))

    def worker(session: Session) -> None:
        sent: tuple[str, str, str] | None = None
        while True:
            try:
                name, mtime = todo.get_nowait()
            except queue.Empty:
                name = ""
            final = f"{top}/{name}"
            temporary = f"{final.rsplit('/', 1)[0]}/.part-{threading.get_ident()}"
            start = ["EPSV", f"STOR {temporary}"] if name else []
            if sent is None:
                session.send_lines(*start)
            else:
                done, stamp, done_temporary = sent
                session.send_lines(
                    f"MDTM {stamp} {done_temporary}", f"RNFR {done_temporary}", f"RNTO {done}", *start
                )
                session.replies(3)
            if not name:
                return
            with session.data_port(session.getresp()) as data:
                session.getresp()
                with open(local / name, "rb") as stream:
                    data.sendfile(stream)
            session.getresp()
            sent = (final, time.strftime("%Y%m%d%H%M%S", time.gmtime(mtime)), temporary)

    threads = [threading.Thread(target=worker, args=(session,)) for session in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for session in sessions:
        session.quit()


def download(local: Path, port: int, top: str, connections: int, use_stat: bool) -> None:
    """Download every file below top into local, with its time."""
    sessions = open_sessions(port, connections)
    remote, folders = list_tree(sessions, top, use_stat, lambda _path, _size: True)
    local.mkdir(parents=True, exist_ok=True)
    for folder in sorted(folders):
        (local / folder).mkdir(exist_ok=True)
    todo: queue.Queue[tuple[str, int | None]] = queue.Queue()
    for name, (_size, mtime) in remote.items():
        todo.put((name, mtime))

    def worker(session: Session) -> None:
        while True:
            try:
                name, mtime = todo.get_nowait()
            except queue.Empty:
                return
            session.send_lines("EPSV", f"RETR {top}/{name}")
            target = local / name
            with session.data_port(session.getresp()) as data, open(target, "wb") as stream:
                session.getresp()
                while chunk := data.recv(65536):
                    stream.write(chunk)
            session.getresp()
            if mtime is not None:
                os.utime(target, (mtime, mtime))

    threads = [threading.Thread(target=worker, args=(session,)) for session in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for session in sessions:
        session.quit()


def main() -> None:
    """Parse arguments and run one direction."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("direction", choices=["up", "down"])
    parser.add_argument("local", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("folder")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--list", choices=["stat", "list"], default="stat")
    args = parser.parse_args()
    top = "/" + args.folder.strip("/")
    run = upload if args.direction == "up" else download
    run(args.local, args.port, top, args.connections, args.list == "stat")


if __name__ == "__main__":
    main()
