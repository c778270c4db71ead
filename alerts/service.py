"""The alert thread: the daemon calls `after_write()` after each collector run; evaluation and
delivery happen here, off the event loop, so a slow or failing target never delays collection.

Writes arriving while a pass runs coalesce into one more pass.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Engine

from alerts.deliver import Clock, Deliverer, Sleep, redact_in_logs
from alerts.evaluate import Evaluator
from alerts.rules import Measures
from config.settings import AlertsSettings

logger = logging.getLogger("viralwatch.alerts")


class AlertService:
    """Evaluates the rules and delivers what fires, in its own thread."""

    def __init__(self, evaluator: Evaluator, deliverer: Deliverer) -> None:
        self.evaluator = evaluator
        self.deliverer = deliverer
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.Lock()  # keeps "idle" and "due" consistent across threads
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="viralwatch-alerts", daemon=True)
        self._thread.start()

    def after_write(self) -> None:
        """The daemon's hook after each write: schedule an evaluation pass; returns at once."""
        with self._lock:
            self._idle.clear()
            self._wake.set()

    def run_once(self) -> int:
        """Evaluate and deliver now, in the caller's thread; how many alerts fired."""
        fired = self.evaluator.run()
        for alert in fired:
            self.deliverer.deliver(alert.alert_id, alert.payload, alert.targets)
        return len(fired)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no pass is running or due (for tests and shutdown)."""
        return self._idle.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            self._wake.wait()
            if self._stopping.is_set():
                return
            # Cleared before the pass: a write during it sets the event again, and that write's
            # readings get one more pass instead of being lost.
            self._wake.clear()
            try:
                self.run_once()
            except Exception:  # one bad pass must not end alerting for the daemon's lifetime
                logger.exception("alert evaluation failed; retrying after the next write")
            with self._lock:
                if not self._wake.is_set():
                    self._idle.set()


def build_alert_service(
    engine: Engine,
    settings: AlertsSettings,
    clock: Clock,
    *,
    measures: Measures | None = None,
    sleep: Sleep = time.sleep,
) -> AlertService | None:
    """The service for `settings`, not started; None when alerts are off or nothing could be
    sent (no rule in the config and no target for the dashboard's rules)."""
    if not settings.enabled or not (settings.rules or settings.targets):
        return None
    redact_in_logs(url.get_secret_value() for url in settings.targets.values())
    deliverer = Deliverer(
        engine,
        clock,
        attempts=settings.delivery_attempts,
        backoff_seconds=settings.retry_backoff_seconds,
        sleep=sleep,
    )
    return AlertService(Evaluator(engine, settings, clock, measures), deliverer)
