"""Time `dirkit serve` on 100k differing paths: the compare page's first paint and the plan view, in Chromium.

Usage: python benchmarks/serve_bench.py [--paths 100000] [--rounds 2]

The trees are those of html_bench.py (half changed files, a quarter only on each side, folders of 100),
generated under /work/bench-serve/ and removed at the end. A server runs in this process on 127.0.0.1,
port 0; headless Chromium (Debian's /usr/bin/chromium through Playwright) opens the page, clicks Compare
and then Plan, and prints per round: the seconds from the click until the compare report is loaded in
its frame, the report frame's first contentful paint after its own navigation started (target < 2 s),
and the seconds from the Plan click until the first 500 steps of the plan are drawn; then, for scale, the
times of `dirkit compare --html` and `dirkit mirror --dry-run --json` on the same trees in the same round.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH_ROOT = Path("/work/bench-serve")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
PAINT = (
    "new Promise(done => new PerformanceObserver((list, observer) => {"
    " observer.disconnect();"
    " done(list.getEntries().find(e => e.name === 'first-contentful-paint').startTime); })"
    ".observe({type: 'paint', buffered: true}))"
)
MINUTES = 600_000
DIRKIT = [sys.executable, "-m", "dirkit"]


def timed(argv: list[str]) -> float:
    """Run a dirkit command with its output thrown away; return its wall time."""
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def measure(left: Path, right: Path, rounds: int) -> dict[str, list[float]]:
    """Open the page rounds times and return the timings of each round, in seconds."""
    from tests.report.browser import chromium

    from dirkit.backends.trees import RemoteOptions
    from dirkit.web.server import start_server

    found: dict[str, list[float]] = {
        "compare loaded": [],
        "report first paint": [],
        "report drawn": [],
        "plan drawn": [],
        "cli compare --html": [],
        "cli mirror --dry-run": [],
    }
    server = start_server([str(left), str(right)], RemoteOptions(), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        for _ in range(rounds):
            with chromium() as browser:
                page = browser.new_page()
                page.goto(server.url())
                page.wait_for_selector("body[data-ready='1']")
                start = time.perf_counter()
                page.click("#compare")
                page.wait_for_selector("body[data-compare]", timeout=MINUTES)
                found["compare loaded"].append(time.perf_counter() - start)
                frame = page.frame(url=lambda url: "/report/" in url)
                assert frame is not None
                frame.wait_for_selector("body[data-ready='1']")
                found["report first paint"].append(float(frame.evaluate(PAINT)) / 1000)
                ready = frame.evaluate(
                    "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
                )
                found["report drawn"].append(float(ready) / 1000)
                start = time.perf_counter()
                page.click("#plan")
                page.wait_for_selector("body[data-plan]", timeout=MINUTES)
                found["plan drawn"].append(time.perf_counter() - start)
                assert page.locator("tr.action").count() == 500
            found["cli compare --html"].append(
                timed(
                    [*DIRKIT, "compare", "-q", "--html", str(left.parent / "cli.html"), str(left), str(right)]
                )
            )
            found["cli mirror --dry-run"].append(
                timed([*DIRKIT, "mirror", "--dry-run", "--json", str(left), str(right)])
            )
    finally:
        server.shutdown()
        thread.join()
        server.close()
    return found


def main() -> None:
    """Generate the trees, then time the page in Chromium."""
    from benchmarks.html_bench import make_trees

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--trees", type=Path, help="reuse DIR/left and DIR/right made by an earlier run (kept)"
    )
    args = parser.parse_args()
    BENCH_ROOT.mkdir(parents=True, exist_ok=True)
    base = args.trees or Path(tempfile.mkdtemp(dir=BENCH_ROOT))
    try:
        if args.trees is None:
            left, right = make_trees(base, args.paths)
        else:
            left, right = base / "left", base / "right"
        timings = measure(left, right, args.rounds)
        print(f"{args.paths} differing paths, {args.rounds} rounds (median, then each round):")
        for name, values in timings.items():
            rounds = " ".join(f"{value:.2f}" for value in values)
            print(f"  {name:<20} {statistics.median(values):6.2f} s   ({rounds})")
    finally:
        if args.trees is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
