"""CSV downloads (`/export/...`): the same rows the charts and tables show, streamed."""

from fastapi import APIRouter
from fastapi.responses import Response

from dashboard import export, pages
from dashboard.context import DashDep, csv_response
from dashboard.gap_growth import gap_growth
from dashboard.overview import top_posts
from dashboard.params import SeriesDep, TableDep, ViewDep
from dashboard.states import collector_states
from storage import health, read

router = APIRouter(prefix="/export", tags=["csv"])


@router.get("/videos.csv")
def csv_videos(dash: DashDep, view: ViewDep) -> Response:
    """The overview table."""
    summaries = pages.overview_data(dash.engine, view, dash.clock(), dash.platforms)
    return csv_response("videos", export.VIDEOS_HEADER, export.video_summary_rows(summaries))


@router.get("/collectors.csv")
def csv_collectors(dash: DashDep) -> Response:
    """The collector states table."""
    runs = read.latest_runs(dash.engine)
    now = dash.clock()
    daemon = health.daemon_status(dash.engine, now)
    states = collector_states(dash.settings, runs, now, dash.platforms, daemon)
    return csv_response("collectors", export.COLLECTORS_HEADER, export.collector_rows(states))


@router.get("/videos/{slug}/series.csv")
def csv_series(dash: DashDep, slug: str, view: ViewDep, query: SeriesDep) -> Response:
    """A chart's data: one row per platform and time bucket."""
    dash.video_or_404(slug)
    series = pages.chart_series(dash.engine, slug, view, query, dash.platforms)
    rows = export.series_rows(series, gap_growth(series, dash.gaps_for(view)))
    return csv_response(f"{slug}-{series.metric}", export.SERIES_HEADER, rows)


@router.get("/videos/{slug}/posts.csv")
def csv_posts(dash: DashDep, slug: str, view: ViewDep, table: TableDep) -> Response:
    """Every repost matching the table's filters (all pages), in the table's order."""
    dash.video_or_404(slug)
    rows, _ = top_posts(dash.engine, slug, view, table, limit=None)  # all pages, one query
    return csv_response(f"{slug}-posts", export.POSTS_HEADER, export.post_table_rows(rows))


@router.get("/videos/{slug}/timeline.csv")
def csv_timeline(dash: DashDep, slug: str, view: ViewDep) -> Response:
    """The spread timeline: the first post on each platform."""
    dash.video_or_404(slug)
    first = read.first_appearances(dash.engine, slug, platforms=view.platforms)
    return csv_response(f"{slug}-timeline", export.TIMELINE_HEADER, export.timeline_rows(first))


@router.get("/videos/{slug}/cascade.csv")
def csv_cascade(dash: DashDep, slug: str) -> Response:
    """Every reshare/crosspost/quote edge between the video's posts."""
    dash.video_or_404(slug)
    # Every post, streamed: the edges are in each post's parent columns.
    posts = read.iter_posts(dash.engine, read.PostFilter(video=slug))
    return csv_response(f"{slug}-cascade", export.CASCADE_HEADER, export.cascade_rows(posts))


@router.get("/posts/{post_id}/observations.csv")
def csv_observations(dash: DashDep, post_id: int, view: ViewDep) -> Response:
    """One post's counters over time, as drawn on the post page."""
    post = dash.post_or_404(post_id)
    _, series = pages.post_figure_and_series(dash.engine, post, view, [])
    rows = export.post_series_rows(series)
    return csv_response(f"post-{post_id}-observations", export.OBSERVATIONS_HEADER, rows)


@router.get("/posts/{post_id}/events.csv")
def csv_post_events(dash: DashDep, post_id: int) -> Response:
    """When the post went gone and came back (issue 8)."""
    dash.post_or_404(post_id)
    rows = export.post_event_rows(post_id, read.post_events(dash.engine, post_id))
    return csv_response(f"post-{post_id}-events", export.EVENTS_HEADER, rows)
