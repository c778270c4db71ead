"""HTML pages (overview, video, post) and the `/live/...` JSON each page refreshes itself from.

A page and its live twin build one context, so what refreshes in place is what first rendered.
"""

from datetime import datetime
from pathlib import Path
from typing import Any

import plotly
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import Engine

from dashboard import pages
from dashboard.context import Dashboard, DashDep, live_response
from dashboard.params import TableDep, TableParams, View, ViewDep
from dashboard.routes.measures import post_measures_context, video_measures_context
from dashboard.states import collector_states
from storage import health, read
from storage.budgets import BudgetStatus, budget_statuses

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


router = APIRouter(include_in_schema=False)


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    # Served from the installed plotly package: no CDN, and a day's browser cache.
    headers = {"cache-control": "public, max-age=86400"}
    return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=headers)


@router.get("/", response_class=HTMLResponse)
def overview(dash: DashDep, request: Request, view: ViewDep) -> Response:
    # Every platform's totals, read once: the filter offers them, the rows sum them.
    totals = read.platform_totals(dash.engine)
    context = overview_context(dash, view, totals)
    return dash.render(
        request,
        "overview.html",
        {
            **context,
            "title": "Overview",
            "platforms": pages.known_platforms(dash.engine, dash.platforms, totals),
            "page_data": pages.script_json({"live_url": view.url("/live/overview"), "figures": {}}),
        },
    )


@router.get("/live/overview")
def overview_live(dash: DashDep, view: ViewDep) -> Response:
    context = overview_context(dash, view)
    fragments = {
        "videos": dash.fragment("_videos.html", context),
        "collectors": dash.fragment("_collectors.html", context),
    }
    return live_response({}, fragments, context["data_at"])


@router.get("/videos/{slug}", response_class=HTMLResponse)
def video_page(
    dash: DashDep, request: Request, slug: str, view: ViewDep, table: TableDep
) -> Response:
    context = video_context(dash, slug, view, table)
    # The live URL keeps the table's sort and page, so a refresh does not reset them.
    live = view.url(f"/live/videos/{slug}", **table.params())
    return dash.render(
        request,
        "video.html",
        {
            **context,
            "title": context["video"].title,
            "platforms": pages.known_platforms(dash.engine, dash.platforms),
            "extra_params": table.params(),
            "page_data": pages.script_json(
                {"live_url": live, "figures": pages.figure_json(context["figures"])}
            ),
        },
    )


@router.get("/live/videos/{slug}")
def video_live(dash: DashDep, slug: str, view: ViewDep, table: TableDep) -> Response:
    context = video_context(dash, slug, view, table)
    fragments = {
        "summary": dash.fragment("_video_summary.html", context),
        "posts-table": dash.fragment("_posts_table.html", context),
        "cascade": dash.fragment("_cascade.html", context),
        "gaps": dash.fragment("_gaps.html", context),
        "measures": dash.fragment("_video_measures.html", context),
    }
    return live_response(pages.figure_json(context["figures"]), fragments, context["data_at"])


@router.get("/posts/{post_id}", response_class=HTMLResponse)
def post_page(dash: DashDep, request: Request, post_id: int, view: ViewDep) -> Response:
    context = post_context(dash, post_id, view)
    post = context["post"]
    live = {
        "live_url": view.url(f"/live/posts/{post_id}"),
        "figures": pages.figure_json(context["figures"]),
    }
    return dash.render(
        request,
        "post.html",
        {
            **context,
            "title": f"{dash.platforms.label(post.platform)} post by {post.author or 'unknown'}",
            "platforms": [],  # one post, one platform: no platform filter
            "page_data": pages.script_json(live),
        },
    )


@router.get("/live/posts/{post_id}")
def post_live(dash: DashDep, post_id: int, view: ViewDep) -> Response:
    context = post_context(dash, post_id, view)
    fragments = {
        "post-summary": dash.fragment("_post_summary.html", context),
        "post-measures": dash.fragment("_post_measures.html", context),
    }
    return live_response(pages.figure_json(context["figures"]), fragments, context["data_at"])


def budgets_by_collector(engine: Engine, now: datetime) -> dict[str, list[BudgetStatus]]:
    """Each collector's budgets spent in their current window (issue 8)."""
    spent: dict[str, list[BudgetStatus]] = {}
    for status in budget_statuses(engine, now):
        if status.resets_at is not None:
            spent.setdefault(status.collector, []).append(status)
    return spent


def overview_context(
    dash: Dashboard, view: View, totals: list[read.PlatformTotalsRow] | None = None
) -> dict[str, Any]:
    now = dash.clock()
    summaries = pages.overview_data(dash.engine, view, now, dash.platforms, totals)
    runs = read.latest_runs(dash.engine)
    return {
        "view": view,
        "summaries": summaries,
        "collectors": collector_states(
            dash.settings, runs, now, dash.platforms, health.daemon_status(dash.engine, now)
        ),
        "budgets": budgets_by_collector(dash.engine, now),
        "data_at": pages.latest_data_at(summaries),
    }


def video_context(dash: Dashboard, slug: str, view: View, table: TableParams) -> dict[str, Any]:
    engine = dash.engine
    video = dash.video_or_404(slug)
    figures, data = pages.video_figures(
        engine, slug, view, dash.runs_for(view), dash.platforms, dash.activity_note()
    )
    table_page = pages.table_page(engine, slug, view, table)
    summary = pages.video_summaries_for(engine, view, dash.clock(), slug, dash.platforms)
    measured = video_measures_context(dash, slug, view)  # issue 11
    figures.update(measured.pop("measure_figures"))
    return {
        **measured,
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
        "cascade": pages.video_cascade(engine, slug),
        "reshares_listed": pages.RESHARES_LISTED,
        "reshares_preview": pages.RESHARES_PREVIEW,
        "data_at": summary.last_observed_at if summary else None,
        # Sort headers and pager links: this URL with one table parameter changed.
        "table_url": lambda **changes: view.url(f"/videos/{slug}", **{**table.params(), **changes}),
    }


def post_context(dash: Dashboard, post_id: int, view: View) -> dict[str, Any]:
    engine = dash.engine
    post = dash.post_or_404(post_id)
    figure, series = pages.post_figure_and_series(
        engine, post, view, dash.runs_for(view), dash.activity_note()
    )
    # A parent outside the database (not tracked) is named by its key but has no page.
    has_parent = post.parent_platform and post.parent_platform_post_id
    parent = (
        read.find_post(engine, post.parent_platform, post.parent_platform_post_id)
        if has_parent
        else None
    )
    children = read.child_posts(engine, post.platform, post.platform_post_id, reshares=False)
    video = pages.find_video(engine, post.video)
    return {
        **post_measures_context(dash, post),  # issue 11
        "post": post,
        "matches": read.post_matches(engine, [post.id]).get(post.id, []),
        "video_title": video.title if video else post.video,
        "view": view,
        "figures": {"counters": figure},
        "points": len(series.times),
        "parent": parent,
        "children": children,
        "reshares": pages.post_reshares(engine, post),
        "reshares_preview": pages.RESHARES_PREVIEW,
        "events": read.post_events(engine, post.id),  # gone and returned (issue 8)
        "data_at": post.latest_observed_at,
    }
