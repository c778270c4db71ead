"""The JSON API (`/api/...`): the numbers behind every chart and table, described by the
OpenAPI schema at `/openapi.json`."""

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from dashboard import export, pages
from dashboard.context import DashDep, json_response
from dashboard.gap_growth import gap_growth
from dashboard.overview import VideoSummary
from dashboard.params import SeriesDep, TableDep, ViewDep
from dashboard.states import collector_states
from storage import health, read

router = APIRouter(prefix="/api", tags=["api"])


@router.get("/videos")
def api_videos(dash: DashDep, view: ViewDep) -> Response:
    """Every tracked video with totals, growth (views) and platforms reached."""
    summaries = pages.overview_data(dash.engine, view, dash.clock(), dash.platforms)
    return json_response({"videos": [summary_json(s) for s in summaries]})


@router.get("/videos/{slug}")
def api_video(dash: DashDep, slug: str, view: ViewDep) -> Response:
    """One video: its configuration, totals, per-platform totals and first appearances."""
    video = dash.video_or_404(slug)
    summary = pages.video_summaries_for(dash.engine, view, dash.clock(), slug, dash.platforms)
    per_platform = read.platform_totals(dash.engine, video=slug, platforms=view.platforms)
    first = read.first_appearances(dash.engine, slug, platforms=view.platforms)
    return json_response(
        {
            # A video with no posts yet has no summary row; its configuration still shows.
            **(summary_json(summary) if summary else {}),
            "keywords": video.keywords,
            "hashtags": video.hashtags,
            "urls": video.urls,
            "started_at": video.started_at,
            "created_at": video.created_at,
            "platform_totals": [row_json(t, drop=("video",)) for t in per_platform],
            "first_appearances": [row_json(a, rename={"id": "post_id"}) for a in first],
        }
    )


@router.get("/videos/{slug}/posts")
def api_posts(
    dash: DashDep,
    slug: str,
    view: ViewDep,
    table: TableDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="Posts per page")] = 100,
) -> Response:
    """The video's reposts, sorted and filtered like the reposts table; growth_views is the
    gain inside the time range. `total` counts the rows matching; `reshares` the reshare
    edges matching (listed only with reshares=include)."""
    dash.video_or_404(slug)
    found = pages.table_page(dash.engine, slug, view, table, page_size=limit)
    rows = export.post_table_rows(found.rows)
    return json_response(
        {
            "total": found.total,
            "reshares": found.reshares,
            "reshares_listed": table.reshares,
            "page": table.page,
            "limit": limit,
            "posts": [dict(zip(export.POSTS_HEADER, r, strict=True)) for r in rows],
        }
    )


@router.get("/videos/{slug}/series")
def api_series(dash: DashDep, slug: str, view: ViewDep, query: SeriesDep) -> Response:
    """A metric over time per platform, bucketed on the server (at most 2000 points).

    Ranges up to 24 hours come in 5-minute buckets (at most 288 points), longer ones in
    hourly or coarser buckets; reposts (per bucket) are sized from the data's own extent, at
    most 48 bars from the first post in the range to its end. `bucket_minutes` gives the
    bucket size; `bucket_hours` is the same in hours (a fraction for buckets under an
    hour)."""
    dash.video_or_404(slug)
    series = pages.chart_series(dash.engine, slug, view, query, dash.platforms)
    gaps = dash.gaps_for(view)
    minutes = series.bucket_minutes
    return json_response(
        {
            "video": slug,
            "metric": series.metric,
            "cumulative": series.cumulative,
            "bucket_minutes": minutes,
            "bucket_hours": minutes // 60 if minutes % 60 == 0 else minutes / 60,
            "bucket_starts": [export.iso_utc(t) for t in series.starts],
            "times": [export.iso_utc(t) for t in series.times],
            "platforms": dict(series.values),
            "gaps": [row_json(g) for g in gaps],
            "gap_growth": [
                {
                    "platform": g.platform,
                    "bucket_start": export.iso_utc(series.starts[g.index]),
                    "since": g.since,
                    "until": g.until,
                    "label": g.label,
                }
                for g in gap_growth(series, gaps)
            ],
        }
    )


@router.get("/posts/{post_id}/observations")
def api_observations(dash: DashDep, post_id: int, view: ViewDep) -> Response:
    """One post's counters over time (thinned evenly to at most 2000 readings)."""
    post = dash.post_or_404(post_id)
    # No runs passed: gaps only shade the chart, the readings are the same.
    _, series = pages.post_figure_and_series(dash.engine, post, view, [])
    # The CSV's columns without its leading post id: the response names the post once.
    columns = export.OBSERVATIONS_HEADER[1:]
    rows = export.post_series_rows(series)
    return json_response(
        {
            "post_id": post_id,
            "platform": post.platform,
            "platform_post_id": post.platform_post_id,
            "observations": [dict(zip(columns, row[1:], strict=True)) for row in rows],
            # Gone and returned (issue 8): the CSV's columns without the post id.
            "events": [
                dict(zip(export.EVENTS_HEADER[1:], row[1:], strict=True))
                for row in export.post_event_rows(post_id, read.post_events(dash.engine, post_id))
            ],
        }
    )


@router.get("/collectors")
def api_collectors(dash: DashDep) -> Response:
    """Each collector's state (ok, failing, rate_limited, auth_failed, disabled, off,
    never_run) with its last error."""
    runs = read.latest_runs(dash.engine)
    now = dash.clock()
    daemon = health.daemon_status(dash.engine, now)
    states = collector_states(dash.settings, runs, now, dash.platforms, daemon)
    rows = export.collector_rows(states)
    return json_response(
        {"collectors": [dict(zip(export.COLLECTORS_HEADER, r, strict=True)) for r in rows]}
    )


def summary_json(summary: VideoSummary) -> dict[str, Any]:
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


def row_json(row: Any, drop: tuple[str, ...] = (), rename: dict[str, str] | None = None) -> Any:
    """A read-side dataclass row as a JSON object: its fields, some dropped or renamed."""
    names = rename or {}
    return {names.get(k, k): v for k, v in asdict(row).items() if k not in drop}
