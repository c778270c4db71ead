"""Memory over a long demo run: the daemon's RSS with the dashboard polled against unpolled.

Issue 13: a reviewer saw `viralwatch demo` grow from 134 to 180 MB in ten minutes while a browser
tab watched its dashboard. This starts two demos side by side (each on a free port, in its own
temporary folder): one whose dashboard is polled the way open tabs poll it (each page's
`/live/...` URL every `refresh_seconds`, plus a faster reader clicking through the pages and
their time ranges), and one left alone as the baseline, so load on the machine hits both alike.
Every few seconds it samples the resident memory of each daemon and, separately, of its child
processes (from /proc), and reports the slope in MB per minute over the second half of the run,
when start-up and the first charts are behind it.

`VIRALWATCH_BENCH_MEMORY_SECONDS` sets the run's length (default 240 s; the long check whose
figures docs/BENCHMARKS.md gives is 1800).
Run alone with `python -m benchmarks.bench_memory`.
"""

from __future__ import annotations

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.bench_startup import viralwatch_command
from simulator.model import SIM_VIDEO
from viralwatch.demo import demo_settings

DURATION_ENV = "VIRALWATCH_BENCH_MEMORY_SECONDS"
DEFAULT_SECONDS = 240.0
SAMPLE_SECONDS = 5.0
FAST_POLL_SECONDS = 0.5
START_TIMEOUT_SECONDS = 120.0
RANGES = ("1h", "24h", "7d", "all")
_PAGE_DATA = re.compile(r'<script type="application/json" id="page-data">(.*?)</script>', re.S)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    """Resident memory of one process in MB (0 once it has gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) / 1024 if found else 0.0


def child_pids(pid: int) -> list[int]:
    """Every descendant of `pid` (the kernel lists each thread's children separately)."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.extend(int(p) for p in children.read_text().split())
        except OSError:
            continue
    return found + [grandchild for child in found for grandchild in child_pids(child)]


@dataclass
class Samples:
    """(seconds since start, daemon MB, children MB) for one demo."""

    rows: list[tuple[float, float, float]] = field(default_factory=list)

    def take(self, pid: int, at_seconds: float) -> None:
        children = sum(rss_mb(child) for child in child_pids(pid))
        self.rows.append((at_seconds, rss_mb(pid), children))

    def slope_mb_per_min(self, column: int) -> float:
        """Least-squares slope over the second half of the run."""
        half = self.rows[len(self.rows) // 2 :]
        if len(half) < 2:
            return 0.0
        minutes = [row[0] / 60 for row in half]
        values = [row[column] for row in half]
        return statistics.linear_regression(minutes, values).slope


@dataclass
class Demo:
    """One `viralwatch demo` process on its own port and database."""

    process: subprocess.Popen[bytes]
    url: str
    samples: Samples = field(default_factory=Samples)


@contextmanager
def running_demo(folder: Path) -> Iterator[Demo]:
    port = free_port()
    log = (folder / "demo.log").open("wb")
    # Our own interpreter and script; the arguments are a path and a port we chose.
    process = subprocess.Popen(  # noqa: S603
        [*viralwatch_command(), "demo", "--database", str(folder / "demo.db"), "--port", str(port)],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield Demo(process, f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_until_serving(demo: Demo, client: httpx.Client) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if demo.process.poll() is not None:
            raise RuntimeError(f"the demo at {demo.url} exited with {demo.process.returncode}")
        try:
            if client.get("/healthz/live").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the demo at {demo.url} did not answer in {START_TIMEOUT_SECONDS:.0f} s")


def live_url(client: httpx.Client, page: str) -> str | None:
    """The `/live/...` URL the page's script polls (from its page data), as a tab finds it."""
    found = _PAGE_DATA.search(client.get(page).text)
    url = json.loads(found.group(1)).get("live_url") if found else None
    return url if isinstance(url, str) else None


def browsed_pages(client: httpx.Client) -> list[str]:
    """The overview, the demo video and its most viewed post (once one has been found)."""
    slug = SIM_VIDEO["slug"]
    pages = ["/", f"/videos/{slug}"]
    posts = client.get(f"/api/videos/{slug}/posts", params={"limit": 1})
    listed = posts.json().get("posts", []) if posts.status_code == 200 else []
    if listed:
        pages.append(f"/posts/{listed[0]['id']}")
    return pages


class Poller:
    """Threads that poll one demo's dashboard until `stop` is set; `requests` counts answers."""

    def __init__(self, base_url: str, refresh_seconds: float) -> None:
        self.base_url = base_url
        self.refresh_seconds = refresh_seconds
        self.stop = threading.Event()
        self.requests = 0
        self.threads = [
            threading.Thread(target=self._tab, daemon=True),
            threading.Thread(target=self._reader, daemon=True),
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _get(self, client: httpx.Client, url: str) -> None:
        try:
            client.get(url)
            self.requests += 1
        except httpx.HTTPError:
            pass  # a slow answer on a loaded machine is not what this measures

    def _tab(self) -> None:
        """Open tabs: each page once, then its live URL every refresh_seconds."""
        with httpx.Client(base_url=self.base_url, timeout=60) as client:
            urls: list[str] = []
            while not self.stop.is_set():
                if len(urls) < 3:  # the post page appears once the first posts are stored
                    urls = [u for p in browsed_pages(client) if (u := live_url(client, p))]
                for url in urls:
                    self._get(client, url)
                self.stop.wait(self.refresh_seconds)

    def _reader(self) -> None:
        """Someone clicking through the pages and their time ranges, twice a second."""
        with httpx.Client(base_url=self.base_url, timeout=60) as client:
            turn, pages = 0, browsed_pages(client)
            while not self.stop.is_set():
                if turn % 50 == 49:  # pick up the post page once there is one
                    pages = browsed_pages(client)
                page = pages[turn % len(pages)]
                self._get(client, f"{page}?range={RANGES[turn // len(pages) % len(RANGES)]}")
                url = live_url(client, page)
                if url:
                    self._get(client, url)
                turn += 1
                self.stop.wait(FAST_POLL_SECONDS)


def measure(seconds: float) -> dict[str, float]:
    """Slopes (MB/min, second half) of the polled and the idle demo, and their difference."""
    refresh = demo_settings("http://127.0.0.1", Path("demo.db"), "127.0.0.1", 1)
    with ExitStack() as stack:
        folders = [Path(stack.enter_context(tempfile.TemporaryDirectory())) for _ in range(2)]
        polled, idle = (stack.enter_context(running_demo(folder)) for folder in folders)
        for demo in (polled, idle):
            with httpx.Client(base_url=demo.url, timeout=10) as client:
                wait_until_serving(demo, client)
        poller = Poller(polled.url, refresh.dashboard.refresh_seconds)
        poller.start()
        began = time.monotonic()
        try:
            while (elapsed := time.monotonic() - began) < seconds:
                for demo in (polled, idle):
                    demo.samples.take(demo.process.pid, elapsed)
                time.sleep(SAMPLE_SECONDS)  # sampling pace, not synchronisation
        finally:
            poller.join()
    write_samples(polled.samples, idle.samples)
    return summarise(polled.samples, idle.samples, poller.requests, seconds)


def write_samples(polled: Samples, idle: Samples) -> None:
    """Every sample, for a plot: bench-results/memory-samples.csv."""
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    lines = ["seconds,polled_mb,polled_children_mb,idle_mb,idle_children_mb"]
    for (at, p_mb, p_kids), (_, i_mb, i_kids) in zip(polled.rows, idle.rows, strict=True):
        lines.append(f"{at:.1f},{p_mb:.1f},{p_kids:.1f},{i_mb:.1f},{i_kids:.1f}")
    (out / "memory-samples.csv").write_text("\n".join(lines) + "\n")


def summarise(polled: Samples, idle: Samples, requests: int, seconds: float) -> dict[str, float]:
    polled_slope, idle_slope = polled.slope_mb_per_min(1), idle.slope_mb_per_min(1)
    return {
        "seconds": seconds,
        "dashboard_requests": float(requests),
        "polled_start_mb": polled.rows[0][1],
        "polled_end_mb": polled.rows[-1][1],
        "idle_start_mb": idle.rows[0][1],
        "idle_end_mb": idle.rows[-1][1],
        "polled_mb_per_min": polled_slope,
        "idle_mb_per_min": idle_slope,
        "polled_minus_idle_mb_per_min": polled_slope - idle_slope,
        "polled_children_mb_per_min": polled.slope_mb_per_min(2),
        "idle_children_mb_per_min": idle.slope_mb_per_min(2),
        "end_mb_ratio_polled_to_idle": polled.rows[-1][1] / max(idle.rows[-1][1], 1.0),
    }


def run_seconds() -> float:
    return float(os.environ.get(DURATION_ENV, DEFAULT_SECONDS))


def run() -> dict[str, dict[str, float]]:
    return {"memory": measure(run_seconds())}


if __name__ == "__main__":
    for key, value in measure(run_seconds()).items():
        print(f"{key:<36} {value:,.3f}")
    sys.exit(0)
