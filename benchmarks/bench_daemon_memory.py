"""The daemon's resident memory with 100,000 tracked posts (issue 14: 201 MB, 1.2 KB a post).

`viralwatch run`, dashboard included, on a database of POSTS tracked posts (a third each on
Mastodon, Reddit and Bluesky), its three collectors pointed at bench_refresh's loopback server
and every other collector off, so nothing leaves the machine. It runs until every post has been
read once or SECONDS have passed (the declared budgets pace it: Mastodon's 300 requests per five
minutes read 6,000 posts), its memory sampled from /proc; the figure is its peak resident
memory (VmHWM) against the same daemon on a database with no posts, run right after it.

VIRALWATCH_BENCH_DAEMON_POSTS (100000) and VIRALWATCH_BENCH_DAEMON_SECONDS (300) set the size and
the longest run. Run alone with `python -m benchmarks.bench_daemon_memory`.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.bench_memory import free_port
from benchmarks.bench_refresh import post_ids, post_refs
from benchmarks.bench_startup import viralwatch_command
from benchmarks.loopback_platforms import PLATFORMS, FastPlatforms
from collectors.base import utc_now
from collectors.registry import collector_classes
from storage.db import make_engine, upgrade
from storage.write import StorageSink, VideoInput

POSTS = int(os.environ.get("VIRALWATCH_BENCH_DAEMON_POSTS", "100000"))
SECONDS = float(os.environ.get("VIRALWATCH_BENCH_DAEMON_SECONDS", "300"))
# Seconds of running after the last post is read (the pass's tail: record_run, release), and
# at least, so the daemon with no posts has started everything the other did.
SETTLE_SECONDS = 5.0
MIN_SECONDS = 20.0


def _database(path: Path, posts: int, url: str) -> None:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    sink = StorageSink(engine, utc_now)
    sink.add_video(VideoInput("bench", "bench"))
    for platform in PLATFORMS:
        refs = post_refs(platform, post_ids(platform, posts // len(PLATFORMS)), url)
        for start in range(0, len(refs), 10_000):
            sink.record_posts("bench", refs[start : start + 10_000])
    engine.dispose()


def _config(path: Path, database: Path, url: str) -> None:
    """Mastodon, Reddit and Bluesky at the loopback server, due posts looked for every 5 s;
    passes of the default size (schedule.max_posts_per_pass)."""
    sections = [
        f'[storage]\nurl = "sqlite:///{database}"\n',
        f'[dashboard]\nhost = "127.0.0.1"\nport = {free_port()}\n',
        "[schedule]\ntick_seconds = 5\n",
        f'[collectors.mastodon]\ninstances = ["{url}/mastodon"]\n',
        f'[collectors.reddit]\nbase_url = "{url}/reddit"\nauth_url = "{url}/reddit"\n'
        'client_id = "bench"\nclient_secret = "bench"\n',
        f'[collectors.bluesky]\nbase_url = "{url}/bluesky"\n',
    ]
    sections += [
        f"[collectors.{name}]\nenabled = false\n"
        for name in collector_classes()
        if name not in PLATFORMS
    ]
    path.write_text("\n".join(sections))


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of `pid` in KiB."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {
        k: int(v.split()[0])
        for k, v in (line.split(":", 1) for line in lines)
        if k in ("VmRSS", "VmHWM")
    }


def _read_posts(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        query = "SELECT COUNT(*) FROM posts WHERE latest_observed_at IS NOT NULL"
        return int(conn.execute(query).fetchone()[0])


def measure(posts: int, tmp: Path, url: str) -> dict[str, float]:
    """Run the daemon on `posts` tracked posts until each was read (or SECONDS passed)."""
    database, config = tmp / f"daemon-{posts}.db", tmp / f"daemon-{posts}.toml"
    _database(database, posts, url)
    _config(config, database, url)
    log = (tmp / f"daemon-{posts}.log").open("w")
    # Our own script and config, never outside input.
    daemon = subprocess.Popen(  # noqa: S603
        [*viralwatch_command(), "--config", str(config), "run"], stdout=log, stderr=log
    )
    began, peak, read, done_at = time.perf_counter(), 0, 0, None
    try:
        while time.perf_counter() - began < SECONDS and daemon.poll() is None:
            time.sleep(1)  # a sampling period, not a synchronisation
            peak = max(peak, _status(daemon.pid).get("VmHWM", 0))
            read = _read_posts(database)
            if done_at is None and read >= posts:
                done_at = time.perf_counter()
            settled = done_at is not None and time.perf_counter() - done_at >= SETTLE_SECONDS
            if settled and time.perf_counter() - began >= MIN_SECONDS:
                break
        peak = max(peak, _status(daemon.pid).get("VmHWM", 0))
    finally:
        daemon.send_signal(signal.SIGINT)
        daemon.wait(30)
        log.close()
    return {"peak_mb": peak / 1024, "posts_read": read, "seconds": time.perf_counter() - began}


def run() -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp, FastPlatforms() as server:
        tracked = measure(POSTS, Path(tmp), server.url)
        empty = measure(0, Path(tmp), server.url)
    return {
        f"daemon memory with {POSTS:,} tracked posts": {
            "peak resident MB (target < 200)": tracked["peak_mb"],
            "posts read during the run": tracked["posts_read"],
            "seconds run": tracked["seconds"],
            "peak resident MB with no posts": empty["peak_mb"],
            "bytes per tracked post over no posts": (tracked["peak_mb"] - empty["peak_mb"])
            * 1024
            * 1024
            / max(POSTS, 1),
        }
    }


if __name__ == "__main__":
    for name, figures in run().items():
        print(f"{name}:")
        for key, value in figures.items():
            print(f"  {key:<42} {value:,.1f}")
