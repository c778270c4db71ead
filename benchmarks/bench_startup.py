"""Start-up: `viralwatch --help` against `python -c pass`, both run in this process's Python.

Issue 14's target is a ratio of at most 3: the CLI imports only click before it parses its
arguments. The two commands alternate, so load on the machine hits both alike; the figure is the
ratio of the medians. `viralwatch collectors` (settings and the collector registry, no database)
is shown as well, for scale.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 21


def viralwatch_command() -> list[str]:
    """The installed `viralwatch` script next to this Python, as a user runs it."""
    script = Path(sys.executable).parent / "viralwatch"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from viralwatch.cli import main; main()"]


def _environment() -> dict[str, str]:
    """This environment, but writing bytecode as a user's shell does: with
    PYTHONDONTWRITEBYTECODE set (as in some CI and sandboxes) every run compiled cli.py afresh,
    which an installed program never does (pip compiles it; the first run caches it)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _seconds(command: list[str]) -> float:
    began = time.perf_counter()
    # Our own interpreter and script, never outside input.
    subprocess.run(  # noqa: S603
        command,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_environment(),
    )
    return time.perf_counter() - began


def measure(runs: int = RUNS) -> dict[str, float]:
    """Median wall time (ms) of each command over `runs` alternating runs, and the ratios."""
    with tempfile.TemporaryDirectory() as tmp:
        empty_config = Path(tmp) / "viralwatch.toml"
        empty_config.write_text("")
        return _measure(runs, empty_config)


def _measure(runs: int, config: Path) -> dict[str, float]:
    commands = {
        "python_pass": [sys.executable, "-c", "pass"],
        "help": [*viralwatch_command(), "--help"],
        "collectors": [*viralwatch_command(), "--config", str(config), "collectors"],
    }
    for command in commands.values():
        _seconds(command)  # warm the file cache and the bytecode cache
    timings: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            timings[name].append(_seconds(command))
    medians = {name: statistics.median(values) * 1000 for name, values in timings.items()}
    return {
        "python_pass_ms": medians["python_pass"],
        "help_ms": medians["help"],
        "help_ratio_to_python_pass": medians["help"] / medians["python_pass"],
        "collectors_ms": medians["collectors"],
        "collectors_ratio_to_python_pass": medians["collectors"] / medians["python_pass"],
    }


def run() -> dict[str, dict[str, float]]:
    return {"startup": measure()}


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key:<36} {value:,.2f}")
