"""Time `dirkit regress -j 2` on trivial cases against a plain shell loop that diffs saved output.

Usage: python benchmarks/regress_bench.py [--cases 200] [--rounds 7]

A suite of CASES executable scripts (`echo case N`) is generated in a fresh folder under
/work/bench-regress/ (never inside the repository) and its expectations recorded once (not timed).
Each round makes fresh copies (not timed) and times, alternating which goes first:
- dirkit: `dirkit regress --check -q -j 2 SUITE` (Python start-up included; each case in a fresh
  working directory with HOME and TMPDIR, its streams normalized, its tree compared by content);
- shell, full: a /bin/sh loop running each script with stdout and stderr to files, then `diff -u`
  of stdout, stderr and exit status against the saved files (what dirkit compares);
- shell, stdout: the same loop diffing stdout only.
Medians are printed, per case and in total, with the ratios dirkit/shell (the target is <= 1.5).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_ROOT = Path("/work/bench-regress")

SHELL_FULL = """\
cd "$1"; out="$2"
for f in ./*; do
  name=${f#./}; exp=".expected/$name"
  "$f" >"$out/stdout" 2>"$out/stderr"; echo $? >"$out/status"
  diff -u "$exp/stdout" "$out/stdout"; diff -u "$exp/stderr" "$out/stderr"
  diff -u "$exp/exit-status" "$out/status"
done
"""

SHELL_STDOUT = """\
cd "$1"; out="$2"
for f in ./*; do
  name=${f#./}
  "$f" >"$out/stdout" 2>"$out/stderr"
  diff -u ".expected/$name/stdout" "$out/stdout"
done
"""


def make_suite(root: Path, cases: int) -> None:
    """Write cases executable scripts that each echo one line."""
    root.mkdir(parents=True)
    for number in range(cases):
        script = root / f"case{number:04d}"
        script.write_text(f"#!/bin/sh\necho case {number}\n", encoding="utf-8")
        script.chmod(0o755)


def dirkit_command(*arguments: str) -> list[str]:
    """Return the command line that runs this checkout's dirkit."""
    return [sys.executable, "-m", "dirkit", *arguments]


def timed(command: list[str]) -> float:
    """Run a command that must exit 0 with no output; return its wall time in seconds."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or done.stdout:
        raise SystemExit(f"{command[:4]} failed ({done.returncode}): {(done.stdout + done.stderr)[-500:]!r}")
    return seconds


def main() -> None:
    """Generate the suite, time both sides alternately, print medians and ratios."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="run-", dir=BENCH_ROOT))
    try:
        master = base / "suite"
        make_suite(master, args.cases)
        subprocess.run(dirkit_command("regress", "-q", "-j", "2", str(master)), check=True)
        times: dict[str, list[float]] = {"dirkit": [], "shell, full": [], "shell, stdout": []}
        for round_number in range(args.rounds):
            runs = []
            for name in times:
                copy = base / f"copy-{round_number}-{name.replace(', ', '-')}"
                shutil.copytree(master, copy, symlinks=True)
                scratch = base / f"scratch-{round_number}-{name.replace(', ', '-')}"
                scratch.mkdir()
                if name == "dirkit":
                    command = dirkit_command("regress", "--check", "-q", "-j", "2", str(copy))
                else:
                    script = SHELL_FULL if name == "shell, full" else SHELL_STDOUT
                    command = ["/bin/sh", "-c", script, "sh", str(copy), str(scratch)]
                runs.append((name, command))
            if round_number % 2:
                runs.reverse()
            for name, command in runs:
                times[name].append(timed(command))
        medians = {name: statistics.median(values) for name, values in times.items()}
        print(f"{args.cases} trivial cases, dirkit -j 2, {args.rounds} alternating rounds, medians:")
        for name, seconds in medians.items():
            print(f"  {name:<14} {seconds:7.3f} s  {seconds / args.cases * 1000:6.2f} ms per case")
        for name in ("shell, full", "shell, stdout"):
            print(f"ratio dirkit / {name}: {medians['dirkit'] / medians[name]:.2f} (target <= 1.5)")
        print(f"cores: {os.cpu_count()}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
