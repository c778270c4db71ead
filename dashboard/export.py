"""CSV renderings of the same series and rows the charts and tables use.

Fixed column order, a header row, ISO 8601 UTC timestamps, and spreadsheet-safe cells: text that
starts like a formula gets a leading apostrophe so Excel, Calc and Sheets show it as text instead
of running it. "Starts like a formula" means: a tab, CR or LF first, or = + - @ (in any
compatibility form: fullwidth ＝, small ﹦, superscript ⁼ ...) as the first character after any
white space and invisible characters (zero-width space, BOM, bidi marks, controls).
"""

from __future__ import annotations

import csv
import io
import math
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import numpy as np

from dashboard.gap_growth import GapGrowth
from dashboard.overview import PostTableRow, VideoSummary
from dashboard.series import METRICS, PostSeries, Series
from dashboard.states import CollectorState
from storage.read import COUNTERS, AppearanceRow, PostEventRow, PostRow

# A spreadsheet runs a cell starting with one of these as a formula (OWASP: CSV injection).
FORMULA_FIRST_CHARS = frozenset("=+-@\t\r\n")
FORMULA_SIGNS = frozenset("=+-@")
# Invisible characters outside the Cf/Cc categories (Unicode default-ignorable code points).
IGNORABLE_CHARS = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0") | frozenset(
    chr(c) for c in range(0xFE00, 0xFE10)
)
# `viralwatch export` columns, in this order.
POST_COLUMNS = (
    "video",
    "platform",
    "platform_post_id",
    "url",
    "author",
    "text",
    "published_at",
    "first_seen_at",
    "matched_by",
    "matched_term",
    "parent_platform",
    "parent_platform_post_id",
    "relation",
    "is_gone",
    "gone_at",
    "latest_observed_at",
    *METRICS,
    "last_error",
)
OBSERVATION_COLUMNS = (
    "video",
    "platform",
    "platform_post_id",
    "url",
    "observed_at",
    *METRICS,
    "confirmed_until",
)
ROWS_PER_CHUNK = 1000


def iso_utc(moment: datetime | np.datetime64) -> str:
    """ISO 8601 in UTC with a Z; fractions of a second only when there are any."""
    if isinstance(moment, np.datetime64):
        return f"{np.datetime_as_string(moment.astype('datetime64[us]'))}Z".replace(".000000Z", "Z")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def cell(value: Any) -> str:
    """One CSV cell as text: empty for None, ISO UTC for times, an apostrophe before text a
    spreadsheet would run as a formula."""
    kind = value.__class__
    if kind is str:  # the common cases first: exports write millions of cells
        if "!" <= value[:1] <= "~" and value[0] not in FORMULA_SIGNS:
            return value  # printable ASCII first: nothing hides in front of it
        return "'" + value if runs_as_formula(value) else value
    if value is None:
        return ""
    if kind is int:
        return str(value)
    # bool before int: True is an int, and "1" would read as a count.
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, datetime | np.datetime64):
        return iso_utc(value)
    if isinstance(value, float | np.floating):
        if math.isnan(value):  # a hidden counter in a post series: empty, not "nan"
            return ""
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    return cell(str(value))


def runs_as_formula(text: str) -> bool:
    """True when a spreadsheet could read `text` as a formula, seen past white space and
    invisible characters, with compatibility forms (fullwidth ＝ ...) folded to ASCII."""
    if text[:1] in FORMULA_FIRST_CHARS:
        return True
    for char in text:
        if char.isspace() or char in IGNORABLE_CHARS or unicodedata.category(char) in ("Cf", "Cc"):
            continue
        return unicodedata.normalize("NFKC", char)[:1] in FORMULA_SIGNS
    return False


def write_csv(
    rows: Iterable[Any],
    columns: Sequence[str],
    out: TextIO,
    on_row: Callable[[], None] | None = None,
) -> int:
    """Write a header and one line per row (attributes named by `columns`) to `out`, streaming;
    returns the row count. `on_row` is called after each row (progress bars)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([cell(getattr(row, column)) for column in columns])
        count += 1
        if on_row is not None:
            on_row()
    return count


def stream_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """CSV text in chunks of ROWS_PER_CHUNK rows, header first; memory stays flat."""
    buffer = io.StringIO()
    # CRLF as RFC 4180 asks: a download is read by spreadsheets, the CLI export by scripts.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for count, row in enumerate(rows, start=1):
        writer.writerow([cell(v) for v in row])
        if count % ROWS_PER_CHUNK == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


SERIES_HEADER = (
    "video",
    "metric",
    "kind",
    "platform",
    "bucket_start",
    "bucket_end",
    "time",
    "value",
    "growth_since",
)


def series_rows(series: Series, growth: Sequence[GapGrowth] = ()) -> Iterator[tuple[Any, ...]]:
    """One row per platform and bucket; `time` is where the chart draws the value, and
    `growth_since` is set where that bucket's growth covers a gap from then (issue 13)."""
    kind = "cumulative" if series.cumulative else "per_bucket"
    since = {(g.platform, g.index): g.since for g in growth}
    for platform, values in series.values.items():
        for index, (start, end, at, value) in enumerate(
            zip(series.starts, series.ends, series.times, values, strict=True)
        ):
            covered = since.get((platform, index))
            yield (series.video, series.metric, kind, platform, start, end, at, value, covered)


POSTS_HEADER = (
    "id",
    "platform",
    "platform_post_id",
    "url",
    "author",
    "appeared_at",
    "first_seen_at",
    "latest_observed_at",
    *METRICS,
    "growth_views",
    "parent_platform",
    "parent_platform_post_id",
    "relation",
    "is_gone",
    "text",
    "last_error",
    "matched_by",
    "matched_term",
    "matched_videos",
)


def post_table_rows(rows: Iterable[PostTableRow]) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        p = row.post
        yield (
            p.id,
            p.platform,
            p.platform_post_id,
            p.url,
            p.author,
            row.appeared_at,
            p.first_seen_at,
            p.latest_observed_at,
            p.views,
            p.likes,
            p.shares,
            p.comments,
            p.quotes,
            row.growth_views,
            p.parent_platform,
            p.parent_platform_post_id,
            p.relation,
            p.is_gone,
            p.text,
            p.last_error,
            p.matched_by,
            p.matched_term,
            # Every video the post matched (this one included), space-separated slugs.
            " ".join(m.video for m in row.matches),
        )


TIMELINE_HEADER = ("platform", "appeared_at", "post_id", "platform_post_id", "author", "url")


def timeline_rows(first: Iterable[AppearanceRow]) -> Iterator[tuple[Any, ...]]:
    for a in first:
        yield (a.platform, a.appeared_at, a.id, a.platform_post_id, a.author, a.url)


CASCADE_HEADER = (
    "parent_platform",
    "parent_platform_post_id",
    "relation",
    "child_id",
    "child_platform",
    "child_platform_post_id",
    "child_author",
    "child_url",
    "child_views",
    "child_appeared_at",
)


def cascade_rows(posts: Iterable[PostRow]) -> Iterator[tuple[Any, ...]]:
    """Every parent -> child edge among the posts."""
    for p in posts:
        if p.parent_platform and p.parent_platform_post_id:
            yield (
                p.parent_platform,
                p.parent_platform_post_id,
                p.relation,
                p.id,
                p.platform,
                p.platform_post_id,
                p.author,
                p.url,
                p.views,
                p.published_at or p.first_seen_at,
            )


OBSERVATIONS_HEADER = ("post_id", "observed_at", *COUNTERS)


def post_series_rows(series: PostSeries) -> Iterator[tuple[Any, ...]]:
    v = series.values
    for i, at in enumerate(series.times):
        yield (
            series.post_id,
            at,
            *(v[m][i] for m in METRICS),
        )


EVENTS_HEADER = ("post_id", "at", "event", "reason")


def post_event_rows(post_id: int, events: Iterable[PostEventRow]) -> Iterator[tuple[Any, ...]]:
    """A post's gone and returned events (issue 8), oldest first."""
    for event in events:
        yield (post_id, event.at, event.kind, event.reason)


VIDEOS_HEADER = (
    "slug",
    "title",
    "is_paused",
    "posts",
    "reshares",
    "platforms",
    *METRICS,
    "growth_views_1h",
    "growth_views_24h",
    "growth_views_window",
    "last_observed_at",
)


def video_summary_rows(summaries: Iterable[VideoSummary]) -> Iterator[tuple[Any, ...]]:
    for s in summaries:
        t = s.totals
        yield (
            s.video.slug,
            s.video.title,
            s.video.is_paused,
            s.posts,
            s.reshares,
            " ".join(s.platforms),
            t["views"],
            t["likes"],
            t["shares"],
            t["comments"],
            t["quotes"],
            s.growth_1h,
            s.growth_24h,
            s.growth_window,
            s.last_observed_at,
        )


COLLECTORS_HEADER = ("collector", "state", "label", "last_run_at", "retry_at", "error_message")


def collector_rows(states: Iterable[CollectorState]) -> Iterator[tuple[Any, ...]]:
    for s in states:
        yield (s.name, s.state, s.label, s.last_run_at, s.retry_at, s.error_message)
