"""Alerts in the JSON API and as CSV (issue 12), included by `create_app` like every area.

It sits behind the app's token middleware like every other /api/ and /export/ path. Targets are
listed by their masked labels only; the Apprise URLs never reach the database.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine

from dashboard import export
from dashboard.params import parse_time
from storage import alert_store

Limit = Annotated[int, Query(ge=1, le=1000, description="Newest alerts returned")]
# A NUL byte cannot be stored in (or compared with) a PostgreSQL text column: refused as a 400.
Name = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")]
# Text, not datetime: the page's filter form sends "" for an empty field and zone-less times,
# which mean UTC (parse_time: one line naming the parameter when it is not a time).
Moment = Annotated[
    str | None, Query(max_length=40, description="ISO 8601, e.g. 2026-03-01T12:00 (UTC)")
]


def alert_filter(
    rule: Name = None,
    video: Name = None,
    kind: Name = None,
    status: Name = None,
    since: Moment = None,
    until: Moment = None,
) -> alert_store.AlertFilter:
    """One filter for the page, the API and the CSV: rule, video, kind, delivery status,
    fired_at range (empty values mean no filter)."""
    return alert_store.AlertFilter(
        rule or None,
        video or None,
        kind or None,
        status or None,
        parse_time("since", since) if since else None,
        parse_time("until", until) if until else None,
    )


Filter = Annotated[alert_store.AlertFilter, Depends(alert_filter)]


def alerts_router(engine: Engine) -> APIRouter:
    """GET /api/alerts and /export/alerts.csv on `engine`."""
    router = APIRouter()

    @router.get("/api/alerts", tags=["api"])
    def api_alerts(flt: Filter, limit: Limit = 100) -> dict[str, Any]:
        """Stored alerts, newest first, with their delivery status per target."""
        alerts = alert_store.list_alerts(engine, flt, limit=limit)
        return {"alerts": [alert_store.alert_json(a) for a in alerts]}

    @router.get("/export/alerts.csv", tags=["csv"])
    def csv_alerts(flt: Filter, limit: Limit = 1000) -> StreamingResponse:
        """The same alerts as CSV: one row per alert and target."""
        alerts = alert_store.list_alerts(engine, flt, limit=limit)
        return StreamingResponse(
            export.stream_csv(alert_store.ALERTS_HEADER, alert_store.alert_rows(alerts)),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="alerts.csv"'},
        )

    return router
