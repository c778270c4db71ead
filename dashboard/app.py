"""The dashboard: server-rendered pages, a JSON API and CSV downloads (issue 4).

`create_app(engine, settings, sink, clock)` builds the ASGI app; nothing happens at import time.
Pages render with Jinja2 (autoescaped) and embed plotly figures built in charts.py; each page
then refreshes its charts and tables in place from `/live/...` every `refresh_seconds`.

The dashboard reads through storage/read.py only. The Manage videos handlers are the one
exception: they write through the `StorageSink` handed in (add, edit, pause a video; follow a
post URL by hand), behind a CSRF check.
"""

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import jinja2
import plotly
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from collectors.base import Clock, PostRef
from config.settings import Settings, VideoSettings
from dashboard import bidi, charts, export, openapi, pages, security
from dashboard.pages import TableParams, View
from dashboard.series import (
    BUCKET_NAMES,
    METRICS,
    SERIES_METRICS,
    BadParameter,
    collector_states,
    counter_series,
    first_appearances,
    parse_bucket,
    parse_platforms,
    parse_time,
    parse_window,
    repost_series,
    top_posts,
)
from storage import read
from storage.write import StorageSink, UnknownVideo, VideoExists, VideoInput

HERE = Path(__file__).parent
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
_HTTP_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
NOTICES = {
    "added": "Video added. Collectors will look for it on their next run.",
    "updated": "Video updated.",
    "paused": "Collection paused.",
    "resumed": "Collection resumed.",
    "url-added": "Post URL added; it will be read on the next run of the urls collector.",
    "url-known": "That post URL is already followed.",
}
PLURALS = {"reply": "replies", "child": "children"}
BUCKET_DESCRIPTION = (
    "Bucket size: auto (5 minutes for ranges up to 24 h, else 1 hour or coarser, at most 2000 "
    f"points), or one of {', '.join(BUCKET_NAMES)} (5m, 10m, 15m, 30m: minutes; sizes under an "
    "hour read the 5-minute rollup). A size giving more than 2000 buckets is refused (400)."
)
RANGE_LABELS = {"1h": "1 h", "24h": "24 h", "7d": "7 days", "all": "All", "custom": "Custom"}
SORT_LABELS = {
    "views": "Views",
    "likes": "Likes",
    "shares": "Shares",
    "comments": "Comments",
    "quotes": "Quotes",
    "appeared": "Age",
    "platform": "Platform",
    "author": "Author",
}


def http_url(url: str | None) -> str | None:
    """The URL when it is an http(s) link (safe to make clickable), else None."""
    if url and len(url) <= 2048 and _HTTP_URL.match(url.strip()):
        return url.strip()
    return None


def plural(word: str, count: int) -> str:
    """`word` as it reads after `count` ("1 reply", "2 replies")."""
    if count == 1:
        return word
    return PLURALS.get(word, word + "s")


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        finalize=bidi.finalize,
    )
    env.filters["as_stored"] = bidi.as_stored
    env.filters["num"] = lambda v: "–" if v is None else f"{int(v):,}"
    env.filters["signed"] = lambda v: "–" if v is None else f"{int(v):+,}"
    env.filters["iso"] = lambda v: export.iso_utc(v) if v else ""
    env.filters["utc"] = lambda v: f"{v:%Y-%m-%d %H:%M} UTC" if v else "–"
    env.filters["http_url"] = http_url
    env.filters["color"] = charts.platform_color
    env.filters["label"] = charts.platform_label
    env.filters["spark"] = charts.sparkline_points
    env.filters["plural"] = plural
    env.globals["range_labels"] = RANGE_LABELS
    env.globals["sort_labels"] = SORT_LABELS
    return Jinja2Templates(env=env)


def create_app(engine: Engine, settings: Settings, sink: StorageSink, clock: Clock) -> FastAPI:
    """The dashboard app on `engine`. Raises DashboardConfigError when `settings.dashboard.host`
    is not loopback and no `settings.dashboard.token` is set."""
    guard = security.Guard(settings.dashboard)
    token = guard.token
    refresh_seconds = settings.dashboard.refresh_seconds
    templates = _templates()
    app = FastAPI(
        title="viralwatch dashboard",
        summary="Follow one piece of footage as it spreads; every number behind the charts.",
        docs_url=None,
        redoc_url=None,
    )
    openapi.install(app)

    # --- middleware: Host, Origin, token, session and CSRF, security headers --------------

    app.middleware("http")(guard)

    @app.exception_handler(BadParameter)
    async def bad_parameter(request: Request, err: BadParameter) -> Response:
        if request.url.path.startswith(("/api/", "/export/", "/live/")):
            return JSONResponse({"detail": str(err)}, 400)
        return render(request, "error.html", {"title": "Bad request", "message": str(err)}, 400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> Response:
        if request.url.path.startswith(("/api/", "/export/", "/live/", "/static/")):
            return JSONResponse({"detail": err.detail}, err.status_code, headers=err.headers)
        title = "Not found" if err.status_code == 404 else f"Error {err.status_code}"
        return render(
            request, "error.html", {"title": title, "message": err.detail}, err.status_code
        )

    def render(
        request: Request, name: str, context: dict[str, Any], status_code: int = 200
    ) -> Response:
        base = {
            "csrf_token": request.state.csrf,
            "csrf_field": security.CSRF_FIELD,
            "refresh_seconds": refresh_seconds,
            "needs_login": token is not None,
            "now": clock(),
            "view": None,
            "platforms": [],
            "extra_params": {},
            "data_at": None,
            "page_data": pages.script_json({"live_url": None, "figures": {}}),
        }
        return templates.TemplateResponse(request, name, {**base, **context}, status_code)

    def fragment(name: str, context: dict[str, Any]) -> str:
        return templates.get_template(name).render(context)

    # --- shared parameters -----------------------------------------------------------------

    def view_params(
        range: Annotated[
            str, Query(description="Time range: 1h, 24h, 7d, all, or custom (with start/end)")
        ] = "all",
        start: Annotated[
            str | None, Query(description="Custom range start, ISO 8601 (UTC if no zone)")
        ] = None,
        end: Annotated[
            str | None, Query(description="Custom range end, ISO 8601 (UTC if no zone)")
        ] = None,
        platform: Annotated[
            list[str] | None, Query(description="Only these platforms (repeat or comma-separate)")
        ] = None,
    ) -> View:
        return View(parse_window(range, start, end, clock()), parse_platforms(platform or []))

    ViewDep = Annotated[View, Depends(view_params)]

    def table_params(
        sort: Annotated[
            str | None,
            Query(description="views, likes, shares, comments, quotes, appeared, platform, author"),
        ] = None,
        order: Annotated[str | None, Query(description="asc or desc")] = None,
        author: Annotated[
            str | None, Query(description="Author contains (case-insensitive)")
        ] = None,
        page: Annotated[str | None, Query(description="Page number, from 1")] = None,
        reshares: Annotated[
            str | None,
            Query(
                description="include: list reshare edges (reposts/boosts without counters) "
                "too; exclude (default): only posts that carry the footage"
            ),
        ] = None,
    ) -> TableParams:
        return pages.parse_table(sort, order, author, page, reshares)

    TableDep = Annotated[TableParams, Depends(table_params)]

    def video_or_404(slug: str) -> read.VideoRow:
        video = pages.find_video(engine, slug)
        if video is None:
            raise HTTPException(404, f"no tracked video {slug!r}")
        return video

    def post_or_404(post_id: int) -> read.PostRow:
        # An id beyond the id column's range names no post (and would not bind).
        post = read.get_post(engine, post_id) if 0 < post_id <= openapi.MAX_ID else None
        if post is None:
            raise HTTPException(404, f"no post with id {post_id}")
        return post

    def runs_for(view: View) -> list[read.RunRow]:
        return read.runs_between(engine, view.window.since, view.window.until)

    # --- static ----------------------------------------------------------------------------

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            PLOTLY_JS,
            media_type="text/javascript",
            headers={"cache-control": "public, max-age=86400"},
        )

    # --- login -----------------------------------------------------------------------------

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str | None = None) -> Response:
        return render(
            request,
            "login.html",
            {"title": "Sign in", "next": security.safe_next(next), "error": None},
        )

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, form.get(security.CSRF_FIELD))
        target = security.safe_next(str(form.get("next") or "/"))
        if token is None:
            return RedirectResponse(target, 303)
        if not security.token_matches(str(form.get("token") or ""), token):
            return render(
                request,
                "login.html",
                {"title": "Sign in", "next": target, "error": "That token is not right."},
                401,
            )
        response = RedirectResponse(target, 303)
        guard.sign_in(response, request)
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, form.get(security.CSRF_FIELD))
        response = RedirectResponse("/login", 303)
        guard.sign_out(response)
        return response

    def check_csrf(request: Request, submitted: Any) -> None:
        if not security.csrf_ok(request, str(submitted) if submitted else None):
            raise HTTPException(403, "CSRF token missing or wrong; reload the page and try again")

    # --- overview --------------------------------------------------------------------------

    def overview_context(view: View) -> dict[str, Any]:
        now = clock()
        summaries = pages.overview_data(engine, view, now)
        return {
            "view": view,
            "summaries": summaries,
            "collectors": collector_states(settings, read.latest_runs(engine), now),
            "data_at": pages.latest_data_at(summaries),
        }

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview(request: Request, view: ViewDep) -> Response:
        context = overview_context(view)
        return render(
            request,
            "overview.html",
            {
                **context,
                "title": "Overview",
                "platforms": pages.known_platforms(engine),
                "page_data": pages.script_json(
                    {"live_url": view.url("/live/overview"), "figures": {}}
                ),
            },
        )

    @app.get("/live/overview", include_in_schema=False)
    def overview_live(view: ViewDep) -> Response:
        context = overview_context(view)
        return _live(
            {},
            {
                "videos": fragment("_videos.html", context),
                "collectors": fragment("_collectors.html", context),
            },
            context["data_at"],
        )

    # --- video page ------------------------------------------------------------------------

    def video_context(slug: str, view: View, table: TableParams) -> dict[str, Any]:
        video = video_or_404(slug)
        now = clock()
        runs = runs_for(view)
        figures, data = pages.video_figures(engine, slug, view, runs)
        table_page = pages.table_page(engine, slug, view, table)
        summary = pages.video_summaries_for(engine, view, now, slug)
        cascade = pages.video_cascade(engine, slug)
        return {
            "video": video,
            "view": view,
            "table": table,
            "summary": summary,
            "figures": figures,
            "gaps": data["gaps"],
            "first": data["first"],
            "rows": table_page.rows,
            "total": table_page.total,
            "reshare_count": table_page.reshares,
            "page_size": pages.PAGE_SIZE,
            "cascade": cascade,
            "reshares_listed": pages.RESHARES_LISTED,
            "reshares_preview": pages.RESHARES_PREVIEW,
            "data_at": summary.last_observed_at if summary else None,
            "table_url": lambda **changes: view.url(
                f"/videos/{slug}", **{**table.params(), **changes}
            ),
        }

    @app.get("/videos/{slug}", response_class=HTMLResponse, include_in_schema=False)
    def video_page(request: Request, slug: str, view: ViewDep, table: TableDep) -> Response:
        context = video_context(slug, view, table)
        live = view.url(f"/live/videos/{slug}", **table.params())
        return render(
            request,
            "video.html",
            {
                **context,
                "title": context["video"].title,
                "platforms": pages.known_platforms(engine),
                "extra_params": table.params(),
                "page_data": pages.script_json(
                    {"live_url": live, "figures": pages.figure_json(context["figures"])}
                ),
            },
        )

    @app.get("/live/videos/{slug}", include_in_schema=False)
    def video_live(slug: str, view: ViewDep, table: TableDep) -> Response:
        context = video_context(slug, view, table)
        return _live(
            pages.figure_json(context["figures"]),
            {
                "summary": fragment("_video_summary.html", context),
                "posts-table": fragment("_posts_table.html", context),
                "cascade": fragment("_cascade.html", context),
                "gaps": fragment("_gaps.html", context),
            },
            context["data_at"],
        )

    # --- post page -------------------------------------------------------------------------

    def post_context(post_id: int, view: View) -> dict[str, Any]:
        post = post_or_404(post_id)
        figure, series = pages.post_figure_and_series(engine, post, view, runs_for(view))
        parent = (
            read.find_post(engine, post.parent_platform, post.parent_platform_post_id)
            if post.parent_platform and post.parent_platform_post_id
            else None
        )
        return {
            "post": post,
            "view": view,
            "figures": {"counters": figure},
            "points": len(series.times),
            "parent": parent,
            "children": read.child_posts(
                engine, post.platform, post.platform_post_id, reshares=False
            ),
            "reshares": pages.post_reshares(engine, post),
            "reshares_preview": pages.RESHARES_PREVIEW,
            "data_at": post.latest_observed_at,
        }

    @app.get("/posts/{post_id}", response_class=HTMLResponse, include_in_schema=False)
    def post_page(request: Request, post_id: int, view: ViewDep) -> Response:
        context = post_context(post_id, view)
        post = context["post"]
        return render(
            request,
            "post.html",
            {
                **context,
                "title": f"{charts.platform_label(post.platform)} post by "
                f"{post.author or 'unknown'}",
                "platforms": [],
                "page_data": pages.script_json(
                    {
                        "live_url": view.url(f"/live/posts/{post_id}"),
                        "figures": pages.figure_json(context["figures"]),
                    }
                ),
            },
        )

    @app.get("/live/posts/{post_id}", include_in_schema=False)
    def post_live(post_id: int, view: ViewDep) -> Response:
        context = post_context(post_id, view)
        return _live(
            pages.figure_json(context["figures"]),
            {"post-summary": fragment("_post_summary.html", context)},
            context["data_at"],
        )

    # --- manage videos ---------------------------------------------------------------------

    def manage_page(
        request: Request,
        *,
        form: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        editing: str | None = None,
        url_errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Response:
        notice = NOTICES.get(request.query_params.get("notice", ""))
        return render(
            request,
            "manage.html",
            {
                "title": "Manage videos" if editing is None else f"Edit {editing}",
                "videos": read.list_videos(engine),
                "manual_posts": pages.manual_posts_by_video(engine),
                "counts": pages.post_counts(engine),
                "form": form or {},
                "errors": errors or {},
                "url_errors": url_errors or {},
                "editing": editing,
                "notice": notice,
                "view": None,
                "platforms": [],
                "page_data": pages.script_json({"live_url": None, "figures": {}}),
            },
            status_code,
        )

    @app.get("/manage", response_class=HTMLResponse, include_in_schema=False)
    def manage(request: Request) -> Response:
        return manage_page(request)

    @app.get("/manage/videos/{slug}/edit", response_class=HTMLResponse, include_in_schema=False)
    def edit_video_form(request: Request, slug: str) -> Response:
        video = video_or_404(slug)
        form = {
            "slug": video.slug,
            "title": video.title,
            "keywords": "\n".join(video.keywords),
            "hashtags": " ".join(video.hashtags),
            "urls": "\n".join(video.urls),
            "started_at": video.started_at.strftime("%Y-%m-%dT%H:%M") if video.started_at else "",
        }
        return manage_page(request, form=form, editing=slug)

    @app.post("/manage/videos", include_in_schema=False)
    async def add_video(request: Request) -> Response:
        return await save_video(request, editing=None)

    @app.post("/manage/videos/{slug}", include_in_schema=False)
    async def edit_video(request: Request, slug: str) -> Response:
        video_or_404(slug)
        return await save_video(request, editing=slug)

    async def save_video(request: Request, editing: str | None) -> Response:
        raw = await request.form()
        check_csrf(request, raw.get(security.CSRF_FIELD))
        form = {
            k: str(raw.get(k) or "")
            for k in ("slug", "title", "keywords", "hashtags", "urls", "started_at")
        }
        if editing is not None:
            form["slug"] = editing
        video, errors = validate_video(form)
        if video is not None:
            try:
                sink.add_video(video, replace=editing is not None)
            except VideoExists:
                errors["slug"] = (
                    f"a video with slug {form['slug']!r} is already tracked; pick another"
                )
        if errors or video is None:
            return manage_page(request, form=form, errors=errors, editing=editing, status_code=400)
        notice = "updated" if editing else "added"
        return RedirectResponse(f"/manage?notice={notice}#video-{quote(video.slug)}", 303)

    @app.post("/manage/videos/{slug}/pause", include_in_schema=False)
    async def pause_video(request: Request, slug: str) -> Response:
        raw = await request.form()
        check_csrf(request, raw.get(security.CSRF_FIELD))
        is_paused = raw.get("paused") == "true"
        try:
            sink.set_video_paused(slug, is_paused)
        except UnknownVideo as err:
            raise HTTPException(404, f"no tracked video {slug!r}") from err
        notice = "paused" if is_paused else "resumed"
        return RedirectResponse(f"/manage?notice={notice}#video-{quote(slug)}", 303)

    @app.post("/manage/videos/{slug}/posts", include_in_schema=False)
    async def follow_post_url(request: Request, slug: str) -> Response:
        raw = await request.form()
        check_csrf(request, raw.get(security.CSRF_FIELD))
        video_or_404(slug)
        url = str(raw.get("url") or "").strip()
        error = validate_post_url(url)
        if error:
            return manage_page(
                request, url_errors={slug: error}, form={"post_url": url}, status_code=400
            )
        ref = PostRef(platform="urls", platform_post_id=url, url=url, matched_by="manual")
        added = sink.record_posts(slug, [ref])
        notice = "url-added" if added else "url-known"
        return RedirectResponse(f"/manage?notice={notice}#video-{quote(slug)}", 303)

    # --- JSON API --------------------------------------------------------------------------

    @app.get("/api/videos", tags=["api"])
    def api_videos(view: ViewDep) -> Response:
        """Every tracked video with totals, growth (views) and platforms reached."""
        summaries = pages.overview_data(engine, view, clock())
        return _json({"videos": [_summary_json(s) for s in summaries]})

    @app.get("/api/videos/{slug}", tags=["api"])
    def api_video(slug: str, view: ViewDep) -> Response:
        """One video: its configuration, totals, per-platform totals and first appearances."""
        video = video_or_404(slug)
        summary = pages.video_summaries_for(engine, view, clock(), slug)
        per_platform = read.platform_totals(engine, video=slug, platforms=view.platforms)
        first = first_appearances(read.post_appearances(engine, slug, platforms=view.platforms))
        return _json(
            {
                **(_summary_json(summary) if summary else {}),
                "keywords": video.keywords,
                "hashtags": video.hashtags,
                "urls": video.urls,
                "started_at": video.started_at,
                "created_at": video.created_at,
                "platform_totals": [
                    {
                        "platform": t.platform,
                        "posts": t.posts,
                        "reshares": t.reshares,
                        **{m: getattr(t, m) for m in METRICS},
                        "first_appeared_at": t.first_appeared_at,
                        "last_observed_at": t.last_observed_at,
                    }
                    for t in per_platform
                ],
                "first_appearances": [_appearance_json(a) for a in first],
            }
        )

    @app.get("/api/videos/{slug}/posts", tags=["api"])
    def api_posts(
        slug: str,
        view: ViewDep,
        table: TableDep,
        limit: Annotated[int, Query(ge=1, le=1000, description="Posts per page")] = 100,
    ) -> Response:
        """The video's reposts, sorted and filtered like the reposts table; growth_views is the
        gain inside the time range. `total` counts the rows matching; `reshares` the reshare
        edges matching (listed only with reshares=include)."""
        video_or_404(slug)
        found = pages.table_page(engine, slug, view, table, page_size=limit)
        return _json(
            {
                "total": found.total,
                "reshares": found.reshares,
                "reshares_listed": table.reshares,
                "page": table.page,
                "limit": limit,
                "posts": [
                    dict(zip(export.POSTS_HEADER, r, strict=True))
                    for r in export.post_table_rows(found.rows)
                ],
            }
        )

    @app.get("/api/videos/{slug}/series", tags=["api"])
    def api_series(
        slug: str,
        view: ViewDep,
        metric: Annotated[str, Query(description=f"One of {', '.join(SERIES_METRICS)}")] = "views",
        bucket: Annotated[str | None, Query(description=BUCKET_DESCRIPTION)] = None,
        cumulative: Annotated[
            bool, Query(description="Running totals (reposts: always per bucket)")
        ] = True,
    ) -> Response:
        """A metric over time per platform, bucketed on the server (at most 2000 points).

        Ranges up to 24 hours come in 5-minute buckets (at most 288 points), longer ones in
        hourly or coarser buckets. `bucket_minutes` gives the bucket size; `bucket_hours` is the
        same in hours (a fraction for buckets under an hour)."""
        video_or_404(slug)
        series = build_series(slug, view, metric, bucket, cumulative)
        return _json(
            {
                "video": slug,
                "metric": series.metric,
                "cumulative": series.cumulative,
                "bucket_minutes": series.bucket_minutes,
                "bucket_hours": _hours(series.bucket_minutes),
                "bucket_starts": [export.iso_utc(t) for t in series.starts],
                "times": [export.iso_utc(t) for t in series.times],
                "platforms": {p: v for p, v in series.values.items()},
                "gaps": [_gap_json(g) for g in read_gaps(view)],
            }
        )

    def build_series(
        slug: str, view: View, metric: str, bucket: str | None, cumulative: bool
    ) -> Any:
        minutes = parse_bucket(bucket)
        if metric == "reposts":
            appearances = read.post_appearances(engine, slug, platforms=view.platforms)
            return repost_series(appearances, slug, view.window, minutes)
        return counter_series(
            engine, slug, metric, view.window, view.platforms, minutes, cumulative=cumulative
        )

    def read_gaps(view: View) -> list[Any]:
        from dashboard.series import find_gaps

        return find_gaps(runs_for(view), view.window, view.platforms or None)

    @app.get("/api/posts/{post_id}/observations", tags=["api"])
    def api_observations(post_id: int, view: ViewDep) -> Response:
        """One post's counters over time (thinned evenly to at most 2000 readings)."""
        post = post_or_404(post_id)
        _, series = pages.post_figure_and_series(engine, post, view, [])
        return _json(
            {
                "post_id": post_id,
                "platform": post.platform,
                "platform_post_id": post.platform_post_id,
                "observations": [
                    dict(zip(export.OBSERVATIONS_HEADER[1:], row[1:], strict=True))
                    for row in export.post_series_rows(series)
                ],
            }
        )

    @app.get("/api/collectors", tags=["api"])
    def api_collectors() -> Response:
        """Each collector's state (ok, failing, rate_limited, auth_failed, disabled, off,
        never_run) with its last error."""
        states = collector_states(settings, read.latest_runs(engine), clock())
        return _json(
            {
                "collectors": [
                    dict(zip(export.COLLECTORS_HEADER, row, strict=True))
                    for row in export.collector_rows(states)
                ]
            }
        )

    # --- CSV downloads ---------------------------------------------------------------------

    @app.get("/export/videos.csv", tags=["csv"])
    def csv_videos(view: ViewDep) -> Response:
        """The overview table."""
        summaries = pages.overview_data(engine, view, clock())
        return _csv("videos", export.VIDEOS_HEADER, export.video_summary_rows(summaries))

    @app.get("/export/collectors.csv", tags=["csv"])
    def csv_collectors() -> Response:
        """The collector states table."""
        states = collector_states(settings, read.latest_runs(engine), clock())
        return _csv("collectors", export.COLLECTORS_HEADER, export.collector_rows(states))

    @app.get("/export/videos/{slug}/series.csv", tags=["csv"])
    def csv_series(
        slug: str,
        view: ViewDep,
        metric: Annotated[str, Query(description=f"One of {', '.join(SERIES_METRICS)}")] = "views",
        bucket: Annotated[str | None, Query(description=BUCKET_DESCRIPTION)] = None,
        cumulative: Annotated[bool, Query()] = True,
    ) -> Response:
        """A chart's data: one row per platform and time bucket."""
        video_or_404(slug)
        series = build_series(slug, view, metric, bucket, cumulative)
        return _csv(f"{slug}-{series.metric}", export.SERIES_HEADER, export.series_rows(series))

    @app.get("/export/videos/{slug}/posts.csv", tags=["csv"])
    def csv_posts(slug: str, view: ViewDep, table: TableDep) -> Response:
        """Every repost matching the table's filters (all pages), in the table's order."""
        video_or_404(slug)
        rows, _ = top_posts(
            engine,
            slug,
            view.window,
            platforms=view.platforms,
            author=table.author or None,
            sort=table.sort,
            descending=table.descending,
            limit=None,
            reshares=table.reshares,
        )
        return _csv(f"{slug}-posts", export.POSTS_HEADER, export.post_table_rows(rows))

    @app.get("/export/videos/{slug}/timeline.csv", tags=["csv"])
    def csv_timeline(slug: str, view: ViewDep) -> Response:
        """The spread timeline: the first post on each platform."""
        video_or_404(slug)
        first = first_appearances(read.post_appearances(engine, slug, platforms=view.platforms))
        return _csv(f"{slug}-timeline", export.TIMELINE_HEADER, export.timeline_rows(first))

    @app.get("/export/videos/{slug}/cascade.csv", tags=["csv"])
    def csv_cascade(slug: str) -> Response:
        """Every reshare/crosspost/quote edge between the video's posts."""
        video_or_404(slug)
        posts = read.iter_posts(engine, read.PostFilter(video=slug))
        return _csv(f"{slug}-cascade", export.CASCADE_HEADER, export.cascade_rows(posts))

    @app.get("/export/posts/{post_id}/observations.csv", tags=["csv"])
    def csv_observations(post_id: int, view: ViewDep) -> Response:
        """One post's counters over time, as drawn on the post page."""
        post = post_or_404(post_id)
        _, series = pages.post_figure_and_series(engine, post, view, [])
        return _csv(
            f"post-{post_id}-observations",
            export.OBSERVATIONS_HEADER,
            export.post_series_rows(series),
        )

    # After the plotly.js route, which the mount would otherwise shadow.
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app


def validate_video(form: dict[str, str]) -> tuple[VideoInput | None, dict[str, str]]:
    """A VideoInput from the manage form, or per-field error messages."""
    errors: dict[str, str] = {}
    title = form["title"].strip()
    if not title:
        errors["title"] = "give the footage a title"
    elif len(title) > 300:
        errors["title"] = "keep the title under 300 characters"
    keywords = _split(form["keywords"], r"[\n,]")
    hashtags = _split(form["hashtags"], r"[\s,]")
    urls = _split(form["urls"], r"\s")
    if not (keywords or hashtags or urls):
        errors["keywords"] = "give at least one keyword, hashtag or URL to look for"
    if any(len(k) > 200 for k in keywords) or len(keywords) > 50:
        errors["keywords"] = "at most 50 keywords of up to 200 characters"
    started_at = None
    if form["started_at"].strip():
        try:
            started_at = parse_time("started_at", form["started_at"])
        except BadParameter as err:
            errors["started_at"] = str(err).split(": ", 1)[1]
    try:
        settings_video = VideoSettings(
            slug=form["slug"].strip(),
            title=title or "untitled",
            keywords=keywords,
            hashtags=hashtags,
            urls=urls,
            started_at=started_at,
        )
    except ValidationError as err:
        for problem in err.errors():
            field = str(problem["loc"][0]) if problem["loc"] else "slug"
            message = problem["msg"].removeprefix("Value error, ")
            if field == "slug":
                message = (
                    "use 1-80 lowercase letters, digits and dashes, starting with a letter or digit"
                )
            errors.setdefault(field, message)
        return None, errors
    if errors:
        return None, errors
    return (
        VideoInput(
            slug=settings_video.slug,
            title=settings_video.title,
            keywords=tuple(settings_video.keywords),
            hashtags=tuple(settings_video.hashtags),
            urls=tuple(settings_video.urls),
            started_at=settings_video.started_at,
            source="dashboard",
        ),
        errors,
    )


def validate_post_url(url: str) -> str | None:
    """Why `url` cannot be followed, or None when it is fine."""
    if not url:
        return "paste the post's address"
    if len(url) > 2048:
        return "that address is too long"
    if http_url(url) is None or not urlsplit(url).hostname:
        return "use a full http:// or https:// address of the post"
    return None


def _split(text: str, pattern: str) -> list[str]:
    return [part.strip() for part in re.split(pattern, text) if part.strip()]


def _json(payload: Any) -> Response:
    return Response(pages.dumps(pages.json_ready(payload)), media_type="application/json")


def _live(figures: dict[str, Any], fragments: dict[str, str], data_at: datetime | None) -> Response:
    return _json(
        {
            "figures": figures,
            "fragments": fragments,
            "data_at": data_at,
            "data_at_text": f"{data_at:%Y-%m-%d %H:%M} UTC" if data_at else "no data yet",
        }
    )


def _csv(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    filename = re.sub(r"[^a-z0-9-]", "-", name.lower()) + ".csv"
    return StreamingResponse(
        export.stream_csv(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


def _hours(minutes: int) -> int | float:
    return minutes // 60 if minutes % 60 == 0 else minutes / 60


def _summary_json(summary: Any) -> dict[str, Any]:
    return {
        "slug": summary.video.slug,
        "title": summary.video.title,
        "is_paused": summary.video.is_paused,
        "posts": summary.posts,
        "reshares": summary.reshares,
        **summary.totals,
        "platforms": summary.platforms,
        "growth_views_1h": summary.growth_1h,
        "growth_views_24h": summary.growth_24h,
        "growth_views_window": summary.growth_window,
        "last_observed_at": summary.last_observed_at,
    }


def _appearance_json(a: read.AppearanceRow) -> dict[str, Any]:
    return {
        "platform": a.platform,
        "appeared_at": a.appeared_at,
        "post_id": a.id,
        "platform_post_id": a.platform_post_id,
        "author": a.author,
        "url": a.url,
    }


def _gap_json(gap: Any) -> dict[str, Any]:
    return {
        "collector": gap.collector,
        "status": gap.status,
        "start": gap.start,
        "end": gap.end,
        "message": gap.message,
    }
