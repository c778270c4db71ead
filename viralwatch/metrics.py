"""Prometheus metrics of the daemon, served by the dashboard at `/metrics` (issue 8).

Collectors stay pure (they import neither prometheus nor storage): the daemon counts requests
with an httpx response hook on the client it builds for each collector, reads the documented
rate-limit headers there for the budget left, and turns each collector's `RunReport` into run
metrics. The refresh backlog (posts due, overdue, lag of the oldest due post) comes from the
database at every heartbeat. Each daemon has its own `CollectorRegistry`: nothing is created at
import time.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from collectors.base import RunReport
from storage.budgets import BudgetStatus
from storage.health import DueStats

# Rate-limit headers platforms send (X, Reddit, Bluesky, Mastodon, GitHub-style APIs).
REMAINING_HEADERS = ("x-ratelimit-remaining", "x-rate-limit-remaining", "ratelimit-remaining")


class Metrics:
    """The daemon's metrics; `registry` is what `/metrics` renders."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "viralwatch_http_requests",
            "HTTP answers by platform and status",
            ["platform", "status"],
            registry=r,
        )
        self.runs = Counter(
            "viralwatch_runs",
            "Collector runs by outcome",
            ["collector", "kind", "status"],
            registry=r,
        )
        self.run_seconds = Histogram(
            "viralwatch_run_duration_seconds",
            "How long collector runs took",
            ["collector", "kind"],
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
            registry=r,
        )
        self.observations = Counter(
            "viralwatch_observations_written",
            "Readings stored, by collector",
            ["collector"],
            registry=r,
        )
        self.budget_left = Gauge(
            "viralwatch_budget_remaining",
            "Requests left in the platform's current rate window, from its headers",
            ["platform"],
            registry=r,
        )
        self.budget_spent = Gauge(
            "viralwatch_budget_spent",
            "Units of a declared budget spent in its current window (stored, all daemons)",
            ["collector", "budget"],
            registry=r,
        )
        self.budget_limit = Gauge(
            "viralwatch_budget_limit",
            "Units a declared budget allows per window",
            ["collector", "budget"],
            registry=r,
        )
        self.posts_due = Gauge(
            "viralwatch_posts_due", "Posts due for a refresh", ["platform"], registry=r
        )
        self.posts_overdue = Gauge(
            "viralwatch_posts_overdue",
            "Posts late by more than one interval",
            ["platform"],
            registry=r,
        )
        self.oldest_due_lag = Gauge(
            "viralwatch_oldest_due_lag_seconds",
            "How long past its due time the longest-waiting post is",
            ["platform"],
            registry=r,
        )
        self.heartbeat = Gauge(
            "viralwatch_heartbeat_timestamp_seconds", "When this daemon last beat", registry=r
        )
        self.spooled = Gauge(
            "viralwatch_spooled_items", "Writes kept in memory during a database outage", registry=r
        )

    def watch_client(self, client: httpx.AsyncClient, platform: str) -> None:
        """Count every answer `client` gets, and read the budget left from its headers."""

        async def on_response(response: httpx.Response) -> None:
            self.requests.labels(platform, str(response.status_code)).inc()
            for header in REMAINING_HEADERS:
                value = response.headers.get(header)
                # A malformed header (a float, a negative, a list) is skipped, not trusted;
                # the first well-formed one wins, as a platform sends only one spelling.
                if value is not None and value.strip().isdigit():
                    self.budget_left.labels(platform).set(int(value))
                    break

        client.event_hooks.setdefault("response", []).append(on_response)

    def record_run(self, report: RunReport) -> None:
        self.runs.labels(report.collector, report.kind, report.status).inc()
        if report.finished_at is not None:
            seconds = (report.finished_at - report.started_at).total_seconds()
            self.run_seconds.labels(report.collector, report.kind).observe(max(0.0, seconds))
        self.observations.labels(report.collector).inc(report.observations_written)

    def record_budgets(self, statuses: Sequence[BudgetStatus]) -> None:
        for status in statuses:
            self.budget_spent.labels(status.collector, status.budget).set(status.spent)
            self.budget_limit.labels(status.collector, status.budget).set(status.limit)

    def record_backlog(self, stats: Sequence[DueStats]) -> None:
        for row in stats:
            self.posts_due.labels(row.platform).set(row.due)
            self.posts_overdue.labels(row.platform).set(row.overdue)
            self.oldest_due_lag.labels(row.platform).set(row.oldest_lag_seconds)
