"""Delivery through Apprise: one message per alert and target, retried with backoff.

A target that keeps failing is marked failed after `delivery_attempts` tries; the wait before
try n+1 is `retry_backoff_seconds * 2**(n-1)`, through an injected `sleep` (tests pass their own).
Apprise and urllib3 log request URLs, whose paths and queries hold tokens, at debug level: a
redacting filter on their loggers replaces every fragment of a configured URL with "***".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import apprise
from pydantic import SecretStr
from sqlalchemy import Engine

from alerts.render import FORMATS, mask_target, render
from storage import alert_store

logger = logging.getLogger("viralwatch.alerts")

Sleep = Callable[[float], None]
Clock = Callable[[], datetime]
# send(url, title, body, body_format) -> whether the target accepted it.
Send = Callable[[str, str, str, str], bool]
# Loggers that may print a target's URL (the filter must sit on the logger that emits).
URL_LOGGERS = ("apprise", "urllib3.connectionpool", "requests")
# Shorter URL fragments are not redacted (they would blank out ordinary words).
MIN_SECRET_CHARS = 3


@dataclass(frozen=True, slots=True)
class Target:
    """A named Apprise URL and the label shown for it wherever targets are listed."""

    name: str
    url: SecretStr

    @property
    def label(self) -> str:
        return mask_target(self.name, self.url.get_secret_value())


def targets_from(configured: dict[str, SecretStr], names: Iterable[str]) -> list[Target]:
    return [Target(name, configured[name]) for name in names]


def target_format(url: str) -> str:
    """The body format Apprise's plugin for `url` prefers (text, markdown or html); text when
    Apprise does not know the URL."""
    plugin: Any = apprise.Apprise.instantiate(url)
    if not plugin:
        return "text"
    fmt = plugin.notify_format
    first = fmt[0] if isinstance(fmt, tuple | list) else fmt
    value = str(getattr(first, "value", first))
    return value if value in FORMATS else "text"


def apprise_send(url: str, title: str, body: str, body_format: str) -> bool:
    """Send one message through Apprise; False when the URL is unknown or the target refused."""
    app = apprise.Apprise()
    if not app.add(url):
        return False
    return bool(app.notify(body=body, title=title, body_format=body_format))


class _Redactor(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.fragments: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for fragment in sorted(self.fragments, key=len, reverse=True):
            message = message.replace(fragment, "***")
        record.msg, record.args = message, None
        return True


_REDACTOR = _Redactor()


def redact_in_logs(urls: Iterable[str]) -> None:
    """Keep every fragment of `urls` out of the loggers Apprise and its HTTP stack write to."""
    for url in urls:
        _REDACTOR.fragments.update(f for f in secret_fragments(url) if len(f) >= MIN_SECRET_CHARS)
    for name in URL_LOGGERS:
        target_logger = logging.getLogger(name)
        if _REDACTOR not in target_logger.filters:
            target_logger.addFilter(_REDACTOR)


def secret_fragments(url: str) -> set[str]:
    """The URL and each part of it that may be a secret: user info, host, path segments,
    query values (the scheme and an address-like host stay readable)."""
    fragments = {url}
    try:
        parts = urlsplit(url)
    except ValueError:
        return fragments
    netloc = parts.netloc
    if "@" in netloc:
        userinfo = netloc.rsplit("@", 1)[0]
        fragments.update({userinfo, *userinfo.split(":")})
    fragments.update(s for s in parts.path.split("/") if s)
    fragments.update(v for _, v in parse_qsl(parts.query) if v)
    if "…" in mask_target("", url):
        # Not an address, so likely a token: as written (urlsplit lowercases hostname).
        host = netloc.rsplit("@", 1)[-1]
        fragments.update({host, host.split(":")[0]})
    fragments.add(parts.path)
    return {f for f in fragments if f}


class Deliverer:
    """Delivers stored alerts to their targets and records every attempt."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        attempts: int,
        backoff_seconds: float,
        sleep: Sleep = time.sleep,
        send: Send = apprise_send,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.send = send

    def deliver(self, alert_id: int, payload: dict[str, Any], targets: Sequence[Target]) -> None:
        """Send alert `alert_id` to each of its pending deliveries' targets."""
        by_name = {t.name: t for t in targets}
        for delivery in alert_store.alert_deliveries(self.engine, alert_id):
            target = by_name.get(delivery.target_name)
            if delivery.status != "pending" or target is None:
                continue
            self._deliver_one(alert_id, delivery.id, target, payload)

    def send_once(self, target: Target, payload: dict[str, Any]) -> bool:
        """One try, nothing stored (for `viralwatch alerts test`)."""
        return self._try(target, payload)

    def _deliver_one(
        self, alert_id: int, delivery_id: int, target: Target, payload: dict[str, Any]
    ) -> None:
        for attempt in range(1, self.attempts + 1):
            is_sent = self._try(target, payload)
            is_last = attempt == self.attempts
            error = None if is_sent else f"target refused or unreachable (try {attempt})"
            alert_store.record_attempt(
                self.engine,
                delivery_id,
                self.clock(),
                is_sent=is_sent,
                is_last=is_last,
                error=error,
            )
            if is_sent:
                return
            if not is_last:
                self.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        logger.warning(
            "alert %d: delivery to %s failed after %d tries", alert_id, target.label, self.attempts
        )

    def _try(self, target: Target, payload: dict[str, Any]) -> bool:
        url = target.url.get_secret_value()
        fmt = target_format(url)
        title, body = render(payload, fmt)
        try:
            return self.send(url, title, body, fmt)
        except Exception as err:  # a plugin bug must not stop the other targets
            # The exception text may quote the URL: log its type only.
            logger.error("alert delivery to %s raised %s", target.label, type(err).__name__)
            return False
