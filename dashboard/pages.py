"""What each page shows, built once and rendered as HTML, live JSON, API JSON or CSV."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import plotly.graph_objects as go
from markupsafe import Markup
from plotly.io.json import to_json_plotly
from sqlalchemy import Engine

from dashboard import charts
from dashboard.export import iso_utc
from dashboard.series import (
    PLATFORMS,
    BadParameter,
    PostTableRow,
    VideoSummary,
    Window,
    counter_series,
    find_gaps,
    first_appearances,
    platform_order,
    post_series,
    repost_series,
    top_posts,
    video_summaries,
)
from storage import read
from storage.read import PostFilter, PostRow, VideoRow

PAGE_SIZE = 50
CASCADE_ROOTS = 12
CASCADE_CHILDREN = 12
CASCADE_DEPTH = 4
VIDEO_CHARTS = ("views", "shares", "likes")


@dataclass(frozen=True, slots=True)
class View:
    """The parameters every page shares and keeps in its URL: time range and platforms."""

    window: Window
    platforms: tuple[str, ...]

    def params(self) -> list[tuple[str, str]]:
        params = [("range", self.window.range)]
        if self.window.range == "custom":
            if self.window.start_text:
                params.append(("start", self.window.start_text))
            if self.window.end_text:
                params.append(("end", self.window.end_text))
        params.extend(("platform", p) for p in self.platforms)
        return params

    def url(self, path: str, **changes: str | None) -> str:
        """`path` with this view's parameters, some replaced (None drops a parameter)."""
        params = [(k, v) for k, v in self.params() if k not in changes]
        params.extend((k, v) for k, v in changes.items() if v is not None)
        return f"{path}?{urlencode(params)}" if params else path


@dataclass(frozen=True, slots=True)
class TableParams:
    """Sorting, filtering and paging of the reposts table (kept in the URL too)."""

    sort: str = "views"
    descending: bool = True
    author: str = ""
    page: int = 1

    def params(self) -> dict[str, str | None]:
        return {
            "sort": self.sort,
            "order": "desc" if self.descending else "asc",
            "author": self.author or None,
            "page": str(self.page) if self.page > 1 else None,
        }


def parse_table(
    sort: str | None, order: str | None, author: str | None, page: str | None
) -> TableParams:
    if order not in (None, "", "asc", "desc"):
        raise BadParameter("order: use asc or desc")
    try:
        number = int(page) if page else 1
    except ValueError as err:
        raise BadParameter("page: must be a whole number") from err
    if number < 1 or number > 100_000:
        raise BadParameter("page: must be between 1 and 100000")
    return TableParams(
        sort=sort or "views",
        descending=order != "asc",
        author=(author or "").strip()[:100],
        page=number,
    )


def figure_json(figures: dict[str, go.Figure]) -> dict[str, Any]:
    return {name: fig.to_plotly_json() for name, fig in figures.items()}


def dumps(payload: Any) -> str:
    """JSON text (numpy arrays included) for responses."""
    return to_json_plotly(payload)


def script_json(payload: Any) -> Markup:
    """JSON safe to place inside <script type="application/json">: no </script>, no HTML."""
    text = dumps(payload)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)  # noqa: S704 - escaped above; JSON, not HTML


def video_figures(
    engine: Engine, slug: str, view: View, runs: Sequence[read.RunRow]
) -> tuple[dict[str, go.Figure], dict[str, Any]]:
    """The video page's charts and the series/rows behind them."""
    gaps = find_gaps(runs, view.window, view.platforms or None)
    figures: dict[str, go.Figure] = {}
    data: dict[str, Any] = {"gaps": gaps}
    for metric in VIDEO_CHARTS:
        series = counter_series(engine, slug, metric, view.window, view.platforms)
        figures[f"cumulative_{metric}"] = charts.cumulative_figure(series, gaps)
        data[metric] = series
    appearances = read.post_appearances(engine, slug, platforms=view.platforms)
    reposts = repost_series(appearances, slug, view.window)
    figures["reposts"] = charts.reposts_figure(reposts, gaps)
    first = first_appearances(appearances)
    figures["timeline"] = charts.timeline_figure(first)
    data["reposts"] = reposts
    data["first"] = first
    return figures, data


@dataclass(slots=True)
class CascadeNode:
    post: PostRow
    children: list[CascadeNode] = field(default_factory=list)
    size: int = 1
    hidden_children: int = 0


def cascade_tree(posts: Sequence[PostRow]) -> tuple[list[CascadeNode], int, int]:
    """The biggest reshare/crosspost/quote trees among `posts` (trimmed for display), the number
    of trees and the number of edges."""
    by_key = {(p.platform, p.platform_post_id): p for p in posts}
    children: dict[tuple[str, str], list[PostRow]] = {}
    edges = 0
    for p in posts:
        if p.parent_platform and p.parent_platform_post_id:
            children.setdefault((p.parent_platform, p.parent_platform_post_id), []).append(p)
            edges += 1
    sizes: dict[tuple[str, str], int] = {}

    def size_of(key: tuple[str, str], seen: frozenset[tuple[str, str]]) -> int:
        if key in sizes:
            return sizes[key]
        total = 1 + sum(
            size_of(k, seen | {key})
            for c in children.get(key, [])
            if (k := (c.platform, c.platform_post_id)) not in seen
        )
        sizes[key] = total
        return total

    roots = [
        p
        for key, p in by_key.items()
        if key in children
        and (
            not p.parent_platform
            or (p.parent_platform, p.parent_platform_post_id or "") not in by_key
        )
    ]
    for root in roots:
        size_of((root.platform, root.platform_post_id), frozenset())

    def build(post: PostRow, depth: int, seen: frozenset[tuple[str, str]]) -> CascadeNode:
        key = (post.platform, post.platform_post_id)
        node = CascadeNode(post, size=sizes.get(key, 1))
        kids = [c for c in children.get(key, []) if (c.platform, c.platform_post_id) not in seen]
        kids.sort(key=lambda c: (-sizes.get((c.platform, c.platform_post_id), 1), -(c.views or 0)))
        if depth < CASCADE_DEPTH:
            node.children = [build(c, depth + 1, seen | {key}) for c in kids[:CASCADE_CHILDREN]]
        node.hidden_children = len(kids) - len(node.children)
        return node

    roots.sort(key=lambda p: (-sizes[(p.platform, p.platform_post_id)], -(p.views or 0)))
    trees = [build(r, 1, frozenset()) for r in roots[:CASCADE_ROOTS]]
    return trees, len(roots), edges


def video_posts(engine: Engine, slug: str) -> list[PostRow]:
    return list(read.iter_posts(engine, PostFilter(video=slug)))


def table_page(
    engine: Engine, slug: str, view: View, table: TableParams
) -> tuple[list[PostTableRow], int]:
    return top_posts(
        engine,
        slug,
        view.window,
        platforms=view.platforms,
        author=table.author or None,
        sort=table.sort,
        descending=table.descending,
        limit=PAGE_SIZE,
        offset=(table.page - 1) * PAGE_SIZE,
    )


def overview_data(engine: Engine, view: View, now: datetime) -> list[VideoSummary]:
    return video_summaries(engine, view.window, view.platforms, now)


def known_platforms(engine: Engine) -> list[str]:
    """Platforms to offer in the filter: every built-in plus any seen in the data."""
    seen = {t.platform for t in read.platform_totals(engine)}
    return platform_order([*PLATFORMS, *seen])


def find_video(engine: Engine, slug: str) -> VideoRow | None:
    return next((v for v in read.list_videos(engine) if v.slug == slug), None)


def post_figure_and_series(
    engine: Engine, post: PostRow, view: View, runs: Sequence[read.RunRow]
) -> tuple[go.Figure, Any]:
    series = post_series(engine, post.id, view.window)
    gaps = find_gaps(runs, view.window, [post.platform])
    return charts.post_figure(series, gaps), series


def latest_data_at(summaries: Sequence[VideoSummary]) -> datetime | None:
    times = [s.last_observed_at for s in summaries if s.last_observed_at]
    return max(times) if times else None


def json_ready(value: Any) -> Any:
    """Plain JSON values for API responses (datetimes as ISO 8601 UTC)."""
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value


def video_summaries_for(
    engine: Engine, view: View, now: datetime, slug: str
) -> VideoSummary | None:
    found = video_summaries(engine, view.window, view.platforms, now, slug)
    return found[0] if found else None
