"""What every route handler shares: the engine and sink, the clock, the platforms, templates,
and the few helpers that turn a result into a response (HTML page, live JSON, API JSON, CSV)."""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from config.settings import Settings
from dashboard import bidi, charts, export, openapi, pages, security
from dashboard.gaps import FAILING, Gap, find_gaps
from dashboard.measures_cache import MeasuresCache
from dashboard.params import View
from dashboard.platforms import Platforms
from dashboard.states import CollectorState, activity_note, collector_states
from storage import health, read
from storage.read import COUNTERS, Clock
from storage.write import StorageSink

HERE = Path(__file__).parent
_HTTP_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
PLURALS = {"reply": "replies", "child": "children"}
RANGE_LABELS = {"1h": "1 h", "24h": "24 h", "7d": "7 days", "all": "All", "custom": "Custom"}
SORT_LABELS = {
    **{counter: counter.capitalize() for counter in COUNTERS},
    "appeared": "Age",
    "platform": "Platform",
    "author": "Author",
    "growth": "Growth",
}


def http_url(url: str | None) -> str | None:
    """The URL when it is an http(s) link (safe to make clickable), else None."""
    # Post URLs come from platforms: only http(s) becomes a link, never javascript: or data:.
    if url and len(url) <= 2048 and _HTTP_URL.match(url.strip()):
        return url.strip()
    return None


def plural(word: str, count: int) -> str:
    """`word` as it reads after `count` ("1 reply", "2 replies")."""
    if count == 1:
        return word
    return PLURALS.get(word, word + "s")


def build_templates(platforms: Platforms) -> Jinja2Templates:
    # StrictUndefined: a context key a template expects but a handler forgot fails the test
    # suite instead of rendering an empty string on the wall screen.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        # Bidi controls in untrusted text are shown as [U+202E], never obeyed (issue 13).
        finalize=bidi.finalize,
    )
    env.filters["as_stored"] = bidi.as_stored
    # "–" for a hidden counter: empty is not zero (README, What the numbers mean).
    env.filters["num"] = lambda v: "–" if v is None else f"{int(v):,}"
    env.filters["signed"] = lambda v: "–" if v is None else f"{int(v):+,}"
    env.filters["iso"] = lambda v: export.iso_utc(v) if v else ""
    env.filters["utc"] = lambda v: f"{v:%Y-%m-%d %H:%M} UTC" if v else "–"
    env.filters["http_url"] = http_url
    env.filters["color"] = platforms.colour
    env.filters["label"] = platforms.label
    env.filters["spark"] = charts.sparkline_points
    env.filters["plural"] = plural
    env.globals["range_labels"] = RANGE_LABELS
    env.globals["sort_labels"] = SORT_LABELS
    return Jinja2Templates(env=env)


@dataclass(frozen=True)
class Dashboard:
    """One dashboard app's parts, handed to each area's router."""

    engine: Engine
    settings: Settings
    sink: StorageSink
    clock: Clock
    platforms: Platforms
    guard: security.Guard
    templates: Jinja2Templates
    measures: MeasuresCache = field(default_factory=MeasuresCache)

    @property
    def token(self) -> str | None:
        return self.guard.token

    def render(
        self, request: Request, name: str, context: dict[str, Any], status_code: int = 200
    ) -> Response:
        """The HTML page `name`, with the keys every page's base template reads."""
        # Defaults for what base.html reads; a page's own context overrides them.
        base = {
            "csrf_token": request.state.csrf,
            "csrf_field": security.CSRF_FIELD,
            "refresh_seconds": self.settings.dashboard.refresh_seconds,
            "needs_login": self.token is not None,
            "now": self.clock(),
            "view": None,
            "platforms": [],
            "extra_params": {},
            "data_at": None,
            "page_data": pages.script_json({"live_url": None, "figures": {}}),
        }
        return self.templates.TemplateResponse(request, name, {**base, **context}, status_code)

    def fragment(self, name: str, context: dict[str, Any]) -> str:
        return self.templates.get_template(name).render(context)

    def video_or_404(self, slug: str) -> read.VideoRow:
        video = pages.find_video(self.engine, slug)
        if video is None:
            raise HTTPException(404, f"no tracked video {slug!r}")
        return video

    def post_or_404(self, post_id: int) -> read.PostRow:
        # An id beyond the id column's range names no post (and would not bind).
        post = read.get_post(self.engine, post_id) if 0 < post_id <= openapi.MAX_ID else None
        if post is None:
            raise HTTPException(404, f"no post with id {post_id}")
        return post

    def unknown_platforms(self, names: list[str]) -> list[str]:
        """Those of `names` no collector registers and no data names (the data is asked only
        when a name is not registered: a collector since removed still has its old posts)."""
        strangers = [n for n in names if n not in self.platforms.names]
        if strangers:
            seen = set(pages.known_platforms(self.engine, self.platforms))
            strangers = [n for n in strangers if n not in seen]
        return strangers

    def collector_states(self) -> list[CollectorState]:
        return collector_states(
            self.settings, read.latest_runs(self.engine), self.clock(), self.platforms
        )

    def activity_note(self) -> str:
        """What the collectors are doing, for charts with no readings yet."""
        return activity_note(self.collector_states())

    def runs_for(self, view: View) -> list[read.RunRow]:
        """The runs that open or close a gap in the view's window (what `find_gaps` reads).

        A window from the first data starts at the oldest reading: no chart draws earlier, and
        a year of runs before it would cost a read per failure."""
        since = view.window.since or read.first_data_at(self.engine)
        return read.gap_runs(self.engine, since, view.window.until, tuple(FAILING))

    def gaps_for(self, view: View) -> list[Gap]:
        """Collector and daemon gaps in the view's window, for its platforms."""
        beats = health.heartbeats(self.engine)
        return find_gaps(self.runs_for(view), view.window, view.platforms or None, beats)


def current_dashboard(request: Request) -> Dashboard:
    """The app's Dashboard, for handlers (create_app keeps it in app.state)."""
    # app.state rather than a module global: tests run several apps side by side.
    dash: Dashboard = request.app.state.dashboard
    return dash


DashDep = Annotated[Dashboard, Depends(current_dashboard)]


def check_csrf(request: Request, submitted: Any) -> None:
    """Raises 403 unless the form carries this browser's CSRF token."""
    if not security.csrf_ok(request, str(submitted) if submitted else None):
        raise HTTPException(403, "CSRF token missing or wrong; reload the page and try again")


def json_response(payload: Any) -> Response:
    return Response(pages.dumps(pages.json_ready(payload)), media_type="application/json")


def live_response(
    figures: dict[str, Any], fragments: dict[str, str], data_at: datetime | None
) -> Response:
    """What a page's script fetches every refresh_seconds: new figures and HTML fragments."""
    return json_response(
        {
            "figures": figures,
            "fragments": fragments,
            "data_at": data_at,
            "data_at_text": f"{data_at:%Y-%m-%d %H:%M} UTC" if data_at else "No readings yet",
        }
    )


def csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    # Streamed: a cascade or posts CSV of a big video never sits in memory whole.
    # Slugs are safe already; the pattern keeps any other name out of the header's quoting.
    filename = re.sub(r"[^a-z0-9-]", "-", name.lower()) + ".csv"
    return StreamingResponse(
        export.stream_csv(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
