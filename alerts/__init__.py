"""Alerts (issue 12): rules from `[[alerts.rules]]` evaluated after the daemon writes, delivered
through Apprise, every alert stored with its delivery status per target.

Owns: rule evaluation (`rules`), message texts escaped per target format and masked target
labels (`render`), delivery with retries (`deliver`), cooldown, de-duplication and quiet hours
(`evaluate`), and the background thread the daemon pokes after each write (`service`).

Also the measures behind the `burst` and `overperform` rules (`measures`) and what a rule finds
(`finding`).

May import storage's read side (`storage.read`, `storage.measures_read`, `storage.alert_rules`
for the rules set on the dashboard, and `storage.alert_store` for its own two tables, whose
firing insert is the only write), `analytics` and `config.settings`. Never collectors/ or
dashboard/: the daemon (viralwatch/) wires it in.
"""
