"""The floor for dirkit's FTP rows: the smallest plain-ftplib program that sends the same commands.

Usage: python -m benchmarks.ftp_floor up|down LOCAL PORT FOLDER [--connections 4]
  up    list FOLDER on the server (LIST, then MDTM for each file), upload every local file whose size or
        whole-second mtime differs (STOR to a temporary name, MDTM to set its time, RNFR/RNTO), making
        missing folders (MKD); into an empty folder that is the first upload, else a rerun
  down  list FOLDER the same way, download every file (RETR) and set its local mtime
Folders are listed and files moved by --connections threads, one anonymous ftplib session each, one
command at a time (no pipelining, no backups, no journal, no checks): what Python and ftplib cost.
"""

from __future__ import annotations

import argparse
import calendar
import contextlib
import ftplib
import os
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

Job = Callable[[ftplib.FTP], None]


def connect(port: int) -> ftplib.FTP:
    """Return an anonymous session in binary mode."""
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port)
    ftp.login("anonymous", "anonymous@")
    ftp.voidcmd("TYPE I")
    return ftp


def run_jobs(port: int, connections: int, jobs: queue.Queue[Job | None]) -> None:
    """Run the queued jobs (which may queue more) on connections threads until none is left."""

    def worker() -> None:
        ftp = connect(port)
        while (job := jobs.get()) is not None:
            job(ftp)
            jobs.task_done()
        ftp.quit()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    jobs.join()
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join()


def mdtm(ftp: ftplib.FTP, path: str) -> int | None:
    """Return a file's whole-second time by MDTM."""
    try:
        reply = ftp.sendcmd(f"MDTM {path}")
    except ftplib.error_perm:
        return None
    return calendar.timegm(time.strptime(reply[4:18], "%Y%m%d%H%M%S"))


def list_tree(port: int, connections: int, top: str) -> dict[str, tuple[int, int | None]]:
    """Return every file below top on the server: size and MDTM time, folders listed by threads."""
    found: dict[str, tuple[int, int | None]] = {}
    lock = threading.Lock()
    jobs: queue.Queue[Job | None] = queue.Queue()

    def list_folder(folder: str) -> Job:
        def job(ftp: ftplib.FTP) -> None:
            lines: list[str] = []
            try:
                ftp.cwd(folder)
            except ftplib.error_perm:
                return
            ftp.retrlines("LIST", lines.append)
            for line in lines:
                parts = line.split(None, 8)
                if len(parts) < 9:
                    continue
                path = f"{folder}/{parts[8]}"
                if line.startswith("d"):
                    jobs.put(list_folder(path))
                else:
                    entry = (int(parts[4]), mdtm(ftp, path))
                    with lock:
                        found[path[len(top) + 1 :]] = entry

        return job

    jobs.put(list_folder(top))
    run_jobs(port, connections, jobs)
    return found


def upload(local: Path, port: int, top: str, connections: int) -> None:
    """Upload the files of local that differ from what the server holds below top."""
    remote = list_tree(port, connections, top)
    folders = sorted(
        {path.parent.relative_to(local).as_posix() for path in local.rglob("*") if path.is_file()}
    )
    setup = connect(port)
    for folder in folders:
        parts = folder.split("/") if folder != "." else []
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if not any(name.startswith(f"{prefix}/") for name in remote):
                with contextlib.suppress(ftplib.error_perm):
                    setup.mkd(f"{top}/{prefix}")
    setup.quit()
    jobs: queue.Queue[Job | None] = queue.Queue()
    for path in sorted(local.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(local).as_posix()
        status = path.stat()
        if remote.get(name) == (status.st_size, int(status.st_mtime)):
            continue

        def send(
            ftp: ftplib.FTP, path: Path = path, name: str = name, mtime: int = int(status.st_mtime)
        ) -> None:
            final = f"{top}/{name}"
            temporary = f"{final.rsplit('/', 1)[0]}/.part-{threading.get_ident()}"
            with open(path, "rb") as stream:
                ftp.storbinary(f"STOR {temporary}", stream)
            ftp.sendcmd(f"MDTM {time.strftime('%Y%m%d%H%M%S', time.gmtime(mtime))} {temporary}")
            ftp.rename(temporary, final)

        jobs.put(send)
    run_jobs(port, connections, jobs)


def download(local: Path, port: int, top: str, connections: int) -> None:
    """Download every file below top into local, with its time."""
    remote = list_tree(port, connections, top)
    jobs: queue.Queue[Job | None] = queue.Queue()
    for name, (_size, mtime) in remote.items():
        target = local / name
        target.parent.mkdir(parents=True, exist_ok=True)

        def fetch(
            ftp: ftplib.FTP, name: str = name, target: Path = target, mtime: int | None = mtime
        ) -> None:
            with open(target, "wb") as stream:
                ftp.retrbinary(f"RETR {top}/{name}", stream.write)
            if mtime is not None:
                os.utime(target, (mtime, mtime))

        jobs.put(fetch)
    run_jobs(port, connections, jobs)


def main() -> None:
    """Parse arguments and run one direction."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("direction", choices=["up", "down"])
    parser.add_argument("local", type=Path)
    parser.add_argument("port", type=int)
    parser.add_argument("folder")
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    top = "/" + args.folder.strip("/")
    if args.direction == "up":
        upload(args.local, args.port, top, args.connections)
    else:
        download(args.local, args.port, top, args.connections)


if __name__ == "__main__":
    main()
