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
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException

from config.settings import Settings
from dashboard import security
from dashboard.context import HERE, Dashboard, build_templates
from dashboard.errors import BadParameter
from dashboard.platforms import Platforms
from dashboard.routes import api, auth, downloads, manage, ops, pages
from storage.read import Clock
from storage.write import StorageSink

# Answered in JSON, not with an HTML error page.
JSON_PATHS = ("/api/", "/export/", "/live/")


def create_app(
    engine: Engine, settings: Settings, sink: StorageSink, clock: Clock, platforms: Platforms
) -> FastAPI:
    """The dashboard app on `engine`. Raises DashboardConfigError when `settings.dashboard.host`
    is not loopback and no `settings.dashboard.token` is set."""
    secret = settings.dashboard.token
    token = security.required_token(
        settings.dashboard.host, secret.get_secret_value() if secret else None
    )
    dash = Dashboard(engine, settings, sink, clock, platforms, token, build_templates(platforms))
    app = FastAPI(
        title="viralwatch dashboard",
        summary="Follow one piece of footage as it spreads; every number behind the charts.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.dashboard = dash  # what handlers and parameter dependencies read (DashDep)
    auth.install_guard(app, token)

    @app.exception_handler(BadParameter)
    async def bad_parameter(request: Request, err: BadParameter) -> Response:
        if request.url.path.startswith(JSON_PATHS):
            return JSONResponse({"detail": str(err)}, 400)
        context = {"title": "Bad request", "message": str(err)}
        return dash.render(request, "error.html", context, 400)

    # 404s and 403s: JSON where a script asked, an error page where a person did.
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, err: HTTPException) -> Response:
        if request.url.path.startswith((*JSON_PATHS, "/static/")):
            return JSONResponse({"detail": err.detail}, err.status_code, headers=err.headers)
        title = "Not found" if err.status_code == 404 else f"Error {err.status_code}"
        context = {"title": title, "message": err.detail}
        return dash.render(request, "error.html", context, err.status_code)

    for area in (auth, pages, manage, api, downloads, ops):
        app.include_router(area.router)
    # After the plotly.js route (pages), which the mount would otherwise shadow.
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app
