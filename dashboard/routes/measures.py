"""Measures (issue 11): the "growing now" leaderboard page, the measures of the video and post
pages, their JSON API (documented in /openapi.json by dashboard/measures_api.py) and a CSV of
every new chart and table, each from the same call as what the page shows."""

from collections.abc import Iterable
from dataclasses import astuple
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from dashboard import measure_charts, measures
from dashboard.context import Dashboard, DashDep, csv_response
from dashboard.errors import BadParameter
from dashboard.measures_api import (
    LeaderboardOut,
    LeaderOut,
    PostMeasuresOut,
    VideoMeasuresOut,
    leader_out,
    post_measures_out,
    video_measures_out,
)
from dashboard.params import View, ViewDep
from storage import read

router = APIRouter()

SortQuery = Annotated[str, Query(description="growth (views per hour), overperformance or views")]
OrderQuery = Annotated[str, Query(pattern="^(asc|desc)$", description="asc or desc")]


def leaderboard(dash: Dashboard, sort: str, order: str) -> list[measures.LeaderRow]:
    try:
        return measures.growing_now(dash.engine, dash.clock(), sort=sort, descending=order != "asc")
    # growing_now refuses an unknown sort with ValueError: a 400 naming the parameter.
    except ValueError as err:
        raise BadParameter(f"sort: {err}") from err


@router.get("/growing", response_class=HTMLResponse, include_in_schema=False)
def growing_page(
    dash: DashDep, request: Request, sort: SortQuery = "growth", order: OrderQuery = "desc"
) -> Response:
    rows = leaderboard(dash, sort, order)
    context = {
        "title": "Growing now",
        "leaders": rows,
        "sort": sort,
        "descending": order != "asc",
        "note": measures.NOTES["leaderboard"].format(hours=1),
        "over_note": measures.NOTES["overperformance"].format(peers=50),
    }
    return dash.render(request, "growing.html", context)


@router.get("/api/growing", tags=["measures"])
def api_growing(
    dash: DashDep, sort: SortQuery = "growth", order: OrderQuery = "desc"
) -> LeaderboardOut:
    """Posts of every tracked video growing fastest now (views per hour, last hour)."""
    rows = leaderboard(dash, sort, order)
    note = measures.NOTES["leaderboard"].format(hours=1)
    return LeaderboardOut(window_hours=1, method=note, posts=[leader_out(r) for r in rows])


@router.get("/export/growing.csv", tags=["csv"])
def csv_growing(dash: DashDep, sort: SortQuery = "growth", order: OrderQuery = "desc") -> Response:
    """The leaderboard table."""
    rows = [leader_out(r) for r in leaderboard(dash, sort, order)]
    header = list(LeaderOut.model_fields)
    return csv_response("growing", header, ([getattr(r, k) for k in header] for r in rows))


def video_measures_of(dash: Dashboard, slug: str, view: View) -> measures.VideoMeasures:
    # 404 first: an unknown slug would otherwise compute, and show, empty measures.
    dash.video_or_404(slug)
    return dash.measures.video_measures(
        dash.engine, slug, view.window, view.platforms, dash.clock(), dash.platforms
    )


def video_measures_context(dash: Dashboard, slug: str, view: View) -> dict[str, Any]:
    """What the video page's measures partial reads, and its figures."""
    found = video_measures_of(dash, slug, view)
    note = dash.activity_note()  # what the collectors are doing, for charts with nothing yet
    return {
        "measures": found,
        "measure_figures": {
            "velocity": measure_charts.velocity_figure(found, dash.platforms, note),
            "forecast": measure_charts.forecast_figure(found, note),
            "spread": measure_charts.spread_figure(found, dash.platforms, note),
        },
    }


def post_measures_context(dash: Dashboard, post: read.PostRow) -> dict[str, Any]:
    return {"post_measures": measures.post_measures(dash.engine, post, dash.clock())}


@router.get("/api/videos/{slug}/measures", tags=["measures"])
def api_video_measures(dash: DashDep, slug: str, view: ViewDep) -> VideoMeasuresOut:
    """Velocity per platform and hour, bursts, forecasts and cross-platform spread."""
    return video_measures_out(video_measures_of(dash, slug, view))


@router.get("/api/posts/{post_id}/measures", tags=["measures"])
def api_post_measures(dash: DashDep, post_id: int) -> PostMeasuresOut:
    """One post's velocity, acceleration, doubling time and overperformance."""
    post = dash.post_or_404(post_id)
    return post_measures_out(measures.post_measures(dash.engine, post, dash.clock()))


def _rows_csv(name: str, header: list[str], rows: Iterable[Any]) -> Response:
    """A CSV of a chart's row dataclasses, whose fields stand in the order of `header`."""
    # The header names columns for people (views_per_hour); the fields keep the chart's.
    return csv_response(name, header, (astuple(r) for r in rows))


@router.get("/export/videos/{slug}/velocity.csv", tags=["csv"])
def csv_velocity(dash: DashDep, slug: str, view: ViewDep) -> Response:
    """The velocity chart: views per hour, one row per platform and bucket."""
    found = video_measures_of(dash, slug, view)
    header = ["bucket_start", "platform", "views_per_hour", "measured_hours", "bucket_hours"]
    rows = measure_charts.velocity_rows(found.rates, found.bucket_hours)
    return _rows_csv(f"{slug}-velocity", header, rows)


@router.get("/export/videos/{slug}/bursts.csv", tags=["csv"])
def csv_bursts(dash: DashDep, slug: str, view: ViewDep) -> Response:
    """The bursts table (the shaded spans of the velocity chart are the "all" rows)."""
    found = video_measures_of(dash, slug, view)
    header = ["scope", "start", "end", "growth", "excess", "peak_per_hour"]
    rows = ([s, b.start, b.end, b.growth, b.excess, b.peak_per_hour] for s, b in found.bursts)
    return csv_response(f"{slug}-bursts", header, rows)


@router.get("/export/videos/{slug}/forecast.csv", tags=["csv"])
def csv_forecast(dash: DashDep, slug: str, view: ViewDep) -> Response:
    """The forecast chart: the measured total, the forecast band, earlier forecasts."""
    found = video_measures_of(dash, slug, view)
    header = ["kind", "made_at", "at", "value", "low", "high", "outcome"]
    return _rows_csv(f"{slug}-forecast", header, measure_charts.forecast_rows(found))


@router.get("/export/videos/{slug}/spread.csv", tags=["csv"])
def csv_spread(dash: DashDep, slug: str, view: ViewDep) -> Response:
    """The spread chart: each platform's share of the growth per bucket."""
    found = video_measures_of(dash, slug, view)
    rows = measure_charts.share_rows(found.shares, list(found.rates), found.bucket_hours)
    header = ["bucket_start", "platform", "share", "total_per_hour", "bucket_hours"]
    return _rows_csv(f"{slug}-spread", header, rows)


@router.get("/export/videos/{slug}/pickup.csv", tags=["csv"])
def csv_pickup(dash: DashDep, slug: str, view: ViewDep) -> Response:
    """The pickup table: platforms in the order they picked the footage up."""
    found = video_measures_of(dash, slug, view)
    header = ["order", "platform", "first_at", "delay_hours", "posts"]
    rows = ([p.order, p.platform, p.first_at, p.delay_hours, p.posts] for p in found.pickups)
    return csv_response(f"{slug}-pickup", header, rows)
