"""Operations: `/healthz` for a supervisor or load balancer, `/metrics` for Prometheus (issue 8).

- `/healthz/live`: the process answers (200).
- `/healthz` (ready): the database answers, its schema is this version's, and a daemon has beaten
  within two of its intervals; 503 with the failing check otherwise. Open without a token (it
  tells nothing but ok or why not).
- `/metrics`: the daemon's registry in Prometheus text format, handed in by the composition root
  as `app.state.metrics_registry` (a dashboard served alone has none and answers its header only).
  Behind the token like the JSON API (Prometheus sends `Authorization: Bearer`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dashboard.context import DashDep
from storage import health

router = APIRouter(include_in_schema=False)


@router.get("/healthz/live")
def live() -> Response:
    return JSONResponse({"status": "live"})


@router.get("/healthz")
def ready(dash: DashDep) -> Response:
    checks = {"database": health.check_database(dash.engine)}
    if checks["database"] == "ok":
        status = health.daemon_status(dash.engine, dash.clock())
        if status.is_running:
            checks["daemon"] = "ok"
        elif status.since is None:
            checks["daemon"] = "no daemon has run"
        else:
            checks["daemon"] = f"not running since {status.since.isoformat()}"
    is_ready = checks.get("daemon") == "ok"
    body = {"status": "ready" if is_ready else "not ready", "checks": checks}
    return JSONResponse(body, 200 if is_ready else 503)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    registry = getattr(request.app.state, "metrics_registry", None)
    body = generate_latest(registry) if registry is not None else b""
    return Response(body, media_type=CONTENT_TYPE_LATEST)
