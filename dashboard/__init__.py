"""The dashboard: server-rendered pages, a JSON API and CSV downloads.

Owns the app factory (app.py) and one router per area (routes/), parameter parsing (params.py),
time-grid maths (timegrid.py), series (series.py), gaps (gaps.py), overview and table
view-models (overview.py), collector-state labels (states.py), charts (charts.py), CSV
(export.py), the measures' view-models, charts and API models (measures.py, measure_charts.py,
measures_api.py), the OpenAPI document (openapi.py), host, origin, session and CSRF checks
(security.py), the alert-rule forms (alert_forms.py) and the platform catalog type
(platforms.py), which the composition root fills from the collector registry.

May import: storage.read, storage.measures_read, storage.alert_store, storage.alert_rules (the
alert-rule forms), storage.budgets (budget use), storage.health, storage.write (the sink, for the
manage forms only), analytics (the measures' maths) and config.settings. Never collectors.
"""
