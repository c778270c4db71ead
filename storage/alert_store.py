"""The alerts tables (issue 12): firing an alert once, its deliveries, and listing them.

Additive to the core writer: `write.py` keeps the collected data, this module the alerts about
it. Firing is an INSERT ... ON CONFLICT DO NOTHING on (rule, video, dedupe key), so daemons
sharing one PostgreSQL database that evaluate the same rule at once store (and send) it once.
Targets are stored by name and masked label; the Apprise URL itself never reaches the database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, update

from storage.db import conflict_insert
from storage.models import Alert, AlertDelivery, CollectorRun, Post, PostVideo, TrackedVideo
from storage.rows import row_mapper, values_of

# Run statuses that mean a collector is not collecting (auth_failed pauses it with backoff).
UNHEALTHY_STATUSES = ("failed", "rate_limited", "auth_failed")
DELIVERY_STATUSES = ("pending", "sent", "failed")


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    alert_id: int
    target_name: str
    target: str
    status: str
    attempts: int
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    rule: str
    kind: str
    video: str
    fired_at: datetime
    title: str
    payload: dict[str, Any]
    deliveries: list[DeliveryRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts a listing covers; every field optional."""

    rule: str | None = None
    video: str | None = None
    kind: str | None = None
    status: str | None = None
    """Only alerts with a delivery in this status (pending, sent, failed)."""
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewAlert:
    rule: str
    kind: str
    video: str
    dedupe_key: str
    fired_at: datetime
    title: str
    payload: dict[str, Any]
    targets: Sequence[tuple[str, str]]
    """(name, masked label) per target."""


@dataclass(frozen=True, slots=True)
class UnhealthyCollector:
    """A collector whose runs have not been ok since `since` (its first bad run after the last
    good one)."""

    collector: str
    status: str
    since: datetime
    message: str | None


@dataclass(frozen=True, slots=True)
class RecentPost:
    """A post first seen lately, with its author's follower count and its language where a
    collector stored them (`extra["author_followers"]`, `extra["language"]`)."""

    id: int
    platform: str
    author: str | None
    url: str | None
    text: str | None
    followers: int | None
    language: str | None = None


def posts_first_seen_since(engine: Engine, video: str, since: datetime) -> list[RecentPost]:
    """Posts of `video` first seen at or after `since`, oldest first."""
    query = (
        select(Post.id, Post.platform, Post.author, Post.url, Post.text, Post.extra)
        .join(PostVideo, PostVideo.post_id == Post.id)
        .join(TrackedVideo, TrackedVideo.id == PostVideo.video_id)
        .where(TrackedVideo.slug == video, Post.first_seen_at >= since)
        .order_by(Post.first_seen_at, Post.id)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    posts = []
    for r in rows:
        extra = r.extra or {}
        followers = extra.get("author_followers")
        count = int(followers) if isinstance(followers, int | float) else None
        language = extra.get("language")
        # A BCP 47 tag is at most 35 characters; anything longer is not a language code.
        code = language.strip().lower()[:35] if isinstance(language, str) else None
        code = code or None
        posts.append(RecentPost(r.id, r.platform, r.author, r.url, r.text, count, code))
    return posts


def fire_alert(engine: Engine, alert: NewAlert) -> int | None:
    """Store `alert` with a pending delivery per target; its id, or None when an alert with the
    same rule, video and dedupe key exists (another evaluator fired it first)."""
    with engine.begin() as conn:
        statement = (
            conflict_insert(conn, Alert)
            .values(values_of(alert, *_ALERT_FIELDS, video_slug="video"))
            # Another evaluator that fired first leaves RETURNING empty: None, not an error.
            .on_conflict_do_nothing(index_elements=["rule", "video_slug", "dedupe_key"])
            .returning(Alert.id)
        )
        alert_id = conn.execute(statement).scalar_one_or_none()
        if alert_id is None:
            return None
        if alert.targets:
            conn.execute(
                conflict_insert(conn, AlertDelivery),
                [
                    {
                        "alert_id": alert_id,
                        "target_name": name,
                        "target": label,
                        "status": "pending",
                        "attempts": 0,
                    }
                    for name, label in alert.targets
                ],
            )
        return int(alert_id)


def record_attempt(
    engine: Engine,
    delivery_id: int,
    at: datetime,
    *,
    is_sent: bool,
    is_last: bool,
    error: str | None = None,
) -> None:
    """Count one delivery attempt: sent, failed (when it was the last try) or still pending."""
    status = "sent" if is_sent else "failed" if is_last else "pending"
    with engine.begin() as conn:
        conn.execute(
            update(AlertDelivery)
            .where(AlertDelivery.id == delivery_id)
            .values(
                attempts=AlertDelivery.attempts + 1,
                last_attempt_at=at,
                status=status,
                delivered_at=at if is_sent else None,
                # A retry that gets through clears the message of the attempt that failed.
                error=None if is_sent else error,
            )
        )


def latest_alert(engine: Engine, rule: str, video: str) -> AlertRow | None:
    """The newest alert of `rule` about `video`, or None."""
    query = (
        select(Alert.__table__)
        .where(Alert.rule == rule, Alert.video_slug == video)
        .order_by(Alert.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return _alert_row(row) if row is not None else None


def alerted_subjects(engine: Engine, rule: str, video: str) -> set[str]:
    """Every subject (platform, post, account, collector) earlier alerts of `rule` about `video`
    reported, from their payloads."""
    query = select(Alert.payload).where(Alert.rule == rule, Alert.video_slug == video)
    with engine.connect() as conn:
        return {
            str(subject)
            for payload in conn.execute(query).scalars()
            for subject in payload.get("subjects", [])
        }


def list_alerts(engine: Engine, flt: AlertFilter, *, limit: int = 100) -> list[AlertRow]:
    """Alerts matching `flt`, newest first, each with its deliveries (by target name)."""
    query = select(Alert.__table__).order_by(Alert.fired_at.desc(), Alert.id.desc()).limit(limit)
    if flt.rule:
        query = query.where(Alert.rule == flt.rule)
    if flt.video:
        query = query.where(Alert.video_slug == flt.video)
    if flt.kind:
        query = query.where(Alert.kind == flt.kind)
    if flt.since is not None:
        query = query.where(Alert.fired_at >= flt.since)
    if flt.until is not None:
        query = query.where(Alert.fired_at < flt.until)
    if flt.status:
        with_status = select(AlertDelivery.alert_id).where(AlertDelivery.status == flt.status)
        query = query.where(Alert.id.in_(with_status))
    # Deliveries come in a second query, not a join: an alert with three targets would come
    # back three times and the LIMIT would count rows, not alerts.
    with engine.connect() as conn:
        alerts = [_alert_row(r) for r in conn.execute(query)]
        ids = [a.id for a in alerts]
        deliveries: dict[int, list[DeliveryRow]] = {}
        if ids:
            rows = conn.execute(
                select(AlertDelivery.__table__)
                .where(AlertDelivery.alert_id.in_(ids))
                .order_by(AlertDelivery.target_name)
            )
            for d in rows:
                deliveries.setdefault(d.alert_id, []).append(_delivery_row(d))
    for alert in alerts:
        alert.deliveries.extend(deliveries.get(alert.id, []))
    return alerts


def alert_deliveries(engine: Engine, alert_id: int) -> list[DeliveryRow]:
    """The deliveries of one alert, by target name."""
    query = (
        select(AlertDelivery.__table__)
        .where(AlertDelivery.alert_id == alert_id)
        .order_by(AlertDelivery.target_name)
    )
    with engine.connect() as conn:
        return [_delivery_row(d) for d in conn.execute(query)]


def unhealthy_collectors(engine: Engine) -> list[UnhealthyCollector]:
    """Collectors whose latest run is failed, rate-limited or paused, with when that began."""
    # Run ids grow with time, so "since the last good run" is an id comparison. A disabled
    # collector was switched off on purpose: that is not an outage.
    last_ok = (
        select(CollectorRun.collector, func.max(CollectorRun.id).label("ok_id"))
        .where(CollectorRun.status.in_(("ok", "disabled")))
        .group_by(CollectorRun.collector)
        .subquery()
    )
    bad = (
        select(
            CollectorRun.collector,
            func.min(CollectorRun.id).label("first_id"),
            func.max(CollectorRun.id).label("last_id"),
        )
        .outerjoin(last_ok, last_ok.c.collector == CollectorRun.collector)
        .where(func.coalesce(last_ok.c.ok_id, 0) < CollectorRun.id)
        .group_by(CollectorRun.collector)
        .subquery()
    )
    first = CollectorRun.__table__.alias("first_run")
    last = CollectorRun.__table__.alias("last_run")
    query = (
        select(bad.c.collector, last.c.status, first.c.started_at, last.c.error_message)
        .join(first, first.c.id == bad.c.first_id)
        .join(last, last.c.id == bad.c.last_id)
        .order_by(bad.c.collector)
    )
    with engine.connect() as conn:
        return [
            UnhealthyCollector(r.collector, r.status, r.started_at, r.error_message)
            for r in conn.execute(query)
            if r.status in UNHEALTHY_STATUSES
        ]


_ALERT_FIELDS = ("rule", "kind", "dedupe_key", "fired_at", "title", "payload")
_alert_row = row_mapper(AlertRow, video="video_slug")
_delivery_row = row_mapper(DeliveryRow)


# --- renderings shared by the CLI, the JSON API and CSV ----------------------------------------

ALERTS_HEADER = (
    "alert_id",
    "fired_at",
    "rule",
    "kind",
    "video",
    "title",
    "link",
    "target",
    "status",
    "attempts",
    "last_attempt_at",
    "delivered_at",
    "error",
)


def alert_rows(alerts: Sequence[AlertRow]) -> Iterator[tuple[Any, ...]]:
    """One CSV row per alert and target (an alert without targets gets one row), in
    ALERTS_HEADER order. Targets appear as their masked labels."""
    for alert in alerts:
        head = (alert.id, alert.fired_at, alert.rule, alert.kind, alert.video, alert.title)
        link = alert.payload.get("link")
        if not alert.deliveries:
            yield (*head, link, None, None, None, None, None, None)
        for d in alert.deliveries:
            yield (
                *head,
                link,
                d.target,
                d.status,
                d.attempts,
                d.last_attempt_at,
                d.delivered_at,
                d.error,
            )


def alert_json(alert: AlertRow) -> dict[str, Any]:
    """An alert as the JSON API shows it: payload and deliveries, targets masked."""
    return {
        "id": alert.id,
        "rule": alert.rule,
        "kind": alert.kind,
        "video": alert.video,
        "fired_at": alert.fired_at,
        "title": alert.title,
        "payload": alert.payload,
        "deliveries": [
            {
                "target": d.target,
                "status": d.status,
                "attempts": d.attempts,
                "last_attempt_at": d.last_attempt_at,
                "delivered_at": d.delivered_at,
                "error": d.error,
            }
            for d in alert.deliveries
        ],
    }
