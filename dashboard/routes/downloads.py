"""CSV downloads (`/export/...`): the same rows the charts and tables show, streamed."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from dashboard import export, pages
from dashboard.context import Dashboard, csv_response
from dashboard.params import BUCKET_DESCRIPTION, TableDep, ViewDep
from dashboard.series import SERIES_METRICS, first_appearances
from dashboard.states import collector_states
from storage import read


def router(dash: Dashboard) -> APIRouter:
    routes = APIRouter(prefix="/export", tags=["csv"])
    engine = dash.engine

    @routes.get("/videos.csv")
    def csv_videos(view: ViewDep) -> Response:
        """The overview table."""
        summaries = pages.overview_data(engine, view, dash.clock(), dash.platforms)
        return csv_response("videos", export.VIDEOS_HEADER, export.video_summary_rows(summaries))

    @routes.get("/collectors.csv")
    def csv_collectors() -> Response:
        """The collector states table."""
        runs = read.latest_runs(engine)
        states = collector_states(dash.settings, runs, dash.clock(), dash.platforms)
        return csv_response("collectors", export.COLLECTORS_HEADER, export.collector_rows(states))

    @routes.get("/videos/{slug}/series.csv")
    def csv_series(
        slug: str,
        view: ViewDep,
        metric: Annotated[str, Query(description=f"One of {', '.join(SERIES_METRICS)}")] = "views",
        bucket: Annotated[str | None, Query(description=BUCKET_DESCRIPTION)] = None,
        cumulative: Annotated[bool, Query()] = True,
    ) -> Response:
        """A chart's data: one row per platform and time bucket."""
        dash.video_or_404(slug)
        series = pages.chart_series(engine, slug, view, metric, bucket, cumulative, dash.platforms)
        rows = export.series_rows(series)
        return csv_response(f"{slug}-{series.metric}", export.SERIES_HEADER, rows)

    @routes.get("/videos/{slug}/posts.csv")
    def csv_posts(slug: str, view: ViewDep, table: TableDep) -> Response:
        """Every repost matching the table's filters (all pages), in the table's order."""
        dash.video_or_404(slug)
        rows, _ = pages.table_rows(engine, slug, view, table, limit=None)
        return csv_response(f"{slug}-posts", export.POSTS_HEADER, export.post_table_rows(rows))

    @routes.get("/videos/{slug}/timeline.csv")
    def csv_timeline(slug: str, view: ViewDep) -> Response:
        """The spread timeline: the first post on each platform."""
        dash.video_or_404(slug)
        first = first_appearances(read.post_appearances(engine, slug, platforms=view.platforms))
        return csv_response(f"{slug}-timeline", export.TIMELINE_HEADER, export.timeline_rows(first))

    @routes.get("/videos/{slug}/cascade.csv")
    def csv_cascade(slug: str) -> Response:
        """Every reshare/crosspost/quote edge between the video's posts."""
        dash.video_or_404(slug)
        posts = read.iter_posts(engine, read.PostFilter(video=slug))
        return csv_response(f"{slug}-cascade", export.CASCADE_HEADER, export.cascade_rows(posts))

    @routes.get("/posts/{post_id}/observations.csv")
    def csv_observations(post_id: int, view: ViewDep) -> Response:
        """One post's counters over time, as drawn on the post page."""
        post = dash.post_or_404(post_id)
        _, series = pages.post_figure_and_series(engine, post, view, [])
        rows = export.post_series_rows(series)
        return csv_response(f"post-{post_id}-observations", export.OBSERVATIONS_HEADER, rows)

    return routes
