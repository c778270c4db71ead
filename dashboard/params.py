"""HTTP parameter parsing: query strings and forms -> the typed values pages and series take.

Every parser raises BadParameter with a message naming the parameter and what it accepts; the
app turns that into a 400 (JSON for the API and CSV, an error page for HTML).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Query, Request

from dashboard.errors import BadParameter
from dashboard.series import SERIES_METRICS
from dashboard.timegrid import RANGES, Window

RANGE_CHOICES = ("1h", "24h", "7d", "all", "custom")


# Bucket names the API accepts -> minutes. Sizes under an hour read the 5-minute rollup.
BUCKET_NAMES = {
    "5m": 5,
    "10m": 10,
    "15m": 15,
    "30m": 30,
    "1h": 60,
    "2h": 120,
    "3h": 180,
    "6h": 360,
    "12h": 720,
    "1d": 1440,
    "2d": 2880,
    "7d": 10080,
}


BUCKET_DESCRIPTION = (
    "Bucket size: auto (5 minutes for ranges up to 24 h, else 1 hour or coarser, at most 400 "
    f"points), or one of {', '.join(BUCKET_NAMES)} (5m, 10m, 15m, 30m: minutes; sizes under an "
    "hour read the 5-minute rollup). A size giving more than 2000 buckets is refused (400)."
)
_PLATFORM_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


def parse_time(name: str, value: str) -> datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as err:
        raise BadParameter(
            f"{name}: {value[:40]!r} is not a date and time; use e.g. 2024-05-01T12:00 (UTC)"
        ) from err
    # Browser datetime-local inputs carry no zone; the form labels them as UTC.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_window(
    range_name: str | None, start: str | None, end: str | None, now: datetime
) -> Window:
    """The window for `range` (1h, 24h, 7d, all, custom with start/end); raises BadParameter."""
    name = range_name or "all"
    if name not in RANGE_CHOICES:
        raise BadParameter(
            f"range: {name[:20]!r} is unknown; use one of {', '.join(RANGE_CHOICES)}"
        )
    if name == "custom":
        # Half a range is a mistake, not "until now": say so rather than guess (issue 10).
        if not start or not end:
            raise BadParameter("range=custom needs both start and end, e.g. 2024-05-01T12:00")
        since, until = parse_time("start", start), parse_time("end", end)
        if since >= until:
            raise BadParameter("start must be before end")
        return Window(name, since, until, start, end)
    if start or end:
        raise BadParameter("start and end apply only with range=custom")
    if name == "all":
        return Window(name, None, now)
    return Window(name, now - RANGES[name], now)


def parse_platforms(
    values: Iterable[str], unknown: Callable[[list[str]], list[str]] | None = None
) -> tuple[str, ...]:
    """Platform filter values (repeated or comma-separated), validated and de-duplicated.

    `unknown` picks the names no platform has (None: any well-formed name passes)."""
    names: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip().lower()
            if not name:
                continue
            if not _PLATFORM_NAME.match(name):
                raise BadParameter(f"platform: {name[:40]!r} is not a platform name")
            if name not in names:
                names.append(name)
    strangers = unknown(names) if names and unknown is not None else []
    if strangers:
        raise BadParameter(f"platform: {strangers[0]!r} is unknown; see /api/collectors")
    return tuple(names)


def parse_bucket(value: str | None) -> int | None:
    """Bucket size in minutes from "5m", "1h", "6h", "1d"…; None (or "auto") picks one."""
    if value in (None, "", "auto"):
        return None
    if value not in BUCKET_NAMES:
        raise BadParameter(
            f"bucket: {value[:20]!r} is unknown; use auto or {', '.join(BUCKET_NAMES)}"
        )
    return BUCKET_NAMES[value]


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
    reshares: bool = False
    """List reshare edges (no counters) too; by default only posts that carry the footage."""

    def params(self) -> dict[str, str | None]:
        return {
            "sort": self.sort,
            "order": "desc" if self.descending else "asc",
            "author": self.author or None,
            "reshares": "include" if self.reshares else None,
            "page": str(self.page) if self.page > 1 else None,
        }


def parse_table(
    sort: str | None,
    order: str | None,
    author: str | None,
    page: str | None,
    reshares: str | None = None,
) -> TableParams:
    if order not in (None, "", "asc", "desc"):
        raise BadParameter("order: use asc or desc")
    if reshares not in (None, "", "include", "exclude"):
        raise BadParameter("reshares: use include or exclude")
    try:
        number = int(page) if page else 1
    except ValueError as err:
        raise BadParameter("page: must be a whole number") from err
    # Bounded so a hand-typed page number cannot ask the database for a huge OFFSET.
    if number < 1 or number > 100_000:
        raise BadParameter("page: must be between 1 and 100000")
    # The sort key is checked by storage (read.POST_SORTS), which knows the columns.
    return TableParams(
        sort=sort or "views",
        descending=order != "asc",
        author=(author or "").strip()[:100],  # a substring filter: longer matches nothing
        page=number,
        reshares=reshares == "include",
    )


def view_params(
    request: Request,
    range: Annotated[
        str, Query(description="Time range: 1h, 24h, 7d, all, or custom (with start/end)")
    ] = "all",
    start: Annotated[
        str | None,
        Query(description="Custom range start (with range=custom), ISO 8601 (UTC if no zone)"),
    ] = None,
    end: Annotated[
        str | None,
        Query(description="Custom range end (with range=custom), ISO 8601 (UTC if no zone)"),
    ] = None,
    platform: Annotated[
        list[str] | None, Query(description="Only these platforms (repeat or comma-separate)")
    ] = None,
) -> View:
    # The app's clock (create_app keeps the Dashboard in app.state): tests and the demo set "now".
    dash = request.app.state.dashboard
    return View(
        parse_window(range, start, end, dash.clock()),
        parse_platforms(platform or [], dash.unknown_platforms),
    )


def table_params(
    sort: Annotated[
        str | None,
        Query(description="views, likes, shares, comments, quotes, appeared, platform, author"),
    ] = None,
    order: Annotated[str | None, Query(description="asc or desc")] = None,
    author: Annotated[str | None, Query(description="Author contains (case-insensitive)")] = None,
    page: Annotated[str | None, Query(description="Page number, from 1")] = None,
    reshares: Annotated[
        str | None,
        Query(
            description="include: list reshare edges (reposts/boosts without counters) "
            "too; exclude (default): only posts that carry the footage"
        ),
    ] = None,
) -> TableParams:
    return parse_table(sort, order, author, page, reshares)


ViewDep = Annotated[View, Depends(view_params)]
TableDep = Annotated[TableParams, Depends(table_params)]


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    """Which series a chart's API or CSV request asks for."""

    metric: str
    bucket: str | None
    cumulative: bool


def series_params(
    metric: Annotated[str, Query(description=f"One of {', '.join(SERIES_METRICS)}")] = "views",
    bucket: Annotated[str | None, Query(description=BUCKET_DESCRIPTION)] = None,
    cumulative: Annotated[
        bool, Query(description="Running totals (reposts: always per bucket)")
    ] = True,
) -> SeriesQuery:
    return SeriesQuery(metric, bucket, cumulative)


SeriesDep = Annotated[SeriesQuery, Depends(series_params)]
