"""Time `dirkit compare --html` against `--json` on 100k differing paths, and the page's first paint.

Usage: python benchmarks/html_bench.py [--paths 100000] [--rounds 3]

Trees are generated under /work/bench-html/ (never inside the repository) and removed at the end:
half the paths are changed files (sizes differ), a quarter only on the left, a quarter only on the
right, in folders of 100. Each round runs both commands one after the other, alternating which goes
first; the medians and their ratio are printed (target: --html <= 2x --json). Then the page is opened
in headless Chromium (Debian's /usr/bin/chromium through Playwright) a few times, and the median time
to its first contentful paint and to the tree being drawn are printed (target: < 2 s).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_ROOT = Path("/work/bench-html")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_trees(base: Path, paths: int) -> tuple[Path, Path]:
    """Write two trees that differ in exactly `paths` paths; return them."""
    left, right = base / "left", base / "right"
    changed, one_sided = paths // 2, paths // 4
    for index in range(paths):
        folder = f"d{index // 100:04d}"
        name = f"{folder}/f{index:06d}.txt"
        sides: list[tuple[Path, bytes]] = []
        if index < changed:
            sides = [(left, f"line {index}\n".encode()), (right, f"line {index}\nand one more\n".encode())]
        elif index < changed + one_sided:
            sides = [(left, b"only left\n")]
        else:
            sides = [(right, b"only right\n")]
        for root, data in sides:
            target = root / name
            if index % 100 == 0 or not target.parent.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return left, right


def timed(argv: list[str]) -> float:
    """Run argv with its output thrown away (exit 1, trees differ, is expected); return its wall time."""
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{argv} failed with {done.returncode}")
    return elapsed


def first_paint(page_file: Path, runs: int) -> tuple[float, float]:
    """Return the medians of the first contentful paint and of the tree being drawn, in seconds."""
    from tests.report.browser import chromium

    paints: list[float] = []
    drawn: list[float] = []
    for _ in range(runs):
        with chromium() as browser:
            page = browser.new_page()
            start = time.perf_counter()
            page.goto(page_file.as_uri())
            page.wait_for_selector("body[data-ready='1']", timeout=60_000)
            drawn.append(time.perf_counter() - start)
            paint = page.evaluate(
                "new Promise(done => new PerformanceObserver((list, observer) => {"
                " observer.disconnect(); done(list.getEntries()[0].startTime); })"
                ".observe({type: 'paint', buffered: true}))"
            )
            paints.append(float(paint) / 1000)
    return statistics.median(paints), statistics.median(drawn)


def main() -> None:
    """Generate the trees, time both commands alternately, then the page in Chromium."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(dir=BENCH_ROOT))
    try:
        left, right = make_trees(base, args.paths)
        dirkit = [sys.executable, "-m", "dirkit", "compare"]
        page_file = base / "report.html"
        commands = {
            "json": [*dirkit, "--json", str(left), str(right)],
            "html": [*dirkit, "-q", "--html", str(page_file), str(left), str(right)],
        }
        times: dict[str, list[float]] = {"json": [], "html": []}
        timed(commands["json"])  # warm the page cache and the digest cache folder
        for round_number in range(args.rounds):
            order = ["json", "html"] if round_number % 2 == 0 else ["html", "json"]
            for name in order:
                times[name].append(timed(commands[name]))
        json_median = statistics.median(times["json"])
        html_median = statistics.median(times["html"])
        size = page_file.stat().st_size / 1024 / 1024
        print(f"{args.paths} differing paths, {args.rounds} rounds, medians:")
        print(f"  compare --json       {json_median:6.2f} s")
        print(f"  compare --html       {html_median:6.2f} s  ({size:.1f} MiB page)")
        print(f"  ratio html/json      {html_median / json_median:6.2f}  (target <= 2)")
        paint, drawn = first_paint(page_file, runs=3)
        print(f"  first paint          {paint:6.2f} s  (target < 2 s, headless Chromium)")
        print(f"  tree drawn (load)    {drawn:6.2f} s")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
