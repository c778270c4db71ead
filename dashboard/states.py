"""Collector-state labels: what the overview says about each collector, from its runs and
settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from config.settings import Settings
from dashboard.platforms import NO_PLATFORMS, Platforms
from storage.health import DaemonStatus
from storage.read import RunRow

NOT_RUNNING = ("off", "disabled")


@dataclass(frozen=True, slots=True)
class CollectorState:
    """What the overview says about one collector."""

    name: str
    state: str
    """ok, idle, failing, rate_limited, auth_failed, disabled, off, never_run, daemon_down."""
    label: str
    last_run_at: datetime | None
    error_message: str | None
    retry_at: datetime | None


def _worse(run: RunRow, than: RunRow) -> bool:
    """Whether `run` should stand for its collector rather than `than`."""
    if (run.status == "ok") != (than.status == "ok"):
        return run.status != "ok"
    return run.started_at > than.started_at


def collector_states(
    settings: Settings,
    runs: Sequence[RunRow],
    now: datetime,
    catalog: Platforms = NO_PLATFORMS,
    daemon: DaemonStatus | None = None,
) -> list[CollectorState]:
    """Each configured collector's state from its latest run and its settings; with `daemon`,
    a dead or stuck daemon overrides the last run's word (issue 13: a killed daemon writes no
    runs, so its collectors would go on saying "ok")."""
    # A collector is as healthy as the worse of its latest discovery and refresh runs: a
    # refresh that works must not hide a discovery that keeps failing.
    latest: dict[str, RunRow] = {}
    for run in runs:
        current = latest.get(run.collector)
        if current is None or _worse(run, current):
            latest[run.collector] = run
    sections = settings.collectors.sections()
    states = []
    # Runs too: a collector no longer registered still shows what it last did.
    for name in catalog.order([*sections, *latest]):
        run = latest.get(name)
        section = sections.get(name)
        missing = section.missing_credentials() if section is not None else []
        idle = section.idle_reason() if section is not None else None
        if section is not None and not section.enabled:
            state, label = "off", "off in config"
        elif run is None and missing:
            state, label = "disabled", f"disabled: missing credentials ({', '.join(missing)})"
        elif idle and (run is None or run.status == "ok"):
            # Running fine over an empty list is not "ok": there is nothing it can find.
            state, label = "idle", f"idle: {idle}"
        elif run is None:
            state, label = "never_run", "not run yet"
        elif run.status == "ok":
            # An ok run's message is the collector's notice: it runs in a reduced mode.
            state, label = "ok", "ok (limited)" if run.error_message else "ok"
        elif run.status == "disabled":
            state, label = "disabled", "disabled: missing credentials"
        elif run.status == "rate_limited":
            state = "rate_limited"
            if run.retry_at is not None and run.retry_at > now:
                label = f"rate-limited until {run.retry_at:%Y-%m-%d %H:%M} UTC"
            else:  # the wait is over; the next run has not happened yet
                label = "rate-limited"
        elif run.status == "auth_failed":
            state, label = "auth_failed", "credentials rejected"
        else:
            state, label = "failing", "failing"
        # Only once a daemon has beaten here: `collect --once` from cron has none.
        is_down = daemon is not None and not daemon.is_running and daemon.since is not None
        if is_down and daemon and daemon.since and state not in ("off", "disabled"):
            state = "daemon_down"
            label = f"daemon not running since {daemon.since:%Y-%m-%d %H:%M} UTC"
        states.append(
            CollectorState(
                name=name,
                state=state,
                label=label,
                # An off or disabled collector does not run: an old run's time would mislead.
                last_run_at=run.started_at if run and state not in NOT_RUNNING else None,
                error_message=run.error_message if run else None,
                retry_at=run.retry_at if run else None,
            )
        )
    return states


# How the empty-state note groups the states, in the order it names them.
NOTE_GROUPS = {
    "ok": "collecting",
    "never_run": "waiting for their first run",
    "idle": "idle (nothing configured to read)",
    "failing": "failing",
    "rate_limited": "rate-limited",
    "auth_failed": "with rejected credentials",
    "disabled": "disabled",
    "off": "off",
}


def activity_note(states: Sequence[CollectorState]) -> str:
    """One line on what the collectors are doing, for a chart with no readings yet."""
    counts: dict[str, int] = {}
    for state in states:
        counts[state.state] = counts.get(state.state, 0) + 1
    parts = [f"{counts[s]} {what}" for s, what in NOTE_GROUPS.items() if counts.get(s)]
    if not parts:
        return "No collector is configured."
    return "Collectors: " + ", ".join(parts) + ". Readings appear after their next run."
