"""The dashboard app factory: assembles one router per area (issue 4, issue 15).

`create_app(engine, settings, sink, clock, platforms)` builds the ASGI app; nothing happens at
import time. Pages render with Jinja2 (autoescaped) and embed plotly figures built in charts.py;
each page then refreshes its charts and tables in place from `/live/...` every `refresh_seconds`.

Areas: dashboard/routes/pages.py (HTML and live JSON), api.py (JSON API), downloads.py (CSV),
manage.py (the forms; the one place that writes, through the sink) and auth.py (token, CSRF,
headers). The platforms (order, labels, colours) are handed in by the composition root, which
reads them from the collector registry: the dashboard imports no collector.
"""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException

from config.settings import Settings
from dashboard import openapi, security
from dashboard.alerts_routes import alerts_router
from dashboard.context import HERE, Dashboard, build_templates
from dashboard.errors import BadParameter
from dashboard.platforms import Platforms
from dashboard.routes import alerts, api, auth, downloads, manage, measures, ops, pages
from storage.read import Clock
from storage.write import StorageSink

# Answered in JSON, not with an HTML error page.
JSON_PATHS = ("/api/", "/export/", "/live/")


def create_app(
    engine: Engine, settings: Settings, sink: StorageSink, clock: Clock, platforms: Platforms
) -> FastAPI:
    """The dashboard app on `engine`. Raises DashboardConfigError when `settings.dashboard.host`
    is not loopback and no `settings.dashboard.token` is set."""
    guard = security.Guard(settings.dashboard)
    dash = Dashboard(engine, settings, sink, clock, platforms, guard, build_templates(platforms))
    app = FastAPI(
        title="viralwatch dashboard",
        summary="Follow one piece of footage as it spreads; every number behind the charts.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.dashboard = dash  # what handlers and parameter dependencies read (DashDep)
    openapi.install(app)
    # Host, Origin, token, session and CSRF checks, security headers: every request.
    app.middleware("http")(guard)

    @app.exception_handler(BadParameter)
    async def bad_parameter(request: Request, err: BadParameter) -> Response:
        if request.url.path.startswith(JSON_PATHS):
            return JSONResponse({"detail": str(err)}, 400)
        context = {"title": "Bad request", "message": str(err)}
        return dash.render(request, "error.html", context, 400)

    # FastAPI's own validation: a malformed id is a page that does not exist, a malformed query
    # value a bad request; both with a reason, and an error page (not raw JSON) for a person.
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, err: RequestValidationError) -> Response:
        status, reason = validation_reason(err)
        return await http_error(request, HTTPException(status, reason))

    # 404s and 403s: JSON where a script asked, an error page where a person did.
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> Response:
        if request.url.path.startswith((*JSON_PATHS, "/static/")):
            return JSONResponse({"detail": err.detail}, err.status_code, headers=err.headers)
        title = "Not found" if err.status_code == 404 else f"Error {err.status_code}"
        context = {"title": title, "message": err.detail}
        return dash.render(request, "error.html", context, err.status_code)

    for area in (auth, pages, manage, alerts, api, downloads, measures, ops):
        app.include_router(area.router)
    app.include_router(alerts_router(engine))  # issue 12: stored alerts, JSON and CSV
    # After the plotly.js route (pages), which the mount would otherwise shadow.
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app


def validation_reason(err: RequestValidationError) -> tuple[int, str]:
    """The status and one-line reason for the first thing FastAPI's validation refused."""
    first = err.errors()[0]
    where, name = first["loc"][0], str(first["loc"][-1])
    if where == "path":
        thing = name.removesuffix("_id")
        return 404, f"no {thing} with id {str(first.get('input'))[:40]!r}"
    return 400, f"{name}: {first['msg']}"
