"""The one timing harness of the benchmarks: side by side, alternating, medians, whole-tree peak memory.

Peak memory covers the WHOLE process tree of a command. A thread samples it every 20 ms: it finds
the command's live descendants through /proc/PID/task/TID/children and reads /proc/PID/status of
each. The peak is the larger of
- the highest sum of VmRSS over all processes alive at one sample (processes running at once, such
  as `xargs b3sum` or worker processes, add up; pages shared between processes count once per
  process, so the sum errs high, never low, against a limit), and
- the highest VmHWM of any one process: the kernel's own high-water mark of that process since its
  exec, so a spike between two samples is still caught (only growth in a process's last 20 ms of
  life, or a process living less than 20 ms, can be missed).
os.wait4's ru_maxrss is not used: it includes the memory the child inherits from this Python process
at fork (vfork shares it) before its exec, which put a 20-35 MB floor under every peer tool.
No cgroup is needed (none is writable here).
"""

from __future__ import annotations

import enum
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_SECONDS = 0.02
MEMORY_LIMIT_MB = 150.0
FRESH_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class Invocation:
    """One command line to time, with its environment and the exit codes that mean success."""

    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    ok_codes: frozenset[int] = frozenset({0, 1})


@dataclass(frozen=True, slots=True)
class Sample:
    """The wall time and the whole-tree peak memory of one run."""

    seconds: float
    peak_bytes: int


class CommandError(Exception):
    """A timed command exited with a code outside its ok_codes."""


def process_tree(root: int) -> list[int]:
    """Return root and all its live descendants (from /proc/PID/task/TID/children)."""
    found = [root]
    index = 0
    while index < len(found) and index < 10_000:
        pid = found[index]
        index += 1
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as stream:
                    found.extend(int(child) for child in stream.read().split())
        except OSError:
            continue
    return found


def memory_of(pid: int) -> tuple[int, int]:
    """Return (VmRSS, VmHWM) of a process in bytes, (0, 0) if it is gone or has no memory."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as stream:
            for line in stream:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        return 0, 0
    return rss, hwm


class MemorySampler(threading.Thread):
    """Sample the memory of a process tree until stopped; keep the highest sum and high-water mark."""

    def __init__(self, pid: int) -> None:
        """Watch the tree rooted at pid."""
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0
        self.stopped = threading.Event()

    def sample(self) -> None:
        """Take one sample of the whole tree."""
        total = 0
        for pid in process_tree(self.pid):
            rss, hwm = memory_of(pid)
            total += rss
            self.peak = max(self.peak, hwm)
        self.peak = max(self.peak, total)

    def run(self) -> None:
        """Sample until stopped."""
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(SAMPLE_SECONDS)


def measure(invocation: Invocation) -> Sample:
    """Run an invocation with its output discarded; return its wall time and whole-tree peak memory."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(invocation.argv),
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=None if invocation.env is None else dict(invocation.env),
            cwd=invocation.cwd,
        )
        sampler = MemorySampler(process.pid)
        sampler.start()
        _, status, _ = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        sampler.stopped.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode not in invocation.ok_codes:
            errors.seek(0)
            tail = errors.read()[-600:].decode(errors="replace")
            raise CommandError(f"{' '.join(invocation.argv)} exited {process.returncode}: {tail}")
    return Sample(seconds, sampler.peak)


@dataclass(slots=True)
class Scratch:
    """Fresh folders for targets under one base, retired into a trash folder and deleted later.

    Deleting a big tree right before a timed run slows the run (this VM creates files slowly after
    a big delete), so retired folders are renamed away at once and deleted at the end, or early only
    when free space runs low.
    """

    base: Path
    serial: int = 0
    min_free_bytes: int = 8 << 30

    def fresh(self, label: str) -> Path:
        """Return a new empty folder named after label."""
        self.serial += 1
        folder = self.base / "rounds" / f"{self.serial:05d}-{label}"
        folder.mkdir(parents=True)
        return folder

    def retire(self, folder: Path) -> None:
        """Move folder into the trash; empty the trash now if free space is low."""
        trash = self.base / "trash"
        trash.mkdir(parents=True, exist_ok=True)
        if folder.exists():
            folder.rename(trash / folder.name)
        if shutil.disk_usage(self.base).free < self.min_free_bytes:
            self.empty()

    def empty(self) -> None:
        """Delete the trash."""
        shutil.rmtree(self.base / "trash", ignore_errors=True)


_last_read: dict[Path, float] = {}


def reread(paths: Sequence[Path]) -> None:
    """Read every file under paths (skipped if read in the last 20 s) so timed runs find them cached."""
    for path in paths:
        if time.monotonic() - _last_read.get(path, -FRESH_SECONDS) < FRESH_SECONDS:
            continue
        if path.is_dir():
            for folder, _, names in os.walk(path):
                for name in names:
                    read_file(os.path.join(folder, name))
        else:
            read_file(str(path))
        _last_read[path] = time.monotonic()


def read_file(path: str) -> None:
    """Read a regular file to its end, ignoring symlinks and unreadable files."""
    if os.path.islink(path):
        return
    try:
        with open(path, "rb", buffering=0) as stream:
            while stream.read(1 << 20):
                pass
    except OSError:
        return


class Better(enum.Enum):
    """Which way a ratio should go to meet its target."""

    LOWER = "<="
    HIGHER = ">="


@dataclass(frozen=True, slots=True)
class Target:
    """A ratio's limit: time ratio dirkit/peer at most `limit`, or speed ratio peer/dirkit at least it."""

    limit: float
    better: Better = Better.LOWER

    def ratio(self, subject: float, peer: float) -> float:
        """Return the ratio this target is about from two median times."""
        if self.better is Better.LOWER:
            return subject / peer if peer else float("inf")
        return peer / subject if subject else float("inf")

    def met(self, ratio: float) -> bool:
        """Tell whether ratio meets the target."""
        return ratio <= self.limit if self.better is Better.LOWER else ratio >= self.limit

    def __str__(self) -> str:
        """Return the target as '<= 1.0x'."""
        return f"{self.better.value} {self.limit:g}x"


@dataclass(frozen=True, slots=True)
class Contender:
    """A named command; build(fresh folder) returns the invocation of one round (its setup untimed)."""

    name: str
    build: Callable[[Path], Invocation]


@dataclass(frozen=True, slots=True)
class Row:
    """One line group of the table: a subject (dirkit or a floor) timed against its peers."""

    key: str
    work: str
    subject: Contender
    peers: tuple[Contender, ...]
    target: Target
    warm: tuple[Path, ...] = ()
    floor: Contender | None = None


@dataclass(frozen=True, slots=True)
class Result:
    """The medians and peaks of one subject-peer pair on one shape."""

    work: str
    shape: str
    subject: str
    peer: str
    subject_seconds: float
    peer_seconds: float
    target: Target
    subject_peak_mb: float
    peer_peak_mb: float
    floor_seconds: float | None = None

    @property
    def ratio(self) -> float:
        """Return the ratio the target is about."""
        return self.target.ratio(self.subject_seconds, self.peer_seconds)


@dataclass(slots=True)
class Timings:
    """The samples of every contender of a row, by name."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def median(self, name: str) -> float:
        """Return the median wall time of a contender."""
        return statistics.median(sample.seconds for sample in self.samples[name])

    def peak_mb(self, name: str) -> float:
        """Return the highest peak memory of a contender, in MB (10^6 bytes)."""
        return max(sample.peak_bytes for sample in self.samples[name]) / 1e6


def time_side_by_side(
    contenders: Sequence[Contender], rounds: int, scratch: Scratch, warm: Sequence[Path]
) -> Timings:
    """Run every contender once untimed (warm-up), then `rounds` rounds in rotating order."""
    timings = Timings({contender.name: [] for contender in contenders})
    for round_number in range(rounds + 1):
        shift = round_number % len(contenders)
        order = [*contenders[shift:], *contenders[:shift]]
        for contender in order:
            folder = scratch.fresh(contender.name.split()[0].replace("/", "-"))
            invocation = contender.build(folder)
            reread(warm)
            sample = measure(invocation)
            if round_number:
                timings.samples[contender.name].append(sample)
            scratch.retire(folder)
    return timings


def run_row(row: Row, shape: str, rounds: int, scratch: Scratch, with_floor: bool = False) -> list[Result]:
    """Time a row's subject, peers (and floor) side by side; return one result per peer."""
    contenders = [row.subject, *row.peers]
    if with_floor and row.floor is not None:
        contenders.append(row.floor)
    timings = time_side_by_side(contenders, rounds, scratch, row.warm)
    subject = row.subject.name
    return [
        Result(
            work=f"{row.work} vs {peer.name}",
            shape=shape,
            subject=subject,
            peer=peer.name,
            subject_seconds=timings.median(subject),
            peer_seconds=timings.median(peer.name),
            target=row.target,
            subject_peak_mb=timings.peak_mb(subject),
            peer_peak_mb=timings.peak_mb(peer.name),
            floor_seconds=timings.median(row.floor.name) if with_floor and row.floor else None,
        )
        for peer in row.peers
    ]


def format_table(results: Sequence[Result], title: str, subject_label: str = "dirkit s") -> str:
    """Return a text table: work, shape, subject s, peer s, ratio, target, met?, peak MB (and floor)."""
    floors = any(result.floor_seconds is not None for result in results)
    width = max([44, *(len(result.work) for result in results)])
    header = (
        f"{'work':<{width}} {'shape':<8} {subject_label:>9} {'peer s':>8} {'ratio':>7} {'target':>8} "
        f"{'met?':>4} {'peak MB':>8} {'<=150?':>6} {'peer MB':>8}"
    )
    if floors:
        header += f" {'floor s':>8} {'floor ratio':>11}"
    lines = [title, header, "-" * len(header)]
    for result in results:
        met = "yes" if result.target.met(result.ratio) else "NO"
        memory = "yes" if result.subject_peak_mb <= MEMORY_LIMIT_MB else "NO"
        line = (
            f"{result.work:<{width}} {result.shape:<8} {result.subject_seconds:>9.3f} "
            f"{result.peer_seconds:>8.3f} {result.ratio:>6.2f}x {result.target!s:>8} {met:>4} "
            f"{result.subject_peak_mb:>8.1f} {memory:>6} {result.peer_peak_mb:>8.1f}"
        )
        if result.floor_seconds is not None:
            floor_ratio = result.target.ratio(result.floor_seconds, result.peer_seconds)
            line += f" {result.floor_seconds:>8.3f} {floor_ratio:>10.2f}x"
        lines.append(line)
    return "\n".join(lines)
