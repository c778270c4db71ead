"""Evaluate every rule for every video and fire what is due: cooldown, de-duplication, quiet
hours, one message per rule and video however many posts or platforms it names.

Firing inserts the alert with a dedupe key derived from the previous alert of the same rule and
video ("after:<its id>", or "period:<start>" for digests). Two evaluators that read the same
previous alert compute the same key, and the unique index lets only the first insert through.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import Engine

from alerts import rules
from alerts.deliver import Clock, Target, targets_from
from config.settings import AlertRuleSettings, AlertsSettings
from storage import alert_rules, alert_store, read

logger = logging.getLogger("viralwatch.alerts")

OVERPERFORM_EVERY = timedelta(minutes=5)
"""The least time between two evaluations of one overperform rule for one video."""


@dataclass(frozen=True, slots=True)
class Fired:
    """An alert this evaluator stored (and so must deliver)."""

    alert_id: int
    payload: dict[str, Any]
    targets: list[Target]


def in_quiet_hours(now: datetime, quiet_hours: str, zone: ZoneInfo) -> bool:
    """Whether `now` falls in `quiet_hours` ("HH:MM-HH:MM" in `zone`, may span midnight)."""
    if not quiet_hours:
        return False
    start, end = (time.fromisoformat(part) for part in quiet_hours.split("-"))
    local = now.astimezone(zone).time()
    # "22:00-07:00" spans midnight: quiet after the start or before the end, not between.
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def active_rules(
    engine: Engine, settings: AlertsSettings, warned: set[str] | None = None
) -> list[AlertRuleSettings]:
    """The config file's rules, then the dashboard's. A stored rule is skipped (with one warning
    per name in `warned`) when the config now uses its name or it no longer validates, e.g. it
    names a target the config dropped."""
    found = list(settings.rules)
    names = {r.name for r in found}
    for stored in alert_rules.list_rules(engine):
        problem = None
        try:
            rule = AlertRuleSettings.model_validate(stored.definition)
        except ValidationError as err:
            problem = f"{err.error_count()} invalid key(s)"
        else:
            if rule.name in names:
                problem = "the config file has a rule of that name"
            elif unknown := [t for t in rule.targets if t not in settings.targets]:
                problem = f"target {unknown[0]!r} is not in [alerts.targets]"
        if problem is None:
            found.append(rule)
            names.add(rule.name)
        elif warned is None or stored.name not in warned:
            logger.warning("alert rule %s from the dashboard skipped: %s", stored.name, problem)
            if warned is not None:
                warned.add(stored.name)
    return found


class Evaluator:
    """Evaluates `settings.rules` against the database on each `run()`."""

    def __init__(
        self,
        engine: Engine,
        settings: AlertsSettings,
        clock: Clock,
        measures: rules.Measures | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.measures = measures or rules.Measures()
        self.zone = ZoneInfo(settings.timezone)
        self._warned: set[str] = set()
        self._costly_at: dict[tuple[str, str], datetime] = {}

    def run(self) -> list[Fired]:
        """Fire every alert that is due now; the ones this evaluator stored."""
        now = self.clock()
        quiet = in_quiet_hours(now, self.settings.quiet_hours, self.zone)
        active = [v.slug for v in read.list_videos(self.engine) if not v.is_paused]
        fired = []
        for rule in active_rules(self.engine, self.settings, self._warned):
            if quiet and not rule.during_quiet_hours:
                continue
            for video in self._videos(rule, active):
                alert = self._consider(rule, video, now)
                if alert is not None:
                    fired.append(alert)
        return fired

    def test_payload(self, rule: AlertRuleSettings) -> dict[str, Any]:
        """A payload saying this is a test of `rule`, for `viralwatch alerts test`."""
        finding = rules.Finding(headline=f"test message for rule {rule.name} ({rule.kind})")
        return self._payload(rule, rule.video, self.clock(), finding, finding.items)

    @staticmethod
    def _videos(rule: AlertRuleSettings, active: list[str]) -> list[str]:
        if rule.kind in ("health", "budget"):
            return [""]  # about collection, not a video
        if rule.video:
            return [rule.video] if rule.video in active else []
        return active

    def _throttled(self, rule: AlertRuleSettings, video: str, now: datetime) -> bool:
        # An overperform pass costs a peer query per candidate post (about 2 s at 10,000 posts,
        # benchmarks/bench_alerts.py): at most one per rule and video every few minutes.
        if rule.kind != "overperform":
            return False
        last = self._costly_at.get((rule.name, video))
        if last is not None and now - last < OVERPERFORM_EVERY:
            return True
        self._costly_at[(rule.name, video)] = now
        return False

    def _consider(self, rule: AlertRuleSettings, video: str, now: datetime) -> Fired | None:
        previous = alert_store.latest_alert(self.engine, rule.name, video)
        # Digests have no cooldown: they fire once per period, which the period check enforces.
        cooling = previous is not None and now - previous.fired_at < timedelta(
            minutes=rule.cooldown_minutes
        )
        if cooling and rule.kind != "digest":
            return None
        if rule.kind == "digest" and previous is not None:
            start, _end = rules.period_bounds(now, rule.period, self.zone)
            if previous.payload.get("period") == start.isoformat():
                return None  # this period's digest went out: skip its queries
        if self._throttled(rule, video, now):
            return None
        scope = rules.Scope(self.engine, video, now, self.zone)
        finding = rules.evaluate(scope, rule, self.measures)
        if finding is None:
            return None
        items = finding.items
        if finding.once_per_subject:
            # new_account / new_language name each account or language once ever, even after
            # the cooldown: a second alert about the same newcomer is noise.
            seen = alert_store.alerted_subjects(self.engine, rule.name, video)
            items = tuple(item for item in items if item.subject not in seen)
            if not items:
                return None
        # The key names what this alert follows, so two evaluators that read the same previous
        # alert race for one key and the unique index lets exactly one insert through.
        if finding.period_key is not None:
            dedupe_key = f"period:{finding.period_key}"
        else:
            dedupe_key = f"after:{previous.id if previous else 0}"
        payload = self._payload(rule, video, now, finding, items)
        targets = targets_from(self.settings.targets, rule.targets)
        alert_id = alert_store.fire_alert(
            self.engine,
            alert_store.NewAlert(
                rule=rule.name,
                kind=rule.kind,
                video=video,
                dedupe_key=dedupe_key,
                fired_at=now,
                title=payload["headline"],
                payload=payload,
                targets=[(t.name, t.label) for t in targets],
            ),
        )
        if alert_id is None:
            logger.debug("%s: %s already fired by another evaluator", rule.name, video)
            return None
        logger.info("alert %d: %s %s: %s", alert_id, rule.name, video, finding.headline)
        return Fired(alert_id, payload, targets)

    def _payload(
        self,
        rule: AlertRuleSettings,
        video: str,
        now: datetime,
        finding: rules.Finding,
        items: tuple[rules.Item, ...],
    ) -> dict[str, Any]:
        base = self.settings.public_base_url
        return {
            "rule": rule.name,
            "kind": rule.kind,
            "video": video,
            "headline": finding.headline,
            "numbers": finding.numbers,
            "items": [
                {**asdict(item), "link": f"{base}{item.path}" if item.path else None}
                for item in items
            ],
            "subjects": [item.subject for item in items],
            "period": finding.period_key,
            # A machine-readable instant for webhooks, and a form people read in chat messages.
            "fired_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "fired_at_utc": now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "link": f"{base}{finding.path}",
        }
