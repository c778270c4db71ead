"""Run every benchmark and print ratios; results also land in bench-results/latest.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks import (
    bench_alerts,
    bench_daemon_memory,
    bench_dashboard,
    bench_discovery,
    bench_memory,
    bench_parsers,
    bench_poll,
    bench_refresh,
    bench_schedule,
    bench_startup,
    bench_storage,
)
from benchmarks.benchmarks_doc import print_figures, write_benchmarks

# Start-up first, on a quiet machine; memory last, as it runs a demo for minutes.
SUITES = [
    bench_startup,
    bench_storage,
    bench_poll,
    bench_refresh,
    bench_schedule,
    bench_discovery,
    bench_dashboard,
    bench_parsers,
    bench_alerts,
    bench_memory,
    bench_daemon_memory,
]


def main() -> int:
    results: dict[str, dict[str, float]] = {}
    for suite in SUITES:
        results.update(suite.run())
    print_figures(results)
    # Raw figures beside the generated page, for comparing two runs by script.
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    write_benchmarks(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
