"""Query parameters and server-side aggregation: rows from storage/read.py -> numpy series.

Every chart, JSON response and CSV download is built from the functions here, so the three
renderings always agree. Series are bucketed in time on the grid of the rollup they read:
5 minutes for windows up to 24 hours (at most 288 points), whole hours for longer or open ones
(the hourly rollup); they never exceed MAX_POINTS points per trace.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import Engine

from config.settings import Settings
from storage import read
from storage.read import AppearanceRow, PostRow, RunRow, VideoRow

# The one spelling and display order of each platform; unknown names sort after these.
PLATFORMS = (
    "youtube",
    "x",
    "tiktok",
    "reddit",
    "bluesky",
    "mastodon",
    "telegram",
    "hackernews",
    "lemmy",
    "dailymotion",
    "youtube_rss",
    "rss",
    "urls",
)
METRICS = ("views", "likes", "shares", "comments", "quotes")
SERIES_METRICS = (*METRICS, "reposts")
RANGES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
RANGE_CHOICES = ("1h", "24h", "7d", "all", "custom")
MAX_POINTS = 2000
# Windows up to FINE_SPAN long are drawn in FINE_MINUTES buckets from the 5-minute rollup.
FINE_SPAN = timedelta(hours=24)
FINE_MINUTES = 5
BUCKET_HOURS = (1, 2, 3, 6, 12, 24, 48, 168)
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
FAILING = {
    "failed": "failing",
    "rate_limited": "rate-limited",
    "auth_failed": "credentials rejected",
}
_PLATFORM_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


class BadParameter(ValueError):
    """A query parameter is invalid; the message names it and says what is accepted."""


@dataclass(frozen=True, slots=True)
class Window:
    """The time range a view covers: [since, until); since None means from the first data."""

    range: str
    since: datetime | None
    until: datetime
    start_text: str = ""
    end_text: str = ""


def floor_to(moment: datetime, minutes: int) -> datetime:
    """`moment` rounded down to a multiple of `minutes` (a divisor of 60, or 60) in its hour."""
    return moment.replace(minute=moment.minute - moment.minute % minutes, second=0, microsecond=0)


def ceil_to(moment: datetime, minutes: int) -> datetime:
    floored = floor_to(moment, minutes)
    return floored if floored == moment else floored + timedelta(minutes=minutes)


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
        since = parse_time("start", start) if start else None
        until = parse_time("end", end) if end else now
        if since is not None and since >= until:
            raise BadParameter("start must be before end")
        return Window(name, since, until, start or "", end or "")
    if name == "all":
        return Window(name, None, now)
    return Window(name, now - RANGES[name], now)


def parse_platforms(values: Iterable[str]) -> tuple[str, ...]:
    """Platform filter values (repeated or comma-separated), validated and de-duplicated."""
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


def platform_order(names: Iterable[str]) -> list[str]:
    known = {name: i for i, name in enumerate(PLATFORMS)}
    return sorted(set(names), key=lambda n: (known.get(n, len(known)), n))


def is_fine(window: Window) -> bool:
    """Whether `window` is short enough for 5-minute buckets (FINE_SPAN at most)."""
    return window.since is not None and window.until - window.since <= FINE_SPAN


def grid_minutes(window: Window, bucket_minutes: int | None) -> int:
    """The grid (and rollup) a series of `bucket_minutes` (None: auto) is built on: 5 or 60."""
    if bucket_minutes is None:
        return FINE_MINUTES if is_fine(window) else 60
    return 60 if bucket_minutes % 60 == 0 else FINE_MINUTES


def axis_start(window: Window, grid: int) -> datetime | None:
    """The first grid boundary at or after the window's start, so a 24-hour window has 288
    five-minute buckets and an hour 12 (what came before is the cumulative baseline). A window
    shorter than one grid step starts at the boundary before. None for an open window."""
    if window.since is None:
        return None
    start = ceil_to(window.since, grid)
    return start if start < window.until else floor_to(window.since, grid)


def auto_bucket_hours(span_hours: int) -> int:
    for hours in BUCKET_HOURS:
        if math.ceil(span_hours / hours) <= MAX_POINTS:
            return hours
    return math.ceil(span_hours / MAX_POINTS)


def to_datetime64(moment: datetime) -> np.datetime64:
    return np.datetime64(moment.astimezone(UTC).replace(tzinfo=None), "s")


def to_datetime(moment: np.datetime64) -> datetime:
    seconds = int(moment.astype("datetime64[s]").astype(np.int64))
    return datetime.fromtimestamp(seconds, tz=UTC)


@dataclass(frozen=True, slots=True)
class Series:
    """One metric of one video per platform, on a shared time axis of equal buckets.

    `values[p][i]` is the cumulative total at the end of bucket i (cumulative series) or the
    amount in bucket i (per-bucket series, e.g. new reposts).
    """

    video: str
    metric: str
    cumulative: bool
    bucket_minutes: int
    starts: np.ndarray
    ends: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def bucket_hours(self) -> float:
        return self.bucket_minutes / 60

    @property
    def times(self) -> np.ndarray:
        """Where each value is drawn: the bucket's end for totals, its start for amounts."""
        return self.ends if self.cumulative else self.starts


def _axis(
    t0: datetime, until: datetime, grid: int, bucket_minutes: int | None
) -> tuple[int, np.ndarray]:
    """Bucket size in minutes and bucket starts from `t0` (on the grid) up to `until`.

    Raises BadParameter when a requested bucket size would give more than MAX_POINTS buckets.
    """
    step = np.timedelta64(grid, "m")
    first = to_datetime64(t0)
    last = to_datetime64(floor_to(until - timedelta(microseconds=1), grid))
    span_steps = max(1, int((last - first) // step) + 1)
    if bucket_minutes is not None:
        minutes = bucket_minutes
    elif grid == FINE_MINUTES:
        minutes = FINE_MINUTES
    else:
        minutes = auto_bucket_hours(span_steps) * 60
    count = math.ceil(span_steps * grid / minutes)
    if count > MAX_POINTS:
        raise BadParameter(
            f"bucket: {count} buckets of {minutes} minutes in this range, over the "
            f"{MAX_POINTS} allowed; pick a larger bucket or auto"
        )
    return minutes, first + np.arange(count) * np.timedelta64(minutes, "m")


def counter_series(
    engine: Engine,
    video: str,
    metric: str,
    window: Window,
    platforms: Sequence[str] = (),
    bucket_minutes: int | None = None,
    *,
    cumulative: bool = True,
) -> Series:
    """Growth of `metric` per platform from the rollups, cumulative (from the first data, not
    from the window start) unless `cumulative` is False.

    Windows up to 24 hours (and buckets under an hour) read the 5-minute rollup, others the
    hourly one; `bucket_minutes` None picks the size. Raises BadParameter for an unknown metric
    or too many buckets.
    """
    if metric not in METRICS:
        raise BadParameter(
            f"metric: {metric[:20]!r} is unknown; use one of {', '.join(SERIES_METRICS)}"
        )
    grid = grid_minutes(window, bucket_minutes)
    since = axis_start(window, grid)
    rows = read.rollup_deltas(
        engine, video, bucket_minutes=grid, platforms=platforms, since=since, until=window.until
    )
    t0 = since or (rows[0].bucket_start if rows else floor_to(window.until, grid))
    minutes, starts = _axis(t0, window.until, grid, bucket_minutes)
    baseline: dict[str, int] = {}
    if since is not None and cumulative:
        for row in read.rollup_totals_before(engine, video, since, platforms=platforms):
            baseline[row.platform] = getattr(row, metric)
    by_platform: dict[str, list[tuple[np.datetime64, int]]] = {p: [] for p in baseline}
    for row in rows:
        by_platform.setdefault(row.platform, []).append(
            (to_datetime64(row.bucket_start), getattr(row, metric))
        )
    values = {}
    for platform in platform_order(by_platform):
        amounts = np.zeros(len(starts), dtype=np.int64)
        points = by_platform[platform]
        if points:
            at = np.array([p[0] for p in points], dtype="datetime64[s]")
            index = ((at - starts[0]) // np.timedelta64(minutes, "m")).astype(np.int64)
            np.add.at(amounts, index, np.array([p[1] for p in points], dtype=np.int64))
        values[platform] = np.cumsum(amounts) + baseline.get(platform, 0) if cumulative else amounts
    return Series(
        video, metric, cumulative, minutes, starts, _ends(starts, minutes, window), values
    )


def _ends(starts: np.ndarray, minutes: int, window: Window) -> np.ndarray:
    return np.minimum(starts + np.timedelta64(minutes, "m"), to_datetime64(window.until))


def repost_series(
    appearances: Sequence[AppearanceRow],
    video: str,
    window: Window,
    bucket_minutes: int | None = None,
) -> Series:
    """New reposts per bucket and platform, by when each post appeared, on the same buckets as
    `counter_series` for the window."""
    grid = grid_minutes(window, bucket_minutes)
    since = axis_start(window, grid)
    inside = [
        a
        for a in appearances
        if (since is None or a.appeared_at >= since) and a.appeared_at < window.until
    ]
    t0 = since or floor_to(inside[0].appeared_at if inside else window.until, grid)
    minutes, starts = _axis(t0, window.until, grid, bucket_minutes)
    grouped: dict[str, list[np.datetime64]] = {}
    for a in inside:
        grouped.setdefault(a.platform, []).append(to_datetime64(a.appeared_at))
    values = {}
    for platform in platform_order(grouped):
        at = np.array(grouped[platform], dtype="datetime64[s]")
        index = ((at - starts[0]) // np.timedelta64(minutes, "m")).astype(np.int64)
        values[platform] = np.bincount(index, minlength=len(starts)).astype(np.int64)
    return Series(video, "reposts", False, minutes, starts, _ends(starts, minutes, window), values)


def first_appearances(appearances: Sequence[AppearanceRow]) -> list[AppearanceRow]:
    """The first post on each platform (the one that carried the footage there), oldest first."""
    first: dict[str, AppearanceRow] = {}
    for a in appearances:
        if a.platform not in first or a.appeared_at < first[a.platform].appeared_at:
            first[a.platform] = a
    return sorted(first.values(), key=lambda a: (a.appeared_at, a.id))


@dataclass(frozen=True, slots=True)
class Gap:
    """A period when a collector was failing: its data there is missing, not zero."""

    collector: str
    status: str
    start: datetime
    end: datetime
    message: str | None


def find_gaps(
    runs: Sequence[RunRow], window: Window, collectors: Iterable[str] | None = None
) -> list[Gap]:
    """Periods from a failing run (failed, rate-limited, auth failed) to the next ok run."""
    wanted = set(collectors) if collectors is not None else None
    open_gaps: dict[str, Gap] = {}
    gaps: list[Gap] = []
    for run in sorted(runs, key=lambda r: r.started_at):
        if wanted is not None and run.collector not in wanted:
            continue
        current = open_gaps.get(run.collector)
        if run.status in FAILING:
            if current is None:
                open_gaps[run.collector] = Gap(
                    run.collector, run.status, run.started_at, window.until, run.error_message
                )
            else:
                open_gaps[run.collector] = Gap(
                    run.collector, current.status, current.start, window.until, run.error_message
                )
        elif run.status == "ok" and current is not None:
            gaps.append(
                Gap(
                    current.collector,
                    current.status,
                    current.start,
                    run.started_at,
                    current.message,
                )
            )
            del open_gaps[run.collector]
    gaps.extend(open_gaps.values())
    clipped = []
    for gap in gaps:
        start = max(gap.start, window.since) if window.since else gap.start
        end = min(gap.end, window.until)
        if start < end:
            clipped.append(Gap(gap.collector, gap.status, start, end, gap.message))
    return sorted(clipped, key=lambda g: (g.start, g.collector))


@dataclass(frozen=True, slots=True)
class PostSeries:
    """One post's counters over time (downsampled to MAX_POINTS); NaN where not exposed."""

    post_id: int
    times: np.ndarray
    values: dict[str, np.ndarray]


def post_series(engine: Engine, post_id: int, window: Window) -> PostSeries:
    """One post's observations in the window, evenly thinned to at most MAX_POINTS."""
    rows = read.post_observations(engine, post_id, since=window.since, until=window.until)
    if len(rows) > MAX_POINTS:
        step = math.ceil(len(rows) / MAX_POINTS)
        keep = list(range(0, len(rows), step))
        if keep[-1] != len(rows) - 1:
            keep.append(len(rows) - 1)
        rows = [rows[i] for i in keep]
    times = np.array([to_datetime64(r.observed_at) for r in rows], dtype="datetime64[s]")
    values = {
        metric: np.array(
            [np.nan if getattr(r, metric) is None else getattr(r, metric) for r in rows],
            dtype=np.float64,
        )
        for metric in METRICS
    }
    return PostSeries(post_id, times, values)


@dataclass(frozen=True, slots=True)
class PostTableRow:
    post: PostRow
    appeared_at: datetime
    growth_views: int | None
    """Views gained inside the window (all views for an "all" window); None when hidden."""


def top_posts(
    engine: Engine,
    video: str,
    window: Window,
    *,
    platforms: Sequence[str] = (),
    author: str | None = None,
    sort: str = "views",
    descending: bool = True,
    limit: int | None = 100,
    offset: int = 0,
    reshares: bool = False,
) -> tuple[list[PostTableRow], int]:
    """A page of the reposts table with each post's growth in the window; and the match count.
    Reshare edges (no counters) are listed only with `reshares`."""
    try:
        posts, total = read.list_posts(
            engine,
            video,
            platforms=platforms,
            author=author,
            sort=sort,
            descending=descending,
            limit=limit,
            offset=offset,
            reshares=reshares,
        )
    except ValueError as err:
        raise BadParameter(f"sort: {err}") from err
    before = read.counters_at(engine, [p.id for p in posts], window.since) if window.since else {}
    rows = []
    for post in posts:
        growth = None
        if post.views is not None:
            baseline = before.get(post.id)
            growth = post.views - ((baseline.views or 0) if baseline else 0)
        rows.append(PostTableRow(post, post.published_at or post.first_seen_at, growth))
    return rows, total


@dataclass(frozen=True, slots=True)
class VideoSummary:
    """One row of the overview."""

    video: VideoRow
    posts: int
    """Posts that carry the footage (with counters of their own)."""
    reshares: int
    """Reshare edges: who reposted/boosted one of those posts (no counters)."""
    totals: dict[str, int]
    platforms: list[str]
    growth_1h: int
    growth_24h: int
    growth_window: int
    sparkline: np.ndarray
    last_observed_at: datetime | None
    sparkline_minutes: int = 60
    """The bucket size behind the sparkline: 5 for windows up to 24 hours, else 60."""


def video_summaries(
    engine: Engine, window: Window, platforms: Sequence[str], now: datetime, slug: str | None = None
) -> list[VideoSummary]:
    """Overview rows: totals from the latest counters, growth and sparkline from the rollups.

    Growth "last hour" and "24 h" sum the 5-minute buckets of the last 60 minutes / 24 hours
    (12 / 288 buckets, the newest one still filling). Growth in the window and the sparkline
    use the window's buckets, as its charts do.
    """
    totals = read.platform_totals(engine, video=slug, platforms=platforms)
    day_ago = ceil_to(now - timedelta(hours=24), FINE_MINUTES)
    hour_ago = ceil_to(now - timedelta(hours=1), FINE_MINUTES)
    recent = read.rollup_deltas(
        engine,
        slug,
        bucket_minutes=FINE_MINUTES,
        platforms=platforms,
        since=day_ago,
        until=now,
        by_platform=False,
    )
    grid = grid_minutes(window, None)
    since = axis_start(window, grid)
    if grid == FINE_MINUTES and since is not None and since >= day_ago and window.until == now:
        windowed = [r for r in recent if r.bucket_start >= since]
    else:
        windowed = read.rollup_deltas(
            engine,
            slug,
            bucket_minutes=grid,
            platforms=platforms,
            since=since,
            until=window.until,
            by_platform=False,
        )
    summaries = []
    for video in read.list_videos(engine):
        if slug is not None and video.slug != slug:
            continue
        mine = [t for t in totals if t.video == video.slug]
        buckets = [r for r in recent if r.video == video.slug]
        in_window = [r for r in windowed if r.video == video.slug]
        observed = [t.last_observed_at for t in mine if t.last_observed_at]
        summaries.append(
            VideoSummary(
                video=video,
                posts=sum(t.posts for t in mine),
                reshares=sum(t.reshares for t in mine),
                totals={m: sum(getattr(t, m) for t in mine) for m in METRICS},
                platforms=platform_order(t.platform for t in mine if t.posts),
                growth_1h=sum(r.views for r in buckets if r.bucket_start >= hour_ago),
                growth_24h=sum(r.views for r in buckets),
                growth_window=sum(r.views for r in in_window),
                sparkline=_sparkline(in_window, grid),
                last_observed_at=max(observed) if observed else None,
                sparkline_minutes=grid,
            )
        )
    return summaries


def _sparkline(rows: Sequence[read.RollupRow], minutes: int, points: int = 48) -> np.ndarray:
    """Cumulative views over the rows (buckets of `minutes`), thinned to at most `points`."""
    if not rows:
        return np.zeros(0, dtype=np.int64)
    step = np.timedelta64(minutes, "m")
    first = to_datetime64(rows[0].bucket_start)
    index = np.array(
        [int((to_datetime64(r.bucket_start) - first) // step) for r in rows], dtype=np.int64
    )
    amounts = np.zeros(int(index[-1]) + 1, dtype=np.int64)
    np.add.at(amounts, index, np.array([r.views for r in rows], dtype=np.int64))
    cumulative = np.cumsum(amounts)
    if len(cumulative) > points:
        picks = np.linspace(0, len(cumulative) - 1, points).round().astype(np.int64)
        cumulative = cumulative[picks]
    return cumulative


@dataclass(frozen=True, slots=True)
class CollectorState:
    """What the overview says about one collector."""

    name: str
    state: str
    """ok, failing, rate_limited, auth_failed, disabled, off, never_run."""
    label: str
    last_run_at: datetime | None
    error_message: str | None
    retry_at: datetime | None


def _worse(run: RunRow, than: RunRow) -> bool:
    """Whether `run` should stand for its collector rather than `than`."""
    if (run.status == "ok") != (than.status == "ok"):
        return run.status != "ok"
    return run.started_at > than.started_at


def collector_states(
    settings: Settings, runs: Sequence[RunRow], now: datetime
) -> list[CollectorState]:
    """Each configured collector's state from its latest run and its settings."""
    # A collector is as healthy as the worse of its latest discovery and refresh runs: a
    # refresh that works must not hide a discovery that keeps failing.
    latest: dict[str, RunRow] = {}
    for run in runs:
        current = latest.get(run.collector)
        if current is None or _worse(run, current):
            latest[run.collector] = run
    sections = settings.collectors.sections()
    states = []
    for name in platform_order([*sections, *latest]):
        run = latest.get(name)
        section = sections.get(name)
        missing = section.missing_credentials() if section is not None else []
        if section is not None and not section.enabled:
            state, label = "off", "off in config"
        elif run is None and missing:
            state, label = "disabled", f"disabled: missing credentials ({', '.join(missing)})"
        elif run is None:
            state, label = "never_run", "not run yet"
        elif run.status == "ok":
            state, label = "ok", "ok (limited)" if run.error_message else "ok"
        elif run.status == "disabled":
            state, label = "disabled", "disabled: missing credentials"
        elif run.status == "rate_limited":
            state = "rate_limited"
            if run.retry_at is not None and run.retry_at > now:
                label = f"rate-limited until {run.retry_at:%Y-%m-%d %H:%M} UTC"
            else:
                label = "rate-limited"
        elif run.status == "auth_failed":
            state, label = "auth_failed", "credentials rejected"
        else:
            state, label = "failing", "failing"
        states.append(
            CollectorState(
                name=name,
                state=state,
                label=label,
                last_run_at=run.started_at if run else None,
                error_message=run.error_message if run else None,
                retry_at=run.retry_at if run else None,
            )
        )
    return states
