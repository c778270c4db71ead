"""One ASGI app for the whole simulated internet.

Each platform is mounted under its own prefix, so a collector's `base_url` is
`http://127.0.0.1:<port>/<platform>` (federated platforms: `/<platform>/<instance>`), and it
appends the platform's documented paths. `/_sim/…` controls the clock and fault switches.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from simulator import (
    bluesky,
    dailymotion,
    hackernews,
    lemmy,
    mastodon,
    news,
    pages,
    reddit,
    telegram,
    tiktok,
    x,
    youtube,
)
from simulator.faults import serve_fault
from simulator.world import Fault, LoggedRequest, World

# platform name -> factory building that platform's ASGI app on the shared world.
PLATFORM_APPS: dict[str, Callable[[World], ASGIApp]] = {
    "mastodon": mastodon.app,
    "hackernews": hackernews.app,
    "lemmy": lemmy.app,
    "telegram": telegram.app,
    "rss": news.app,
    "pages": pages.app,
    "reddit": reddit.app,
    "youtube": youtube.app,
    "bluesky": bluesky.app,
    "x": x.app,
    "tiktok": tiktok.app,
    "dailymotion": dailymotion.app,
}


class FaultGate:
    """Logs each request and applies the platform's fault switch before the platform answers."""

    def __init__(self, platform: str, world: World, inner: ASGIApp) -> None:
        self.platform, self.world, self.inner = platform, world, inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode()
        self.world.log_request(
            LoggedRequest(
                self.platform,
                scope["method"],
                scope["path"],
                query,
                self.world.now(),
                _credential(scope, query),
            )
        )
        fault = self.world.take_fault(self.platform, f"{scope['path']}?{query}")
        if fault is not None:
            await serve_fault(fault, self.inner, scope, receive, send)
        else:
            await self.inner(scope, receive, send)


def _credential(scope: Scope, query: str) -> str:
    """Whose quota a request spends: its Authorization header, else its `key` parameter."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return str(value.decode("latin-1"))
    match = re.search(r"(?:^|&)key=([^&]*)", query)
    return match.group(1) if match else ""


def build_app(world: World | None = None) -> Starlette:
    """The simulator app over `world` (a fresh default world when None)."""
    world = world or World()

    async def state(request: Request) -> JSONResponse:
        return JSONResponse({"now": world.now().isoformat(), "faults": list(world.faults)})

    async def advance(request: Request) -> JSONResponse:
        seconds = float(request.query_params.get("seconds", "0"))
        return JSONResponse({"now": world.clock.advance(seconds).isoformat()})

    async def fault(request: Request) -> JSONResponse:
        params: dict[str, Any] = dict(request.query_params)
        platform = params.pop("platform")
        kind = params.pop("kind", "")
        if not kind or kind == "none":
            world.set_fault(platform, None)
        else:
            world.set_fault(
                platform,
                Fault(
                    kind=kind,  # type: ignore[arg-type]
                    count=int(params["count"]) if "count" in params else None,
                    retry_after_seconds=int(params.get("retry_after", 30)),
                    delay_seconds=float(params.get("delay", 0)),
                    status=int(params.get("status", 500)),
                    match=params.get("match"),
                    body=params.get("body", ""),
                    size_bytes=int(params.get("size", 0)),
                    retry_header=params.get("retry_header"),
                    mutation=params.get("mutation", "numbers_as_strings"),
                ),
            )
        return JSONResponse({"faults": list(world.faults)})

    routes: list[Any] = [
        Route("/_sim/state", state),
        Route("/_sim/advance", advance, methods=["POST"]),
        Route("/_sim/fault", fault, methods=["POST"]),
    ]
    routes += [
        Mount(f"/{name}", app=FaultGate(name, world, factory(world)))
        for name, factory in PLATFORM_APPS.items()
    ]
    app = Starlette(routes=routes)
    app.state.world = world
    return app
