"""What each page shows, built once and rendered as HTML, live JSON, API JSON or CSV."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import plotly.graph_objects as go
from markupsafe import Markup
from plotly.io.json import to_json_plotly
from sqlalchemy import Engine

from dashboard import charts
from dashboard.export import iso_utc
from dashboard.gaps import Gap, find_gaps
from dashboard.overview import PostTableRow, VideoSummary, top_posts, video_summaries
from dashboard.params import SeriesQuery, TableParams, View, parse_bucket
from dashboard.platforms import Platforms
from dashboard.series import (
    Series,
    counter_series,
    counter_series_many,
    post_series,
    repost_series,
)
from storage import health, read
from storage.measures_read import MEASURED_COUNTERS
from storage.read import PostRow, VideoRow

PAGE_SIZE = 50
CASCADE_ROOTS = 12
CASCADE_CHILDREN = 12
CASCADE_DEPTH = 4
# Reshare edges listed per parent when expanded (the cascade CSV has them all), and how many
# authors the one-line summary names.
RESHARES_LISTED = 200
RESHARES_PREVIEW = 3
# The video page charts the counters the measures cover, in the same order.
VIDEO_CHARTS = MEASURED_COUNTERS


def figure_json(figures: dict[str, go.Figure]) -> dict[str, Any]:
    return {name: charts.figure_json(fig) for name, fig in figures.items()}


def dumps(payload: Any) -> str:
    """JSON text (numpy arrays included) for responses."""
    return to_json_plotly(payload)


def script_json(payload: Any) -> Markup:
    """JSON safe to place inside <script type="application/json">: no </script>, no HTML."""
    text = dumps(payload)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    # Line and paragraph separators are legal in JSON but end a line in older JavaScript.
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)  # noqa: S704 - escaped above; JSON, not HTML


def video_figures(
    engine: Engine,
    slug: str,
    view: View,
    runs: Sequence[read.RunRow],
    catalog: Platforms,
    empty_note: str = "",
) -> tuple[dict[str, go.Figure], dict[str, Any]]:
    """The video page's charts and the series/rows behind them; `data["gaps"]` lists only the
    gaps some chart shades. `empty_note` goes on charts with nothing to draw."""
    # Gaps are per collector; a platform filter keeps only its collectors' outages.
    beats = health.heartbeats(engine)
    gaps = find_gaps(runs, view.window, view.platforms or None, beats)
    figures: dict[str, go.Figure] = {}
    data: dict[str, Any] = {}
    extents = []
    many = counter_series_many(
        engine, slug, VIDEO_CHARTS, view.window, view.platforms, catalog=catalog
    )
    for metric, series in many.items():
        figures[f"cumulative_{metric}"] = charts.cumulative_figure(
            series, gaps, catalog, empty_note
        )
        data[metric] = series
        extents.append(charts.data_extent(series))
    # One read for both the reposts chart and the first-appearance timeline.
    appearances = read.appearance_times(engine, slug, platforms=view.platforms)
    reposts = repost_series(appearances, slug, view.window, catalog=catalog)
    figures["reposts"] = charts.reposts_figure(reposts, gaps, catalog, empty_note)
    extents.append(charts.data_extent(reposts))
    first = read.first_appearances(engine, slug, platforms=view.platforms)
    figures["timeline"] = charts.timeline_figure(first, catalog, empty_note)
    data["reposts"] = reposts
    data["first"] = first
    data["gaps"] = _shaded_gaps(gaps, extents)
    return figures, data


def _shaded_gaps(gaps: Sequence[Gap], extents: Sequence[tuple[Any, Any]]) -> list[Gap]:
    """Each gap once, if any chart (drawn over its extent) shades part of it."""
    shaded: dict[tuple[str, datetime], Gap] = {}
    for start, end in extents:
        for gap in charts.visible_gaps(gaps, start, end):
            key = (gap.collector, gap.start)
            known = shaded.get(key)
            if known is None or gap.end > known.end:
                shaded[key] = gap
    return sorted(shaded.values(), key=lambda g: (g.start, g.collector))


@dataclass(slots=True)
class CascadeNode:
    """One post in a cascade tree, its children that carry the footage (trimmed for display)
    and its reshare edges summarised."""

    post: PostRow
    children: list[CascadeNode] = field(default_factory=list)
    size: int = 1
    """This post and every quote/crosspost/forward below it (reshare edges not counted)."""
    hidden_children: int = 0
    reshares: read.ReshareGroup | None = None


@dataclass(frozen=True, slots=True)
class Cascade:
    """The video's cascade as the page shows it."""

    trees: list[CascadeNode]
    tree_count: int
    relations: dict[str, int]
    """Edges by relation (reshare, quote, crosspost, forward, …), largest first."""

    @property
    def edges(self) -> int:
        return sum(self.relations.values())


def cascade_tree(posts: Sequence[PostRow], groups: Sequence[read.ReshareGroup] = ()) -> Cascade:
    """The biggest cascade trees among `posts` (reshare edges left out; they come summarised per
    parent in `groups`), trimmed for display, with the number of trees and of edges.

    A tree's weight is its posts plus every reshare in it, so a post with 700 reposts and no
    quotes still ranks first."""
    by_key = {(p.platform, p.platform_post_id): p for p in posts}
    reshares = {(g.parent_platform, g.parent_platform_post_id): g for g in groups}
    children: dict[tuple[str, str], list[PostRow]] = {}
    relations: dict[str, int] = {}
    for p in posts:
        if p.parent_platform and p.parent_platform_post_id:
            children.setdefault((p.parent_platform, p.parent_platform_post_id), []).append(p)
            relation = p.relation or "child"
            relations[relation] = relations.get(relation, 0) + 1
    for g in groups:
        relations[read.RESHARE] = relations.get(read.RESHARE, 0) + g.total
    sizes: dict[tuple[str, str], tuple[int, int]] = {}

    def size_of(key: tuple[str, str], seen: frozenset[tuple[str, str]]) -> tuple[int, int]:
        """(posts, posts + reshares) in the tree under `key`."""
        if key in sizes:
            return sizes[key]
        posts_below, weight_below = 0, 0
        for c in children.get(key, []):
            if (k := (c.platform, c.platform_post_id)) not in seen:
                size, weight = size_of(k, seen | {key})
                posts_below += size
                weight_below += weight
        group = reshares.get(key)
        own_reshares = group.total if group else 0
        sizes[key] = (1 + posts_below, 1 + weight_below + own_reshares)
        return sizes[key]

    roots = [
        p
        for key, p in by_key.items()
        if (key in children or key in reshares)
        and (
            not p.parent_platform
            or (p.parent_platform, p.parent_platform_post_id or "") not in by_key
        )
    ]
    for root in roots:
        size_of((root.platform, root.platform_post_id), frozenset())

    def weight(p: PostRow) -> tuple[int, int]:
        return (-sizes.get((p.platform, p.platform_post_id), (1, 1))[1], -(p.views or 0))

    def build(post: PostRow, depth: int, seen: frozenset[tuple[str, str]]) -> CascadeNode:
        key = (post.platform, post.platform_post_id)
        node = CascadeNode(post, size=sizes.get(key, (1, 1))[0], reshares=reshares.get(key))
        kids = [c for c in children.get(key, []) if (c.platform, c.platform_post_id) not in seen]
        kids.sort(key=weight)
        if depth < CASCADE_DEPTH:
            node.children = [build(c, depth + 1, seen | {key}) for c in kids[:CASCADE_CHILDREN]]
        node.hidden_children = len(kids) - len(node.children)
        return node

    roots.sort(key=weight)
    trees = [build(r, 1, frozenset()) for r in roots[:CASCADE_ROOTS]]
    ordered = dict(sorted(relations.items(), key=lambda item: (-item[1], item[0])))
    return Cascade(trees, len(roots), ordered)


def video_cascade(engine: Engine, slug: str) -> Cascade:
    return cascade_tree(
        read.cascade_posts(engine, slug),
        read.reshare_groups(engine, slug, limit_per_parent=RESHARES_LISTED),
    )


def post_reshares(engine: Engine, post: PostRow) -> read.ReshareGroup | None:
    found = read.reshare_groups(
        engine, parent=(post.platform, post.platform_post_id), limit_per_parent=RESHARES_LISTED
    )
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class TablePage:
    """One page of the reposts table, the rows matching its filters, and the reshare edges
    matching them (listed only when the table includes them)."""

    rows: list[PostTableRow]
    total: int
    reshares: int


def table_page(
    engine: Engine, slug: str, view: View, table: TableParams, page_size: int = PAGE_SIZE
) -> TablePage:
    rows, total = top_posts(engine, slug, view, table, page_size, (table.page - 1) * page_size)
    reshares = read.count_reshares(
        engine, slug, platforms=view.platforms, author=table.author or None
    )
    return TablePage(rows, total, reshares)


def overview_data(
    engine: Engine,
    view: View,
    now: datetime,
    catalog: Platforms,
    totals: Sequence[read.PlatformTotalsRow] | None = None,
) -> list[VideoSummary]:
    """The overview's rows; `totals` (every platform's, when already read) saves a read."""
    if totals is not None and view.platforms:
        totals = [t for t in totals if t.platform in view.platforms]
    return video_summaries(engine, view.window, view.platforms, now, catalog=catalog, totals=totals)


def known_platforms(
    engine: Engine, catalog: Platforms, totals: Sequence[read.PlatformTotalsRow] | None = None
) -> list[str]:
    """Platforms to offer in the filter: every registered one plus any seen in the data
    (`totals`: every video's `read.platform_totals`, when already read)."""
    found = read.platform_totals(engine) if totals is None else totals
    return catalog.order([*catalog.names, *(t.platform for t in found)])


def find_video(engine: Engine, slug: str) -> VideoRow | None:
    return next(iter(read.list_videos(engine, slug)), None)


def post_figure_and_series(
    engine: Engine, post: PostRow, view: View, runs: Sequence[read.RunRow], empty_note: str = ""
) -> tuple[go.Figure, Any]:
    series = post_series(engine, post.id, view.window)
    gaps = find_gaps(runs, view.window, [post.platform], health.heartbeats(engine))
    return charts.post_figure(series, gaps, empty_note), series


def latest_data_at(summaries: Sequence[VideoSummary]) -> datetime | None:
    times = [s.last_observed_at for s in summaries if s.last_observed_at]
    return max(times) if times else None


def json_ready(value: Any) -> Any:
    """Plain JSON values for API responses, as the CSV writes them: datetimes as ISO 8601 UTC
    with a Z, whole numbers as integers (numpy's 1900.0 as 1900), NaN (hidden) as null."""
    if isinstance(value, datetime | np.datetime64):
        return iso_utc(value)
    # Counters travel as floats (NaN where hidden) in numpy series; in JSON they are whole.
    if isinstance(value, float):
        return None if math.isnan(value) else int(value) if value.is_integer() else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


def video_summaries_for(
    engine: Engine, view: View, now: datetime, slug: str, catalog: Platforms
) -> VideoSummary | None:
    found = video_summaries(engine, view.window, view.platforms, now, slug, catalog)
    return found[0] if found else None


@dataclass(frozen=True, slots=True)
class FollowedUrl:
    """A post URL added by hand, with what its last refresh said."""

    post: PostRow
    state: str
    """ok, error, gone or waiting (not read yet)."""
    label: str


def followed_url(post: PostRow) -> FollowedUrl:
    if post.is_gone:
        return FollowedUrl(post, "gone", "gone")
    if post.last_error:
        return FollowedUrl(post, "error", "cannot read")
    if post.latest_observed_at is None:
        return FollowedUrl(post, "waiting", "not read yet")
    return FollowedUrl(post, "ok", "ok")


def manual_posts_by_video(engine: Engine) -> dict[str, list[FollowedUrl]]:
    grouped: dict[str, list[FollowedUrl]] = {}
    for post in read.manual_posts(engine):
        grouped.setdefault(post.video, []).append(followed_url(post))
    return grouped


def post_counts(engine: Engine) -> dict[str, tuple[int, int]]:
    """Per video: posts that carry the footage, and reshare edges."""
    counts: dict[str, tuple[int, int]] = {}
    for t in read.platform_totals(engine):
        posts, reshares = counts.get(t.video, (0, 0))
        counts[t.video] = (posts + t.posts, reshares + t.reshares)
    return counts


def chart_series(
    engine: Engine, slug: str, view: View, query: SeriesQuery, catalog: Platforms
) -> Series:
    """One chart's series as the API and CSV serve it; raises BadParameter for a bad metric or
    bucket."""
    minutes = parse_bucket(query.bucket)
    if query.metric == "reposts":
        appearances = read.appearance_times(engine, slug, platforms=view.platforms)
        return repost_series(appearances, slug, view.window, minutes, catalog)
    return counter_series(
        engine,
        slug,
        query.metric,
        view.window,
        view.platforms,
        minutes,
        cumulative=query.cumulative,
        catalog=catalog,
    )
