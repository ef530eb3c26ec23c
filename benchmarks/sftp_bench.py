"""Benchmark `dirkit mirror` over SFTP against rclone, rsync over ssh, OpenSSH sftp and scp, on loopback.

Usage: python -m benchmarks.sftp_bench [--files 2000] [--site-mib 10] [--big-mib 1024] [--rounds 3]

Starts its own OpenSSH sshd on 127.0.0.1 (as the tests do: its own host key, authorized key and
known_hosts; nothing in ~/.ssh is read or written). Scenarios, each into a fresh empty folder,
tools alternating, medians printed with ratios to dirkit:
  site up:   a 2,000-file site of about 10 MB, local -> server (dirkit mirror, rclone sync
             --transfers 4, rsync -a -e ssh);
  site down: the same site, server -> local;
  big up / big down: one file of --big-mib MiB (dirkit mirror, sftp -b put/get, scp).
With --floor every row also times benchmarks/sftp_floor.py, the smallest asyncssh program
doing the same transfers (the floor of any Python SFTP client on asyncssh).
Data lives in a fresh folder under /work/bench-sftp/ and is deleted at the end (--keep to keep it).
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.backends import ssh_server

BENCH_ROOT = Path("/work/bench-sftp3")
Command = Callable[[Path], list[str]]
CPU_FIELDS = ("ru_utime", "ru_stime")


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed run: wall seconds, and CPU seconds (user + system) of the client and of the server."""

    wall: float
    client_cpu: float
    server_cpu: float


def make_site(root: Path, files: int, total_bytes: int, seed: int = 5) -> int:
    """Create a web-site-like tree of files (sizes 0 to 2x the mean) in nested folders; return its bytes."""
    rng = random.Random(seed)
    mean = total_bytes // files
    block = os.urandom(2 * mean + 1)
    written = 0
    for index in range(files):
        folder = root / f"section{index % 20:02d}" / f"page{index % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        size = rng.randrange(0, 2 * mean + 1)
        (folder / f"file{index:05d}.html").write_bytes(block[:size])
        written += size
    return written


def make_big(root: Path, mib: int) -> int:
    """Create one file of mib MiB of random bytes; return its size."""
    root.mkdir(parents=True, exist_ok=True)
    chunk = os.urandom(1024 * 1024)
    with open(root / "big.bin", "wb") as stream:
        for _ in range(mib):
            stream.write(chunk)
    return mib * 1024 * 1024


class Bench:
    """The server, the client's ssh files, and the command lines of every tool."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.server = ssh_server.start_sshd(ssh_server.new_base())
        self.home = base / "home"
        self.server.make_home(self.home)
        self.key = self.home / ".ssh" / "id_ed25519"
        self.known_hosts = self.home / ".ssh" / "known_hosts"
        # bytecode is cached (in a folder of the benchmark's own) as for an installed dirkit: with
        # PYTHONDONTWRITEBYTECODE set, every start would compile asyncssh and dirkit again
        hidden = ("SSH_AUTH_SOCK", "PYTHONDONTWRITEBYTECODE")
        self.env = {name: value for name, value in os.environ.items() if name not in hidden}
        self.env |= {"HOME": str(self.home), "DIRKIT_STATE_DIR": str(base / "state")}
        self.env |= {"PYTHONPYCACHEPREFIX": str(base / "pycache")}
        self.env |= {
            "RCLONE_CONFIG_BENCH_TYPE": "sftp",
            "RCLONE_CONFIG_BENCH_HOST": "127.0.0.1",
            "RCLONE_CONFIG_BENCH_PORT": str(self.server.port),
            "RCLONE_CONFIG_BENCH_USER": self.server.user,
            "RCLONE_CONFIG_BENCH_KEY_FILE": str(self.key),
            "RCLONE_CONFIG_BENCH_KNOWN_HOSTS_FILE": str(self.known_hosts),
            # no md5sum run through the login shell per file: dirkit does not hash either
            "RCLONE_CONFIG_BENCH_DISABLE_HASHCHECK": "true",
            "RCLONE_CONFIG": str(base / "rclone.conf"),
        }
        self.remote_root = self.server.base / "trees"
        self.remote_root.mkdir()

    @property
    def ssh_command(self) -> str:
        """Return the ssh command line rsync runs (no ~/.ssh/config read, only the bench key)."""
        return (
            f"ssh -F /dev/null -i {self.key} -p {self.server.port} -o BatchMode=yes "
            f"-o UserKnownHostsFile={self.known_hosts} -o StrictHostKeyChecking=yes"
        )

    def ssh_options(self) -> list[str]:
        """Return the options sftp and scp take for the bench server."""
        return [
            "-F", "/dev/null", "-i", str(self.key), "-P", str(self.server.port), "-o", "BatchMode=yes",
            "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
        ]  # fmt: skip

    def url(self, remote: Path) -> str:
        """Return the sftp:// URL of a server folder."""
        return f"sftp://{self.server.user}@127.0.0.1:{self.server.port}{remote}"

    def time(self, command: list[str]) -> Sample:
        """Run a command; return its wall time and the CPU of client and server (raise if it fails).

        The server's CPU is what the listening sshd's finished connection processes used (their times
        add up in its cutime and cstime once it has reaped them, which is waited for here).
        """
        server_before = self.server_cpu()
        client_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, check=True, env=self.env, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        client = sum(getattr(client_after, name) - getattr(client_before, name) for name in CPU_FIELDS)
        for _ in range(100):  # the server's connection processes end just after the client leaves
            if not self.server.sessions():
                break
            time.sleep(0.02)
        return Sample(wall, client, self.server_cpu() - server_before)

    def server_cpu(self) -> float:
        """Return the CPU seconds the sshd's reaped children used so far."""
        fields = Path(f"/proc/{self.server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")

    def sftp_batch(self, lines: str) -> list[str]:
        """Return the sftp -b command running the given batch lines."""
        batch = self.base / "batch.txt"
        batch.write_text(lines)
        return ["sftp", *self.ssh_options(), "-b", str(batch), f"{self.server.user}@127.0.0.1"]

    def stop(self) -> None:
        """Stop the server."""
        self.server.stop()
        shutil.rmtree(self.server.base, ignore_errors=True)


FLOOR_OPTIONS: list[str] = []
"""More options for every floor run (--floor-options)."""
BASELINE: list[str] = []
"""The Python of another dirkit checkout (--baseline), timed beside this one as 'baseline'."""


def dirkit(source: str, target: str, python: str = sys.executable) -> list[str]:
    """Return the dirkit mirror command line."""
    return [python, "-m", "dirkit", "mirror", "-q", "--force", source, target]


def with_baseline(
    tools: dict[str, Command], source: Callable[[Path], str], target: Callable[[Path], str]
) -> None:
    """Add the --baseline checkout's dirkit to tools, right after this one's."""
    if BASELINE:
        python = BASELINE[0]
        tools["baseline"] = lambda folder: dirkit(source(folder), target(folder), python)


def alternate(
    label: str, tools: dict[str, Command], fresh: Callable[[], Path], bench: Bench, rounds: int
) -> None:
    """Time each tool into a fresh empty target, tools alternating per round; print medians and ratios."""
    times: dict[str, list[Sample]] = {name: [] for name in tools}
    bench.time(tools["dirkit"](fresh()))  # warm: bytecode cache, page cache, state database
    for round_number in range(rounds):
        order = list(tools) if round_number % 2 == 0 else list(reversed(tools))
        for name in order:
            target = fresh()
            times[name].append(bench.time(tools[name](target)))
    medians = {name: statistics.median(sample.wall for sample in samples) for name, samples in times.items()}
    mine = medians["dirkit"]
    parts = [f"{name} {seconds:.2f}s" + ("" if name == "dirkit" else f" ({mine / seconds:.2f}x)")
             for name, seconds in medians.items()]  # fmt: skip
    print(f"{label}: " + ", ".join(parts) + f"  [load {os.getloadavg()[0]:.1f}]", flush=True)
    cpu = [
        f"{name} {statistics.median(s.client_cpu for s in samples):.2f}"
        f"+{statistics.median(s.server_cpu for s in samples):.2f}"
        for name, samples in times.items()
    ]
    print("  cpu s (client+server, medians): " + ", ".join(cpu), flush=True)


def floor(
    bench: Bench, direction: str, local: Path | str, remote: Path | str, options: tuple[str, ...] = ()
) -> list[str]:
    """Return the command line of benchmarks/sftp_floor.py (the smallest asyncssh program) for a transfer."""
    return [
        sys.executable, "-m", "benchmarks.sftp_floor", direction, str(local), str(remote),
        "--port", str(bench.server.port), "--key", str(bench.key), "--user", bench.server.user,
        "--known-hosts", str(bench.known_hosts), *FLOOR_OPTIONS, *options,
    ]  # fmt: skip


def site_scenarios(
    bench: Bench, site: Path, rounds: int, fresh_name: Callable[[str], str], with_floor: bool = False
) -> None:
    """Time the site up (into a fresh server folder) and down (into a fresh local folder)."""
    user_host = f"{bench.server.user}@127.0.0.1"

    def made(folder: Path) -> Path:
        folder.mkdir()
        return folder

    up: dict[str, Command] = {"dirkit": lambda target: dirkit(f"{site}/", bench.url(target))}
    with_baseline(up, lambda _target: f"{site}/", bench.url)
    up |= {
        "rclone": lambda target: ["rclone", "sync", "--transfers", "4", f"{site}/", f"bench:{target}"],
        "rsync": lambda target: [
            "rsync",
            "-a",
            "-e",
            bench.ssh_command,
            f"{site}/",
            f"{user_host}:{target}/",
        ],
    }
    if with_floor:
        up["asyncssh floor"] = lambda target: floor(bench, "up", site, made(target))
    alternate("site up (first copy)", up, lambda: bench.remote_root / fresh_name("up"), bench, rounds)
    served = bench.remote_root / "served"
    subprocess.run(["cp", "-a", f"{site}/.", str(served)], check=True)
    down: dict[str, Command] = {"dirkit": lambda target: dirkit(bench.url(served), str(target))}
    with_baseline(down, lambda _target: bench.url(served), str)
    down |= {
        "rclone": lambda target: ["rclone", "sync", "--transfers", "4", f"bench:{served}", str(target)],
        "rsync": lambda target: [
            "rsync",
            "-a",
            "-e",
            bench.ssh_command,
            f"{user_host}:{served}/",
            f"{target}/",
        ],
    }
    if with_floor:
        down["asyncssh floor"] = lambda target: floor(bench, "down", target, served)
    alternate("site down (first copy)", down, lambda: bench.base / fresh_name("down"), bench, rounds)


def big_scenarios(
    bench: Bench, mib: int, rounds: int, fresh_name: Callable[[str], str], with_floor: bool = False
) -> None:
    """Time one big file up and down: dirkit mirror against sftp -b and scp."""
    big = bench.base / "big"
    make_big(big, mib)
    user_host = f"{bench.server.user}@127.0.0.1"
    options = bench.ssh_options()

    def fresh(folder: Path) -> Path:
        folder.mkdir()
        return folder

    up: dict[str, Command] = {"dirkit": lambda target: dirkit(f"{big}/", bench.url(target))}
    with_baseline(up, lambda _target: f"{big}/", bench.url)
    up |= {
        "sftp": lambda target: bench.sftp_batch(f"put {big}/big.bin {target}/big.bin\n"),
        "scp": lambda target: ["scp", "-q", *options, f"{big}/big.bin", f"{user_host}:{target}/"],
    }
    if with_floor:
        up["asyncssh floor"] = lambda target: floor(bench, "up", big, target, ("--whole-file",))
    alternate(
        f"big up ({mib} MiB)", up, lambda: fresh(bench.remote_root / fresh_name("bigup")), bench, rounds
    )
    source = bench.remote_root / "bigserved"
    shutil.copytree(big, source)
    down: dict[str, Command] = {"dirkit": lambda target: dirkit(bench.url(source), str(target))}
    with_baseline(down, lambda _target: bench.url(source), str)
    down |= {
        "sftp": lambda target: bench.sftp_batch(f"get {source}/big.bin {target}/big.bin\n"),
        "scp": lambda target: ["scp", "-q", *options, f"{user_host}:{source}/big.bin", f"{target}/"],
    }
    if with_floor:
        down["asyncssh floor"] = lambda target: floor(bench, "down", target, source, ("--whole-file",))
    alternate(f"big down ({mib} MiB)", down, lambda: fresh(bench.base / fresh_name("bigdown")), bench, rounds)


def main() -> None:
    """Run the scenarios and print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--site-mib", type=float, default=10.0)
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-site", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--floor", action="store_true", help="also time benchmarks/sftp_floor.py")
    parser.add_argument("--baseline", metavar="PYTHON", help="also time the dirkit of this Python (A/B)")
    parser.add_argument("--floor-options", default="", help="options for the floor, e.g. '--connections 2'")
    arguments = parser.parse_args()
    if arguments.baseline:
        BASELINE.append(arguments.baseline)
    FLOOR_OPTIONS.extend(arguments.floor_options.split())
    BENCH_ROOT.mkdir(exist_ok=True)
    base = Path(tempfile.mkdtemp(dir=BENCH_ROOT))
    bench = Bench(base)
    counter = iter(range(1_000_000))

    def fresh_name(prefix: str) -> str:
        return f"{prefix}{next(counter)}"

    try:
        print(f"sshd on 127.0.0.1:{bench.server.port}", flush=True)
        if not arguments.skip_site:
            site = base / "site"
            size = make_site(site, arguments.files, int(arguments.site_mib * 1024 * 1024))
            print(f"site: {arguments.files} files, {size / 1e6:.1f} MB", flush=True)
            site_scenarios(bench, site, arguments.rounds, fresh_name, arguments.floor)
        if not arguments.skip_big:
            big_scenarios(bench, arguments.big_mib, max(2, arguments.rounds - 1), fresh_name, arguments.floor)
    finally:
        bench.stop()
        if not arguments.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
