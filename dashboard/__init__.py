"""The dashboard: server-rendered pages, a JSON API and CSV downloads.

Owns the app factory (app.py) and one router per area (routes/), parameter parsing (params.py),
time-grid maths (timegrid.py), series (series.py), gaps (gaps.py), overview and table
view-models (overview.py), collector-state labels (states.py), charts (charts.py), CSV
(export.py) and the platform catalog type (platforms.py), which the composition root fills
from the collector registry.

May import: storage.read, storage.write (the sink, for the manage forms only),
storage.alert_rules (the alert-rule forms) and config.settings. Never collectors.
"""
