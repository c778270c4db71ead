"""Alerts in the JSON API and as CSV (issue 12): one router for the integrator to include.

    app.include_router(alerts_router(engine))

It sits behind the app's token middleware like every other /api/ and /export/ path. Targets are
listed by their masked labels only; the Apprise URLs never reach the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine

from dashboard import export
from storage import alert_store

Limit = Annotated[int, Query(ge=1, le=1000, description="Newest alerts returned")]


def alerts_router(engine: Engine) -> APIRouter:
    """GET /api/alerts and /export/alerts.csv, filtered by rule, video, kind, delivery status
    and fired_at range."""
    router = APIRouter()

    def listed(
        rule: str | None,
        video: str | None,
        kind: str | None,
        status: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
    ) -> list[alert_store.AlertRow]:
        flt = alert_store.AlertFilter(rule, video, kind, status, since, until)
        return alert_store.list_alerts(engine, flt, limit=limit)

    @router.get("/api/alerts", tags=["api"])
    def api_alerts(
        rule: str | None = None,
        video: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Limit = 100,
    ) -> dict[str, Any]:
        """Stored alerts, newest first, with their delivery status per target."""
        alerts = listed(rule, video, kind, status, since, until, limit)
        return {"alerts": [alert_store.alert_json(a) for a in alerts]}

    @router.get("/export/alerts.csv", tags=["csv"])
    def csv_alerts(
        rule: str | None = None,
        video: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Limit = 1000,
    ) -> StreamingResponse:
        """The same alerts as CSV: one row per alert and target."""
        alerts = listed(rule, video, kind, status, since, until, limit)
        return StreamingResponse(
            export.stream_csv(alert_store.ALERTS_HEADER, alert_store.alert_rows(alerts)),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="alerts.csv"'},
        )

    return router
