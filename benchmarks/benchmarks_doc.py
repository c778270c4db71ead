"""Write docs/BENCHMARKS.md from one run's figures: machine, versions, medians, min-max, the
baseline of each ratio and the command that measures it (issue 14). Generated, never edited."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "BENCHMARKS.md"
PACKAGES = ("httpx", "orjson", "sniffio", "SQLAlchemy", "aiohttp", "praw", "Mastodon.py", "atproto")
REFRESH_COMMAND = "make bench  (alone: .venv/bin/python -m benchmarks.bench_refresh)"
TARGETS = {"refresh": ">= 0.5", "against PRAW": ">= 3x", "against atproto": ">= 3x"}


def print_figures(results: dict[str, dict[str, float]]) -> None:
    """Each suite's figures on the terminal, one indented line each."""
    for name, figures in results.items():
        print(f"{name}:")
        for key, value in figures.items():
            print(f"  {key:<58} {value:,.3f}")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed (figure skipped)"


def _baseline(figure: str) -> str:
    if figure.startswith("against "):
        return figure.removeprefix("against ").split(",")[0]
    return "hand-written aiohttp + orjson + sqlite3.executemany, same batches and concurrency"


def _target(figure: str) -> str:
    return next((t for prefix, t in TARGETS.items() if figure.startswith(prefix)), "")


def _refresh_rows(results: dict[str, dict[str, float]]) -> list[str]:
    rows = [
        "| figure | viralwatch posts/s, median (min-max) | baseline | baseline posts/s, median "
        "(min-max) | ratio | target | requests a pass | server cores used |",
        "|---|---|---|---|---|---|---|---|",
    ]
    # Every suite's figures arrive here; only refresh figures carry posts/s beside a ratio.
    for name, f in results.items():
        if "ratio" not in f or "viralwatch posts/s" not in f:
            continue
        rows.append(
            f"| {name} | {f['viralwatch posts/s']:,.0f} ({f['viralwatch min posts/s']:,.0f}-"
            f"{f['viralwatch max posts/s']:,.0f}) | {_baseline(name)} | "
            f"{f['baseline posts/s']:,.0f} ({f['baseline min posts/s']:,.0f}-"
            f"{f['baseline max posts/s']:,.0f}) | {f['ratio']:.2f} | {_target(name)} | "
            f"{f['requests per pass']:,.0f} | {f['server cores used']:.2f} |"
        )
    return rows


def _latency_rows(results: dict[str, dict[str, float]]) -> list[str]:
    rows = [
        "| figure | seconds | requests | seconds the quotas allow | ratio | target |",
        "|---|---|---|---|---|---|",
    ]
    rows += [
        f"| {name} | {f['seconds']:,.1f} | {f['requests']:,.0f} | "
        f"{f['seconds the quotas allow']:,.1f} | {f['ratio']:.2f} | <= 2 |"
        for name, f in results.items()
        if "seconds the quotas allow" in f
    ]
    return rows


def _startup_rows(results: dict[str, dict[str, float]]) -> list[str]:
    startup = results.get("startup")
    if not startup:  # `python -m benchmarks.bench_refresh` alone may run without it
        return []
    return [
        "",
        "## Start-up (`benchmarks/bench_startup.py`, medians of 21 alternating runs)",
        "",
        "| figure | viralwatch | baseline | ratio | target |",
        "|---|---|---|---|---|",
        f"| `viralwatch --help` | {startup['help_ms']:,.0f} ms | `python -c pass` "
        f"{startup['python_pass_ms']:,.0f} ms | {startup['help_ratio_to_python_pass']:.2f}x "
        "| <= 3x |",
    ]


def _memory_rows(results: dict[str, dict[str, float]]) -> list[str]:
    memory = results.get("memory")
    if not memory:
        return []
    return [
        "",
        "## Memory over a long demo (`benchmarks/bench_memory.py`)",
        "",
        f"Two `viralwatch demo`s side by side for {memory['seconds'] / 60:.0f} minutes, one "
        f"polled as open tabs poll it ({memory['dashboard_requests']:,.0f} requests), one left "
        "alone as the baseline. Slope: least squares over the second half of the run. "
        "Command: `VIRALWATCH_BENCH_MEMORY_SECONDS=1800 .venv/bin/python -m "
        "benchmarks.bench_memory`.",
        "",
        "| demo | RSS at start | RSS at end | slope, second half | target |",
        "|---|---|---|---|---|",
        f"| polled | {memory['polled_start_mb']:.0f} MB | {memory['polled_end_mb']:.0f} MB | "
        f"{memory['polled_mb_per_min']:+.2f} MB/min | flat |",
        f"| unpolled (baseline) | {memory['idle_start_mb']:.0f} MB | {memory['idle_end_mb']:.0f} "
        f"MB | {memory['idle_mb_per_min']:+.2f} MB/min | flat |",
        f"| polled / unpolled at end | | {memory['end_mb_ratio_polled_to_idle']:.2f} | "
        f"{memory['polled_minus_idle_mb_per_min']:+.2f} MB/min apart | |",
    ]


def _daemon_memory_rows(results: dict[str, dict[str, float]]) -> list[str]:
    rows = [
        f"| {name} | {f['peak resident MB (target < 200)']:,.0f} MB | "
        f"{f['peak resident MB with no posts']:,.0f} MB | "
        f"{f['bytes per tracked post over no posts']:,.0f} | {f['posts read during the run']:,.0f}"
        f" in {f['seconds run']:,.0f} s | < 200 MB |"
        for name, f in results.items()
        if name.startswith("daemon memory")
    ]
    if not rows:
        return []
    return [
        "",
        "## Daemon memory (`benchmarks/bench_daemon_memory.py`)",
        "",
        "`viralwatch run` with its dashboard, on Mastodon, Reddit and Bluesky posts at the "
        "loopback server (every other collector off), until each post was read or the budgets' "
        "time ran out; peak resident memory (VmHWM) against the same daemon with no posts.",
        "",
        "| figure | peak resident | with no posts | bytes per tracked post | posts read | target |",
        "|---|---|---|---|---|---|",
        *rows,
    ]


def write_benchmarks(results: dict[str, dict[str, float]], path: Path = DOC) -> None:
    # Ratios travel between machines, absolute rates do not: the page says where they came from.
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}"
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (benchmarks/benchmarks_doc.py); every ratio is measured against "
        "its baseline in the same run. Benchmarks never fail CI.",
        "",
        f"- when: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine}",
        f"- Python {sys.version.split()[0]}; " + ", ".join(f"{p} {_version(p)}" for p in PACKAGES),
        "",
        "## Refresh (`benchmarks/bench_refresh.py`)",
        "",
        "Over `benchmarks/loopback_platforms.py`: a server in its own process answering each "
        "platform's batch endpoint with pre-rendered bodies (server cores used: its CPU seconds "
        "over the pass's wall time, so it is never the bottleneck). Each pass stores into "
        "SQLite; every like counter moves between passes. Medians and min-max over the runs "
        "(VIRALWATCH_BENCH_RUNS, default 3), after one warm-up pass.",
        f"Command: `{REFRESH_COMMAND}`.",
        "",
        *_refresh_rows(results),
        "",
        "## A pass under 100 ms of latency",
        "",
        "Seconds the quotas allow: each rate window's requests at once, later ones when windows "
        "reset, and no faster than the declared requests in flight (`collectors.base."
        "seconds_allowed`).",
        f"Command: `{REFRESH_COMMAND}`.",
        "",
        *_latency_rows(results),
        *_startup_rows(results),
        *_daemon_memory_rows(results),
        *_memory_rows(results),
        "",
    ]
    path.write_text("\n".join(lines))
