"""Benchmark dirkit on FTP against lftp and rclone on one vsftpd on 127.0.0.1, alternating, with medians.

Usage, from the repository root (vsftpd, lftp and rclone installed; run as root, as vsftpd needs):
    python -m benchmarks.ftp_bench [--files 2000] [--rounds 3] [--connections 4] [--only ROW]

Rows (each tool on its own folder of the same server, in turn, every round):
  upload    a ~10 MB site of --files files into an empty folder: dirkit mirror SRC URL,
            lftp mirror -R -P 4 (with ftp:use-mdtm-overloaded, and SITE UTIME off so that lftp
            reaches the two-argument MDTM: it then sets times on vsftpd too), rclone sync
            --transfers 4
  download  that site back into an empty local folder: dirkit mirror URL DST, lftp mirror -P 4,
            rclone sync --transfers 4
  noop      the upload again with nothing to do
  changed   the upload again after 1% of the files changed (new bytes, same size, new mtime)
The server is started from tests/backends/ftp_servers.py (anonymous writable folders). rclone is
configured by environment variables (RCLONE_CONFIG_BENCH_*), its password from `rclone obscure`.
Ratios are dirkit's median over each peer's median: <= 1.0 meets issue 12's targets. The column
"ftplib" is the floor, benchmarks/ftp_floor.py: the smallest plain-ftplib program sending the same
commands one at a time (no backups, journal or checks), i.e. what Python and ftplib alone cost.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.backends.ftp_servers import RunningServer, remove_base, server_base, start_vsftpd

MTIME = 1_600_000_000
LFTP_SETTINGS = "set ftp:use-mdtm-overloaded yes; set ftp:use-site-utime no; set ftp:use-site-utime2 no"
"""lftp tries SITE UTIME first and gives up on vsftpd's 550; without it the two-argument MDTM sets times."""
Command = Callable[[Path, str], list[str]]
"""A command line from a local folder and a server folder name."""


def make_site(root: Path, files: int, seed: int = 5) -> int:
    """Write a web-site-like tree of files (about 5 KB each) in nested folders; return its bytes."""
    rng = random.Random(seed)
    payload = rng.randbytes(1 << 20)
    total = 0
    for index in range(files):
        folder = root / f"section{index % 20:02}" / f"page{index % 100:03}"
        folder.mkdir(parents=True, exist_ok=True)
        size = rng.randrange(0, 10_240)
        start = rng.randrange(0, len(payload) - size)
        path = folder / f"item{index:05}.html"
        path.write_bytes(payload[start : start + size])
        os.utime(path, (MTIME, MTIME))
        total += size
    return total


def change_files(root: Path, fraction: float, seed: int) -> int:
    """Give fraction of the files new bytes (half of them at the same size) and a new mtime; return how many.

    rclone cannot set times on vsftpd (no MFMT) and then compares sizes only, so it misses the
    same-size half: the benchmark says so instead of failing.
    """
    rng = random.Random(seed)
    files = sorted(path for path in root.rglob("*") if path.is_file())
    chosen = rng.sample(files, max(1, int(len(files) * fraction)))
    stamp = MTIME + 1000 + seed
    for number, path in enumerate(chosen):
        path.write_bytes(rng.randbytes(path.stat().st_size + (number % 2) * 100))
        os.utime(path, (stamp, stamp))
    return len(chosen)


class Tools:
    """The command lines of dirkit, lftp and rclone against one server."""

    def __init__(self, server: RunningServer, connections: int) -> None:
        self.server = server
        self.connections = connections
        self.base = f"ftp://anonymous@127.0.0.1:{server.port}"
        self.lftp_open = f"open -u anonymous,anonymous@ ftp://127.0.0.1:{server.port}"
        self.lftp_set = LFTP_SETTINGS

    def dirkit_up(self, local: Path, folder: str) -> list[str]:
        """Return dirkit's upload command."""
        return [*self._dirkit(), f"{local}/", f"{self.base}/{folder}"]

    def dirkit_down(self, local: Path, folder: str) -> list[str]:
        """Return dirkit's download command."""
        return [*self._dirkit(), f"{self.base}/{folder}", str(local)]

    def _dirkit(self) -> list[str]:
        connections = str(self.connections)
        return [sys.executable, "-m", "dirkit", "mirror", "-q", "--force", "--connections", connections]

    def lftp_up(self, local: Path, folder: str) -> list[str]:
        """Return lftp's reverse mirror (upload)."""
        script = f"{self.lftp_set}; {self.lftp_open}; mirror -R -P {self.connections} {local} /{folder}; quit"
        return ["lftp", "-e", script]

    def lftp_down(self, local: Path, folder: str) -> list[str]:
        """Return lftp's mirror (download)."""
        script = f"{self.lftp_set}; {self.lftp_open}; mirror -P {self.connections} /{folder} {local}; quit"
        return ["lftp", "-e", script]

    def floor_up(self, local: Path, folder: str) -> list[str]:
        """Return the plain-ftplib floor's upload (benchmarks/ftp_floor.py)."""
        return [*self._floor(), "up", str(local), str(self.server.port), folder]

    def floor_down(self, local: Path, folder: str) -> list[str]:
        """Return the plain-ftplib floor's download."""
        return [*self._floor(), "down", str(local), str(self.server.port), folder]

    def _floor(self) -> list[str]:
        return [sys.executable, "-m", "benchmarks.ftp_floor", "--connections", str(self.connections)]

    def rclone_up(self, local: Path, folder: str) -> list[str]:
        """Return rclone's sync to the server."""
        return ["rclone", "sync", "--transfers", str(self.connections), str(local), f"bench:/{folder}"]

    def rclone_down(self, local: Path, folder: str) -> list[str]:
        """Return rclone's sync from the server."""
        return ["rclone", "sync", "--transfers", str(self.connections), f"bench:/{folder}", str(local)]


def environment(server: RunningServer, state: Path) -> dict[str, str]:
    """Return the environment of the timed commands: rclone's remote, dirkit's own state folder.

    Bytecode is cached (in a folder of the benchmark's own) as for an installed dirkit: with
    PYTHONDONTWRITEBYTECODE set, every start would compile ~170 modules again (0.7 s).
    """
    obscured = subprocess.run(
        ["rclone", "obscure", "anonymous@"], check=True, capture_output=True, text=True
    ).stdout.strip()
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        {
            "RCLONE_CONFIG_BENCH_TYPE": "ftp",
            "RCLONE_CONFIG_BENCH_HOST": "127.0.0.1",
            "RCLONE_CONFIG_BENCH_PORT": str(server.port),
            "RCLONE_CONFIG_BENCH_USER": "anonymous",
            "RCLONE_CONFIG_BENCH_PASS": obscured,
            "RCLONE_CONFIG": "/dev/null",
            "DIRKIT_STATE_DIR": str(state),
            "PYTHONPYCACHEPREFIX": str(state.parent / "pycache"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(Path.cwd() / "src"), env.get("PYTHONPATH")])),
        }
    )
    return env


def timed(command: Sequence[str], env: dict[str, str]) -> float:
    """Run a command and return its wall time in seconds (raise if it fails)."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return elapsed


def differences(left: Path, right: Path) -> int:
    """Return how many paths two local folders disagree on by bytes (dirkit's own folder aside)."""

    def files(root: Path) -> dict[str, bytes]:
        return {
            path.relative_to(root).as_posix(): path.read_bytes()
            for path in root.rglob("*")
            if path.is_file() and ".dirkit" not in path.relative_to(root).parts
        }

    one, other = files(left), files(right)
    return sum(1 for path in one.keys() | other.keys() if one.get(path) != other.get(path))


def check(tool: str, row: str, left: Path, right: Path, notes: set[str]) -> None:
    """Fail if dirkit left a difference; note it for a peer."""
    wrong = differences(left, right)
    if wrong and tool == "dirkit":
        raise RuntimeError(f"dirkit: {row} left {wrong} files different")
    if wrong:
        notes.add(f"{tool} left {wrong} files different after {row}")


def server_folder(server: RunningServer, name: str) -> Path:
    """Make an empty folder on the server, writable by its anonymous user; return its local path."""
    folder = server.home / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    os.chown(folder, _ftp_uid(), -1)
    return folder


def _ftp_uid() -> int:
    import pwd

    return pwd.getpwnam("ftp").pw_uid


def report(row: str, times: dict[str, list[float]]) -> None:
    """Print a row's medians and dirkit's ratio to each peer."""
    medians = {tool: statistics.median(values) for tool, values in times.items()}
    shown = "  ".join(f"{tool} {value:6.2f}s" for tool, value in medians.items())
    peers = [(tool, value) for tool, value in medians.items() if tool != "dirkit"]
    ratios = "  ".join(f"dirkit/{tool} {medians['dirkit'] / value:4.2f}x" for tool, value in peers)
    print(f"{row:9} {shown}   {ratios}", flush=True)


def bench(args: argparse.Namespace) -> None:
    """Start the server, make the site, run every row alternating tools, print medians and ratios."""
    base = server_base("dirkit-ftp-bench-")
    server = start_vsftpd(args.vsftpd, base, tls=False)
    work = Path(tempfile.mkdtemp(prefix="dirkit-ftp-bench-work-"))
    try:
        site = work / "site"
        size = make_site(site, args.files)
        print(f"site: {args.files} files, {size / 1e6:.1f} MB; vsftpd on 127.0.0.1:{server.port}", flush=True)
        env = environment(server, work / "state")
        tools = Tools(server, args.connections)
        uploads: dict[str, Command] = {
            "dirkit": tools.dirkit_up,
            "lftp": tools.lftp_up,
            "rclone": tools.rclone_up,
            "ftplib": tools.floor_up,
        }
        downloads: dict[str, Command] = {
            "dirkit": tools.dirkit_down,
            "lftp": tools.lftp_down,
            "rclone": tools.rclone_down,
            "ftplib": tools.floor_down,
        }
        warm = work / "warm"
        make_site(warm, 20)
        for tool, upload in uploads.items():
            timed(upload(warm, server_folder(server, f"warm-{tool}").name), env)  # caches, bytecode
        names = ("upload", "download", "noop", "changed")
        rows: dict[str, dict[str, list[float]]] = {row: {tool: [] for tool in uploads} for row in names}
        notes: set[str] = set()
        for round_number in range(args.rounds):
            order = list(uploads)
            if round_number % 2:
                order.reverse()
            for tool in order:
                folder = server_folder(server, f"{tool}{round_number}")
                rows["upload"][tool].append(timed(uploads[tool](site, folder.name), env))
                check(tool, "upload", site, folder, notes)
            for tool in order:
                local = work / f"down-{tool}{round_number}"
                rows["download"][tool].append(timed(downloads[tool](local, f"{tool}{round_number}"), env))
                check(tool, "download", site, local, notes)
                shutil.rmtree(local)
            for tool in order:
                rows["noop"][tool].append(timed(uploads[tool](site, f"{tool}{round_number}"), env))
            change_files(site, 0.01, seed=round_number)
            for tool in order:
                rows["changed"][tool].append(timed(uploads[tool](site, f"{tool}{round_number}"), env))
                check(tool, "changed", site, server.home / f"{tool}{round_number}", notes)
            for tool in order:
                shutil.rmtree(server.home / f"{tool}{round_number}")
        print(f"medians of {args.rounds} rounds, {args.connections} connections each:")
        for row, times in rows.items():
            if not args.only or row in args.only:
                report(row, times)
        for note in sorted(notes):
            print(f"note: {note}")
    finally:
        server.stop()
        remove_base(base)
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--vsftpd", default=shutil.which("vsftpd") or "/usr/sbin/vsftpd")
    parser.add_argument("--only", nargs="*", default=[], help="rows to print (default: all)")
    main_args = parser.parse_args(argv)
    bench(main_args)


if __name__ == "__main__":
    main()
