"""`viralwatch alerts test RULE` and `viralwatch alerts list` (issue 12).

Targets are shown by their masked labels (name, scheme, address-like host), never their URLs.
"""

from __future__ import annotations

from typing import Any

import click

# Mirrors storage.alert_store.DELIVERY_STATUSES (a test keeps them equal): importing storage here
# would load SQLAlchemy and Apprise for `viralwatch --help` (issue 14).
STATUSES = ("pending", "sent", "failed")


@click.group("alerts")
def alerts() -> None:
    """Alert rules: send a test message, list recent alerts."""


@alerts.command("test")
@click.argument("rule")
@click.pass_obj
def alerts_test(obj: Any, rule: str) -> None:
    """Send a test message to every target of RULE (one try each, nothing stored)."""
    from alerts.deliver import Deliverer, redact_in_logs, targets_from
    from alerts.evaluate import Evaluator, active_rules
    from collectors.base import utc_now

    settings = obj.settings.alerts
    engine, _sink = obj.storage()
    rules = {r.name: r for r in active_rules(engine, settings)}
    if rule not in rules:
        known = ", ".join(sorted(rules)) or "none; add [[alerts.rules]] or one on the dashboard"
        raise click.UsageError(f"no alert rule {rule!r}; configured rules: {known}")
    targets = targets_from(settings.targets, rules[rule].targets)
    redact_in_logs(t.url.get_secret_value() for t in targets)
    payload = Evaluator(engine, settings, utc_now).test_payload(rules[rule])
    deliverer = Deliverer(engine, utc_now, attempts=1, backoff_seconds=0)
    failed = []
    for target in targets:
        is_sent = deliverer.send_once(target, payload)
        click.echo(f"{target.label}: {'sent' if is_sent else 'FAILED'}")
        if not is_sent:
            failed.append(target.name)
    if failed:
        raise click.ClickException(
            f"test message not accepted by {', '.join(failed)}; check alerts.targets"
        )


@alerts.command("list")
@click.option("--rule", help="Only this rule")
@click.option("--video", help="Only this video (slug)")
@click.option("--status", type=click.Choice(STATUSES), help="Delivery status")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.pass_obj
def alerts_list(
    obj: Any, rule: str | None, video: str | None, status: str | None, limit: int
) -> None:
    """Show recent alerts, newest first, with their delivery status per target."""
    from storage import alert_store

    engine, _sink = obj.storage()
    flt = alert_store.AlertFilter(rule=rule, video=video, status=status)
    found = alert_store.list_alerts(engine, flt, limit=limit)
    if not found:
        click.echo("no alerts yet")
    for alert in found:
        when = alert.fired_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        click.echo(f"{when}  {alert.rule}  {alert.video or '-'}  {alert.title}")
        for d in alert.deliveries:
            click.echo(f"    {d.target}: {d.status} ({d.attempts} tries)")
