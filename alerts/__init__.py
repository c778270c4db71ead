"""Alerts (issue 12): rules from `[[alerts.rules]]` evaluated after the daemon writes, delivered
through Apprise, every alert stored with its delivery status per target.

Owns: rule evaluation (`rules`), message texts escaped per target format and masked target
labels (`render`), delivery with retries (`deliver`), cooldown, de-duplication and quiet hours
(`evaluate`), and the background thread the daemon pokes after each write (`service`).

May import storage's read side (`storage.read`, and `storage.alert_store` for its own two
tables, whose firing insert is the only write), `config.settings` and `analytics` (the
measures burst and overperformance rules use). Never collectors/ or
dashboard/: the daemon (viralwatch/) wires it in.
"""
