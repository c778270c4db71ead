"""Measures in real headless Chromium (issue 11): the leaderboard sorts by growth; the velocity
chart, burst markers and forecast band render with no console errors; each CSV equals what its
chart draws. Uses test_browser's browser and page fixtures (console errors fail the test)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from collectors.base import Observation, PostRef
from config.settings import DashboardSettings
from dashboard.app import create_app
from dashboard.serve import start_in_thread
from storage.db import make_engine, upgrade
from storage.write import StorageSink, VideoInput
from viralwatch.catalog import dashboard_platforms, settings_model

from . import test_browser
from .conftest import NOW, DashClock, seed_story
from .test_browser import Site, charts_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

page = test_browser.page
STEP_SLUG = "flash-flood"


def seed_step(sink: StorageSink, clock: DashClock) -> None:
    """Three YouTube posts read every 30 minutes for a day: 100 views an hour each, then 30
    times that for the last 4 hours (one burst at the step)."""
    clock.now = NOW - timedelta(hours=30)
    sink.add_video(VideoInput(slug=STEP_SLUG, title="Flash flood", keywords=("flood",)))
    posts = [f"ff-{n}" for n in range(3)]
    sink.record_posts(
        STEP_SLUG,
        [PostRef("youtube", p, published_at=clock.now, author=p) for p in posts],
    )
    readings = []
    for step in range(48):
        at = NOW - timedelta(hours=24) + timedelta(minutes=30 * step + 7)
        hours = (at - (NOW - timedelta(hours=24))).total_seconds() / 3600
        views = 100 * hours + max(0.0, hours - 20) * 2900
        readings.extend(Observation("youtube", p, at, views=int(views)) for p in posts)
    sink.record_observations(readings)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('measures') / 'dash.db'}")
    upgrade(engine)
    clock = DashClock(NOW)
    sink = StorageSink(engine, clock)
    story = seed_story(sink, clock)
    seed_step(sink, clock)
    clock.now = NOW
    settings = settings_model()(dashboard=DashboardSettings(refresh_seconds=5))
    server = start_in_thread(create_app(engine, settings, sink, clock, dashboard_platforms()))
    yield Site(server.url, sink, clock, story)
    server.stop()
    engine.dispose()


def drawn(page: Page, figure: str) -> dict[str, list[Any]]:
    """meta -> y values of each trace as the chart holds them."""
    return page.evaluate(
        "(id) => Object.fromEntries(document.getElementById(id).data.map((t) => [t.meta, t.y]))",
        f"chart-{figure}",
    )


def download_csv(page: Page, path: str) -> list[dict[str, str]]:
    response = page.request.get(path)
    assert response.ok
    return list(csv.DictReader(io.StringIO(response.text())))


def number(text: str) -> float | None:
    return None if text == "" else float(text)


def test_leaderboard_sorts_by_growth(page: Page) -> None:
    page.goto("/growing")
    rows = page.locator("#growing-table tbody tr")
    expect(rows.first).to_be_visible()
    rates = [float(v) for v in rows.evaluate_all("rs => rs.map(r => r.dataset.velocity)")]
    assert len(rates) > 3 and rates == sorted(rates, reverse=True)
    expect(page.locator("#growing-table")).to_contain_text("flash-flood")
    page.get_by_role("link", name="Views/h ▼").click()
    page.wait_for_url("**/growing?sort=growth&order=asc")
    ascending = [float(v) for v in rows.evaluate_all("rs => rs.map(r => r.dataset.velocity)")]
    assert ascending == sorted(rates)
    test_browser.shot(page, "growing")


def test_velocity_chart_with_bursts_matches_its_csvs(page: Page) -> None:
    page.goto(f"/videos/{STEP_SLUG}?range=24h")
    charts_ready(page)
    chart = drawn(page, "velocity")
    rows = download_csv(page, f"/export/videos/{STEP_SLUG}/velocity.csv?range=24h")
    from_csv: dict[str, list[float | None]] = {}
    for row in rows:
        from_csv.setdefault(row["platform"], []).append(number(row["views_per_hour"]))
    assert from_csv.keys() == chart.keys() == {"youtube"}
    assert from_csv["youtube"] == pytest.approx(chart["youtube"])
    assert max(v for v in chart["youtube"] if v is not None) == pytest.approx(9000, rel=0.05)
    shapes = page.evaluate(
        "document.getElementById('chart-velocity').layout.shapes.filter((s) => s.name === 'burst')"
        ".map((s) => s.label.text)"
    )
    bursts = download_csv(page, f"/export/videos/{STEP_SLUG}/bursts.csv?range=24h")
    overall = [b for b in bursts if b["scope"] == "all"]
    assert len(shapes) == len(overall) == 1
    assert shapes[0] == f"burst +{float(overall[0]['excess']):,.0f}"
    expect(page.locator("#bursts-table tbody tr").first).to_contain_text("all platforms")
    expect(page.locator("#chart-velocity .shapelayer path").first).to_be_attached()
    test_browser.shot(page, "video-measures")


def test_forecast_band_and_spread_match_their_csvs(page: Page) -> None:
    page.goto(f"/videos/{STEP_SLUG}?range=24h")
    charts_ready(page)
    chart = drawn(page, "forecast")
    assert {"actual", "band_low", "band_high", "forecast"} <= chart.keys()
    rows = download_csv(page, f"/export/videos/{STEP_SLUG}/forecast.csv?range=24h")
    for kind, low_key, high_key in (("forecast", "band_low", "band_high"),):
        mine = [r for r in rows if r["kind"] == kind]
        assert [number(r["low"]) for r in mine] == pytest.approx(chart[low_key])
        assert [number(r["high"]) for r in mine] == pytest.approx(chart[high_key])
        assert [number(r["value"]) for r in mine] == pytest.approx(chart["forecast"])
    actual = [number(r["value"]) for r in rows if r["kind"] == "actual"]
    assert actual == pytest.approx(chart["actual"])
    band = page.locator("#chart-forecast .scatterlayer .js-fill")
    expect(band.first).to_be_attached()
    spread = drawn(page, "spread")
    shares = download_csv(page, f"/export/videos/{STEP_SLUG}/spread.csv?range=24h")
    assert [float(r["share"]) for r in shares] == pytest.approx(spread["youtube"])
    expect(page.locator("#pickup-list li").first).to_contain_text("YouTube")
