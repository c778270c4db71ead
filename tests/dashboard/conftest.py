"""Dashboard fixtures (prefixed dash_): a real database, a fake clock, a seeded spread story.

Every test runs on a fresh SQLite file, and again on PostgreSQL (a fresh schema per test) when
VIRALWATCH_TEST_POSTGRES_URL is set. With CI=true an unreachable PostgreSQL fails the run.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collectors.base import Gone, Observation, PostError, PostRef, RunReport
from config.settings import Settings
from dashboard.app import create_app
from storage.write import StorageSink, VideoInput
from tests.helpers import database_url, migrated_engine
from viralwatch.catalog import dashboard_platforms, settings_model

if TYPE_CHECKING:
    from playwright.sync_api import Browser

NOW = datetime(2024, 5, 2, 12, 30, tzinfo=UTC)
ORIGIN_AT = NOW - timedelta(hours=48)
MAIN_SLUG = "bridge-collapse"
XSS_SLUG = "harbour-fire"
XSS_TITLE = '<script>alert("pwned")</script> Harbour fire & smoke'
# Bluesky repost edges on bs-1: more than the dashboard lists (200) when a reshare line is opened.
BLUESKY_RESHARES = 240
MASTODON_BOOSTS = 4
URL_OK = "https://www.dailymotion.com/video/x8ok"
URL_BROKEN = "https://vimeo.example/123456"
URL_GONE = "https://rumble.example/v4gone"
URL_ERROR = 'HTTP Error 404: Not Found <img src=x onerror="alert(1)">'
BLUESKY_NOTICE = "bluesky: search disabled: no login configured; set collectors.bluesky.handle"
POSTS_WITH_COUNTERS = 25
DASH_URL = "http://127.0.0.1:8000"


class DashClock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def dash_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def dash_db_url(dash_backend: str, tmp_path) -> Iterator[str]:
    """A URL to an empty database of the requested backend."""
    yield from database_url(dash_backend, tmp_path / "dashboard.db", "dash")


@pytest.fixture
def dash_engine(dash_db_url: str) -> Iterator[Engine]:
    yield from migrated_engine(dash_db_url)


@pytest.fixture
def dash_clock() -> DashClock:
    return DashClock(NOW)


@pytest.fixture
def dash_sink(dash_engine: Engine, dash_clock: DashClock) -> StorageSink:
    return StorageSink(dash_engine, dash_clock)


@dataclass
class Story:
    """What `seed_story` wrote, for assertions."""

    posts: dict[str, int] = field(default_factory=dict)
    """platform_post_id -> database id."""
    latest_views: dict[str, int] = field(default_factory=dict)


def _views_at(rate: int, hours: float) -> int:
    return int(rate * hours**1.4)


def seed_story(sink: StorageSink, clock: DashClock) -> Story:
    """Two videos. The main one spreads from Telegram to eight platforms over 48 hours with
    cascades, hourly observations, a four-hour Reddit rate-limit gap, a failing YouTube
    collector, X disabled for missing credentials and Bluesky running with a notice.

    Its cascade mixes quotes and a crosspost (posts with counters) with reshare edges that never
    get counters, as the collectors store them: 240 Bluesky reposts of bs-1 and 4 Mastodon boosts
    of ms-1. Three post URLs were added by hand: one read fine, one yt-dlp cannot read (its
    error holds HTML) and one gone. The other video has a hostile title."""
    rng = random.Random(4)
    clock.now = ORIGIN_AT - timedelta(hours=1)
    sink.add_video(
        VideoInput(
            slug=MAIN_SLUG,
            title="Bridge collapse filmed from a ferry",
            keywords=("bridge collapse", "ferry video"),
            hashtags=("BridgeCollapse",),
            urls=("https://t.me/harbour_witness/77",),
        )
    )
    sink.add_video(VideoInput(slug=XSS_SLUG, title=XSS_TITLE, keywords=("harbour fire",)))
    # (id, platform, hours after origin, author, parent id, relation, views per hour^1.4)
    plan = [
        ("tg-77", "telegram", 0, "harbour_witness", None, None, 900),
        ("yt-1", "youtube", 2, "NewsClips24", None, None, 3000),
        ("x-1", "x", 3, "@breaking", None, None, 2500),
        ("rd-1", "reddit", 5, "u/ferryfan", None, None, 800),
        ("rd-2", "reddit", 7, "u/crossposter", "rd-1", "crosspost", 300),
        ("ms-1", "mastodon", 6, "@maria@mastodon.social", None, None, 0),
        ("bs-1", "bluesky", 9, "reporter.bsky.social", None, None, 0),
        ("bs-2", "bluesky", 11, '=HYPERLINK("http://evil")', "bs-1", "quote", 0),
        ("hn-1", "hackernews", 14, "pg_fan", None, None, 0),
        ("tt-1", "tiktok", 20, "@clips", None, None, 1800),
    ]
    for i in range(12):
        plan.append(
            (f"x-r{i}", "x", 4 + i * 3, f"@reposter{i}", "x-1", "quote", rng.randint(50, 400))
        )
    story = Story()
    for post_id, platform, hours, author, parent, relation, _rate in plan:
        at = ORIGIN_AT + timedelta(hours=hours)
        clock.now = at
        url = f"https://{platform}.example/{post_id}"
        if post_id == "bs-2":
            url = "javascript:alert(1)"
        parent_platform = next((p[1] for p in plan if p[0] == parent), None)
        sink.record_posts(
            MAIN_SLUG,
            [
                PostRef(
                    platform=platform,
                    platform_post_id=post_id,
                    url=url,
                    author=author,
                    text=f"Watch this bridge collapse <b>{post_id}</b>",
                    published_at=at,
                    matched_by="keyword:bridge collapse",
                    parent_platform=parent_platform,
                    parent_platform_post_id=parent,
                    relation=relation,
                )
            ],
        )
    _seed_reshares(sink, clock)
    observations = _hourly_observations(plan, story)
    sink.record_observations(observations)
    _seed_followed_urls(sink, clock, story)
    _seed_runs(sink)
    clock.now = NOW
    from storage import read

    for post in read.iter_posts(sink.engine, read.PostFilter()):
        story.posts[post.platform_post_id] = post.id
    return story


def _hourly_observations(plan: list[Any], story: Story) -> list[Observation]:
    """An observation per post per hour from 10 minutes after it appeared until NOW."""
    observations = []
    for post_id, platform, hours, _author, _parent, _relation, rate in plan:
        start = ORIGIN_AT + timedelta(hours=hours)
        step = 0
        while True:
            at = start + timedelta(minutes=10) + timedelta(hours=step)
            if at > NOW:
                break
            # Reddit was rate-limited 20 to 16 hours ago: no readings then.
            if platform == "reddit" and NOW - timedelta(hours=20) <= at < NOW - timedelta(hours=16):
                step += 1
                continue
            age = (at - start).total_seconds() / 3600 + 1
            views = _views_at(rate, age) if rate else None
            observations.append(
                Observation(
                    platform=platform,
                    platform_post_id=post_id,
                    observed_at=at,
                    views=views,
                    likes=int(age * 40 + len(post_id)),
                    shares=int(age * 9),
                    comments=int(age * 3),
                    quotes=int(age) if platform in ("x", "bluesky") else None,
                )
            )
            if views is not None:
                story.latest_views[post_id] = views
            step += 1
    return observations


def _seed_runs(sink: StorageSink) -> None:
    """Reddit rate-limited through its gap, YouTube failing, X disabled, Bluesky with a notice."""
    runs = [
        ("reddit", NOW - timedelta(hours=22), "ok", None, None),
        (
            "reddit",
            NOW - timedelta(hours=20),
            "rate_limited",
            "reddit: HTTP 429, retry in 3600 s",
            NOW - timedelta(hours=19),
        ),
        ("reddit", NOW - timedelta(hours=18), "rate_limited", "reddit: HTTP 429", None),
        ("reddit", NOW - timedelta(hours=16), "ok", None, None),
        ("reddit", NOW - timedelta(minutes=20), "ok", None, None),
        ("youtube", NOW - timedelta(hours=3), "ok", None, None),
        ("youtube", NOW - timedelta(hours=1), "failed", "youtube: HTTP 500 from /youtube/v3", None),
        ("x", NOW - timedelta(hours=2), "disabled", "x: missing credentials: bearer_token", None),
        ("mastodon", NOW - timedelta(minutes=15), "ok", None, None),
        ("bluesky", NOW - timedelta(minutes=10), "ok", BLUESKY_NOTICE, None),
    ]
    for collector, started, status, message, retry_at in runs:
        sink.record_run(
            RunReport(
                collector=collector,
                kind="refresh",
                started_at=started,
                finished_at=started + timedelta(seconds=3),
                status=status,
                error_message=message,
                retry_at=retry_at,
            )
        )


def _seed_reshares(sink: StorageSink, clock: DashClock) -> None:
    """Reshare edges as the Bluesky and Mastodon collectors store them: no counters, ever."""
    clock.now = ORIGIN_AT + timedelta(hours=12)
    reposts = [
        PostRef(
            platform="bluesky",
            platform_post_id=f"bs-1#repost-by-did:plc:r{i:03d}",
            url=f"https://bsky.app/profile/reposter{i:03d}.bsky.social",
            author=f"reposter{i:03d}.bsky.social",
            published_at=ORIGIN_AT + timedelta(hours=9, minutes=5 + i),
            matched_by="cascade",
            parent_platform="bluesky",
            parent_platform_post_id="bs-1",
            relation="reshare",
        )
        for i in range(BLUESKY_RESHARES)
    ]
    boosts = [
        PostRef(
            platform="mastodon",
            platform_post_id=f"ms-1#reblogged_by:{name}",
            url=f"https://mastodon.example/@{name}",
            author=name,
            matched_by="cascade",
            parent_platform="mastodon",
            parent_platform_post_id="ms-1",
            relation="reshare",
        )
        for name in ("jon@fosstodon.org", "ana@mas.to", "lee@hachyderm.io", "kim@chaos.social")
    ]
    sink.record_posts(MAIN_SLUG, [*reposts, *boosts])


def _seed_followed_urls(sink: StorageSink, clock: DashClock, story: Story) -> None:
    """Three post URLs added by hand: one read, one unreadable, one gone."""
    clock.now = ORIGIN_AT + timedelta(hours=30)
    sink.record_posts(
        MAIN_SLUG,
        [
            PostRef(platform="urls", platform_post_id=url, url=url, matched_by="manual")
            for url in (URL_OK, URL_BROKEN, URL_GONE)
        ],
    )
    sink.record_observations(
        [
            Observation("urls", URL_OK, ORIGIN_AT + timedelta(hours=30 + h, minutes=20), views=v)
            for h, v in ((0, 1200), (1, 2500), (2, 4100))
        ]
    )
    story.latest_views["urls-ok"] = 4100
    sink.record_errors([PostError("urls", URL_BROKEN, NOW - timedelta(minutes=30), URL_ERROR)])
    sink.mark_gone([Gone("urls", URL_GONE, NOW - timedelta(hours=2), "HTTP Error 410: Gone")])


@pytest.fixture
def dash_story(dash_sink: StorageSink, dash_clock: DashClock) -> Story:
    return seed_story(dash_sink, dash_clock)


@pytest.fixture
def dash_settings() -> Settings:
    return settings_model()()


@pytest.fixture
def dash_client(
    dash_engine: Engine, dash_settings: Settings, dash_sink: StorageSink, dash_clock: DashClock
) -> Iterator[TestClient]:
    app = create_app(dash_engine, dash_settings, dash_sink, dash_clock, dashboard_platforms())
    # A loopback Host (the dashboard refuses others) and the Origin a browser sends on its forms.
    with TestClient(app, base_url=DASH_URL, headers={"origin": DASH_URL}) as client:
        yield client


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One headless Chromium for every browser test module (each page gets its own context)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright  # only browser runs need Playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()
