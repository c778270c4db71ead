"""The dashboard in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

The app runs under uvicorn in a thread on a free port, on a seeded SQLite file. Screenshots of
every page go to test-artifacts/; with VIRALWATCH_UPDATE_SCREENSHOTS=1 the overview and video
page at 1440 px also go to docs/screenshots/ for the README.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from collectors.base import Observation, PostRef
from config.settings import DashboardSettings
from dashboard.app import create_app
from dashboard.serve import start_in_thread
from storage import read
from storage.db import make_engine, upgrade
from storage.write import StorageSink, VideoInput
from viralwatch.catalog import dashboard_platforms, settings_model

from .conftest import (
    BLUESKY_RESHARES,
    MAIN_SLUG,
    NOW,
    POSTS_WITH_COUNTERS,
    URL_ERROR,
    XSS_SLUG,
    XSS_TITLE,
    DashClock,
    Story,
    seed_story,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
README_SHOTS = REPO / "docs" / "screenshots"


class Site:
    def __init__(self, url: str, sink: StorageSink, clock: DashClock, story: Story) -> None:
        self.url = url
        self.sink = sink
        self.clock = clock
        self.story = story


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('browser') / 'dash.db'}")
    upgrade(engine)
    clock = DashClock(NOW)
    sink = StorageSink(engine, clock)
    story = seed_story(sink, clock)
    settings = settings_model()(dashboard=DashboardSettings(refresh_seconds=5))
    server = start_in_thread(create_app(engine, settings, sink, clock, dashboard_platforms()))
    yield Site(server.url, sink, clock, story)
    server.stop()
    engine.dispose()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    """A page in Berlin time whose console must stay free of errors and alert() calls."""
    context = browser.new_context(
        viewport={"width": 1440, "height": 900},
        timezone_id="Europe/Berlin",
        accept_downloads=True,
        base_url=site.url,
    )
    page = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text} at {message.location.get('url')}")

    page.on("console", on_console)
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on(
        "dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss())
    )
    page.expected_errors = []  # type: ignore[attr-defined]
    yield page
    context.close()
    expected = page.expected_errors  # type: ignore[attr-defined]
    assert [p for p in problems if not any(e in p for e in expected)] == []


def shot(page: Page, name: str, *, readme: bool = False) -> None:
    """A full-page screenshot into test-artifacts/; `readme` ones also refresh the README's
    images when VIRALWATCH_UPDATE_SCREENSHOTS=1."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if readme and os.environ.get("VIRALWATCH_UPDATE_SCREENSHOTS") == "1":
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(README_SHOTS / f"{name}.png"), full_page=True)


def charts_ready(page: Page) -> None:
    page.wait_for_selector("body[data-charts-ready='1']")


def trace_platforms(page: Page, figure: str) -> list[str]:
    return page.evaluate(
        "(id) => document.getElementById(id).data.map((t) => t.meta)", f"chart-{figure}"
    )


def trace_points(page: Page, figure: str) -> dict[str, list[float]]:
    return page.evaluate(
        """(id) => Object.fromEntries(document.getElementById(id)._fullData.map(
            (t) => [t.meta, Array.from(t.y)]))""",
        f"chart-{figure}",
    )


def test_overview_loads_and_shows_videos_and_collectors(page: Page) -> None:
    page.goto("/")
    expect(page.locator(".video-card")).to_have_count(2)
    expect(page.locator("#collectors")).to_contain_text("disabled: missing credentials")
    expect(page.locator("#collectors")).to_contain_text("youtube: HTTP 500")
    expect(page.locator("#collectors")).to_contain_text("ok (limited)")
    shot(page, "overview", readme=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "overview-phone")


def test_video_page_draws_the_expected_traces(page: Page) -> None:
    page.goto(f"/videos/{MAIN_SLUG}")
    charts_ready(page)
    platforms = trace_platforms(page, "cumulative_views")
    assert platforms[:4] == ["youtube", "x", "tiktok", "reddit"]
    assert "bluesky" not in platforms  # Bluesky shows no views: no flat zero band for it
    assert set(trace_platforms(page, "reposts")) >= {"telegram", "x", "mastodon", "hackernews"}
    timeline = page.evaluate("document.getElementById('chart-timeline').data[0].y")
    assert timeline[0] == "Telegram"
    gaps = page.evaluate("document.getElementById('chart-cumulative_views').layout.shapes.length")
    assert gaps == 2  # reddit rate-limited, youtube failing
    expect(page.locator("#chart-cumulative_views .legendtext").first).to_be_visible()
    expect(page.locator("#posts-table tbody tr")).to_have_count(POSTS_WITH_COUNTERS)
    expect(page.locator("#cascade")).to_contain_text("crosspost")
    shot(page, "video", readme=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    charts_ready(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "video-phone")


def test_time_range_and_platform_filters_change_the_charts(page: Page) -> None:
    page.goto(f"/videos/{MAIN_SLUG}")
    charts_ready(page)
    all_points = len(trace_points(page, "cumulative_views")["youtube"])
    page.get_by_text("24 h", exact=True).click()
    page.wait_for_url(re.compile(r"range=24h"))
    charts_ready(page)
    # 24 h in 5-minute buckets, against hourly buckets over the whole 48 h story.
    assert len(trace_points(page, "cumulative_views")["youtube"]) == 288 != all_points
    page.locator("label.chip.check", has_text="Reddit").click()
    page.wait_for_url(re.compile(r"platform=reddit"))
    charts_ready(page)
    assert trace_platforms(page, "cumulative_views") == ["reddit"]
    assert "range=24h" in page.url
    expect(page.locator("#posts-table tbody tr")).to_have_count(2)


def test_csv_download_matches_the_chart(page: Page, tmp_path: Path) -> None:
    page.goto(f"/videos/{MAIN_SLUG}?range=7d&platform=youtube&platform=reddit&platform=x")
    charts_ready(page)
    chart = trace_points(page, "cumulative_shares")
    with page.expect_download() as download_info:
        page.locator("figure:has(#chart-cumulative_shares) a.csv").click()
    path = tmp_path / "shares.csv"
    download_info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    from_csv: dict[str, list[float]] = {}
    for row in rows:
        from_csv.setdefault(row["platform"], []).append(float(row["value"]))
    assert from_csv == chart
    assert set(chart) == {"youtube", "reddit", "x"}


def test_times_follow_the_viewer_zone_with_a_utc_toggle(page: Page) -> None:
    page.goto(f"/videos/{MAIN_SLUG}?range=24h")
    charts_ready(page)
    title = "document.getElementById('chart-cumulative_views').layout.xaxis.title.text"
    assert page.evaluate(title) == "time (Europe/Berlin)"
    last_x = "document.getElementById('chart-cumulative_views').data[0].x.slice(-1)[0]"
    assert page.evaluate(last_x) == "2024-05-02 14:30:00"  # 12:30 UTC in Berlin (CEST)
    page.locator("#tz-toggle").click()
    page.wait_for_function(f"{title} === 'time (UTC)'")
    assert page.evaluate(last_x) == "2024-05-02 12:30:00"
    expect(page.locator("#tz-toggle")).to_have_text("Times: UTC")


def test_add_video_form_rejects_bad_input_then_adds(page: Page, site: Site) -> None:
    # The rejected form comes back as HTTP 400, which Chromium logs as a failed resource.
    rejected = f"status of 400 (Bad Request) at {site.url}/manage/videos"
    page.expected_errors.append(rejected)  # type: ignore[attr-defined]
    page.goto("/manage")
    shot(page, "manage")
    form = page.locator("#video-form")
    form.locator("input[name=slug]").fill("Bad Slug!")
    form.locator("input[name=title]").fill("Ferry sinking")
    form.get_by_role("button", name="Add video").click()
    expect(page.locator("#error-slug")).to_contain_text("lowercase letters")
    expect(page.locator("#error-keywords")).to_contain_text("at least one keyword")
    expect(form.locator("input[name=title]")).to_have_value("Ferry sinking")
    shot(page, "manage-errors")
    form.locator("input[name=slug]").fill("ferry-sinking")
    form.locator("textarea[name=keywords]").fill("ferry sinking")
    form.get_by_role("button", name="Add video").click()
    expect(page.locator(".notice")).to_contain_text("Video added")
    expect(page.locator("#video-ferry-sinking")).to_contain_text("Ferry sinking")


def test_hostile_title_is_shown_as_text(page: Page) -> None:
    page.goto(f"/videos/{XSS_SLUG}")
    charts_ready(page)
    expect(page.locator("h1")).to_contain_text(XSS_TITLE)
    page.goto("/")
    expect(page.locator(f"#video-{XSS_SLUG} h2")).to_contain_text(XSS_TITLE)


def test_post_page_shows_counters_and_cascade(page: Page, site: Site) -> None:
    page.goto(f"/posts/{site.story.posts['x-1']}")
    charts_ready(page)
    assert trace_platforms(page, "counters") == ["views", "likes", "shares", "comments", "quotes"]
    expect(page.get_by_text("Children (12)")).to_be_visible()
    shot(page, "post")


def test_page_refreshes_in_place(page: Page, site: Site) -> None:
    page.goto(f"/videos/{MAIN_SLUG}?platform=youtube")
    charts_ready(page)
    page.evaluate("window.__not_reloaded = true")
    page.locator("#cascade details.reshares summary").first.click()
    before = trace_points(page, "cumulative_views")["youtube"][-1]
    site.sink.record_observations(
        [
            Observation(
                platform="youtube",
                platform_post_id="yt-1",
                observed_at=NOW + timedelta(minutes=-5),
                views=int(before) + 5_000_000,
            )
        ]
    )
    page.wait_for_selector("body[data-refresh-count='1']", timeout=20_000)
    assert trace_points(page, "cumulative_views")["youtube"][-1] == before + 5_000_000
    assert page.evaluate("window.__not_reloaded") is True
    expect(page.locator("#data-at")).not_to_have_text("")
    # The cascade fragment was replaced, but the list the reader opened stays open.
    assert page.evaluate("document.querySelector('#cascade details.reshares').open") is True


def test_reshares_fold_into_one_line_that_opens_to_the_list(page: Page) -> None:
    page.goto(f"/videos/{MAIN_SLUG}")
    charts_ready(page)
    reshares = page.locator("#cascade details.reshares").first
    expect(reshares.locator("summary")).to_contain_text(f"{BLUESKY_RESHARES} reshares")
    names = reshares.locator(".reshare-list li")
    expect(names.first).to_be_hidden()
    reshares.locator("summary").click()
    expect(names).to_have_count(200)
    expect(names.first).to_be_visible()
    expect(reshares).to_contain_text(f"+{BLUESKY_RESHARES - 200} more")
    shot(page, "video-reshares-open")


def test_unreadable_post_shows_its_error_on_hover(page: Page) -> None:
    page.goto(f"/videos/{MAIN_SLUG}?platform=urls")
    charts_ready(page)
    badge = page.locator("#posts-table .post-error")
    expect(badge).to_have_count(1)
    expect(badge).to_have_attribute("title", f"Last refresh could not read this post: {URL_ERROR}")
    page.goto("/manage")
    expect(page.locator(".followed-error")).to_contain_text(URL_ERROR)
    shot(page, "manage-followed-urls")


# --- issue 10: readable at 390, 768 and 1440 px --------------------------------------------------

WIDTHS = (390, 768, 1440)
# Headline numbers, table headers and chart titles: no two of these may overlap.
TEXT_BOXES = ".stats dt, .stats dd, th, .gtitle"
BOXES_JS = """(selector) => Array.from(document.querySelectorAll(selector))
  .map((el) => { const r = el.getBoundingClientRect();
    return {text: el.textContent.trim().slice(0, 40), x: r.left + scrollX, y: r.top + scrollY,
            w: r.width, h: r.height}; })
  .filter((b) => b.w > 0 && b.h > 0)"""
# A count tick: digits with thousands commas, or an SI count (1.5k, 2M); never m, µ, n or p.
COUNT_TICK = re.compile(r"^(\d{1,3}(,\d{3})*|\d+(\.\d+)?[kMGT])$")


def overlaps(boxes: list[dict[str, float]]) -> list[tuple[str, str]]:
    clashes = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            width = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            height = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if width > 1 and height > 1:  # touching edges is not overlapping
                clashes.append((a["text"], b["text"]))
    return clashes


def layout_pages(site: Site) -> list[str]:
    return ["/", f"/videos/{MAIN_SLUG}", f"/posts/{site.story.posts['x-1']}"]


@pytest.mark.parametrize("width", WIDTHS)
def test_no_headline_header_or_title_overlaps_at_each_width(
    page: Page, site: Site, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    for path in layout_pages(site):
        page.goto(path)
        if path != "/":
            charts_ready(page)
        boxes = page.evaluate(BOXES_JS, TEXT_BOXES)
        assert len(boxes) > 5
        assert overlaps(boxes) == [], path
        # Inside each chart, the title clashes with no legend entry or label either.
        for chart in page.locator("[data-figure]").all():
            chart_id = chart.get_attribute("id")
            inner = page.evaluate(
                BOXES_JS, f"#{chart_id} .gtitle, #{chart_id} .legendtext, #{chart_id} .annotation"
            )
            assert overlaps(inner) == [], (path, chart_id)
        # The page itself never scrolls sideways: wide tables scroll inside their card.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot(page, f"layout-{width}-{path.strip('/').replace('/', '-') or 'overview'}")


def test_wide_tables_scroll_inside_their_card_with_a_cue(page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/videos/{MAIN_SLUG}")
    charts_ready(page)
    wrap = page.locator("#posts-table .table-wrap")
    assert wrap.evaluate("(el) => el.scrollWidth > el.clientWidth")
    expect(page.locator("#posts-table .scroll-hint")).to_be_visible()
    page.set_viewport_size({"width": 1440, "height": 900})
    page.wait_for_function(
        "!document.querySelector('#posts-table .scroll-hint').classList.contains('on')"
    )


def test_every_chart_has_a_legend_or_labels_and_count_ticks(page: Page, site: Site) -> None:
    for path in [*layout_pages(site)[1:], f"/videos/{MAIN_SLUG}?platform=reddit"]:
        page.goto(path)
        charts_ready(page)
        for chart in page.locator("[data-figure]").all():
            chart_id = chart.get_attribute("id")
            legend = chart.locator(".legendtext").count()
            labels = chart.locator(".annotation-text").count()
            categories = chart.locator(".ytick text").count() if chart_id == "chart-timeline" else 0
            assert legend + labels + categories > 0, (path, chart_id)
            if chart_id in ("chart-timeline", "chart-spread"):
                continue  # their y axes name platforms or shares (0-100 %), not counts
            ticks = [t.strip() for t in chart.locator(".ytick text").all_text_contents()]
            assert ticks, (path, chart_id)
            bad = [t for t in ticks if not COUNT_TICK.match(t.replace("\u2212", "-"))]
            assert bad == [], (path, chart_id, ticks)


def test_post_page_draws_each_counter_visibly_in_its_own_panel(page: Page, site: Site) -> None:
    page.goto(f"/posts/{site.story.posts['x-1']}")
    charts_ready(page)
    axes = page.evaluate("document.getElementById('chart-counters')._fullData.map((t) => t.yaxis)")
    assert len(axes) == 5 and len(set(axes)) == 5
    # Each line is drawn with some height on screen: none is flattened or hidden by another.
    heights = page.evaluate(
        """Array.from(document.querySelectorAll('#chart-counters .scatterlayer .trace'))
           .map((t) => t.getBoundingClientRect().height)"""
    )
    assert len(heights) == 5 and min(heights) > 10
    # The newest reading of each counter is inside its panel's range.
    ranges = page.evaluate(
        """(() => { const el = document.getElementById('chart-counters');
             return el._fullData.map((t) => {
               const axis = el._fullLayout[t.yaxis.replace('y', 'yaxis')];
               const ys = Array.from(t.y).filter((v) => v !== null && !isNaN(v));
               return [Math.max(...ys), axis.range[0], axis.range[1]]; }); })()"""
    )
    assert all(low == 0 and top <= high for top, low, high in ranges)


def test_custom_range_is_typed_iso_24_hour_in_the_chosen_zone(page: Page) -> None:
    page.goto(f"/videos/{MAIN_SLUG}")
    charts_ready(page)
    page.locator("label.seg", has_text="Custom").click()
    expect(page.locator("fieldset.custom legend")).to_contain_text("Europe/Berlin")
    page.locator("input.when[data-field=start]").fill("2024-05-02 10:00")
    page.locator("input.when[data-field=end]").fill("2024-05-02 14:30")
    page.locator("button.apply").click()
    page.wait_for_url(re.compile(r"range=custom"))
    # 10:00 in Berlin (CEST) is 08:00 UTC; 14:30 is 12:30 UTC.
    assert "start=2024-05-02T08%3A00Z" in page.url and "end=2024-05-02T12%3A30Z" in page.url
    charts_ready(page)
    expect(page.locator("input.when[data-field=start]")).to_have_value("2024-05-02 10:00")


@pytest.fixture(scope="module")
def empty_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A fresh install: one video, one post found but never read."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('empty') / 'dash.db'}")
    upgrade(engine)
    clock = DashClock(NOW)
    sink = StorageSink(engine, clock)
    sink.add_video(VideoInput(slug="new-footage", title="New footage", keywords=("k",)))
    sink.record_posts("new-footage", [PostRef(platform="reddit", platform_post_id="n1")])
    post_id = read.find_post(engine, "reddit", "n1").id  # type: ignore[union-attr]
    settings = settings_model()()
    server = start_in_thread(create_app(engine, settings, sink, clock, dashboard_platforms()))
    yield server.url, post_id
    server.stop()
    engine.dispose()


@pytest.mark.parametrize("width", WIDTHS)
def test_empty_pages_show_their_empty_state(
    browser: Browser, empty_site: tuple[str, int], width: int
) -> None:
    url, post_id = empty_site
    context = browser.new_context(viewport={"width": width, "height": 900}, base_url=url)
    page = context.new_page()
    page.goto("/")
    expect(page.locator("#data-at")).to_have_text("No readings yet")
    expect(page.locator(".updated")).not_to_contain_text("Data as of")
    for path in ("/videos/new-footage", f"/posts/{post_id}"):
        page.goto(path)
        charts_ready(page)
        # Counter charts: the post was found (so the timeline has its point) but never read.
        for chart in page.locator("[data-figure]:not(#chart-timeline)").all():
            expect(chart).to_contain_text("No readings yet")
            expect(chart).to_contain_text("Collectors:")
            assert chart.locator(".xtick").count() == 0  # not plotly's Jan 2000 default axis
        assert overlaps(page.evaluate(BOXES_JS, TEXT_BOXES)) == []
        shot(page, f"empty-{width}-{path.strip('/').replace('/', '-')}")
    context.close()
