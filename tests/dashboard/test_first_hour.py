"""The first hour on the dashboard (issue 10, Dashboard): empty states, idle collectors, what
each headline number covers, removing a video, the breadcrumb, the custom range picker."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from collectors.base import PostRef
from storage import read
from storage.write import VideoInput

from .conftest import MAIN_SLUG, Story
from .test_app import csrf_of


def collector_row(page: str, label: str) -> str:
    row = page[page.index(f"</span>{label}</td>") :]
    return row[: row.index("</tr>")]


def test_before_the_first_reading_pages_say_so(dash_client: TestClient, dash_sink) -> None:
    dash_sink.add_video(VideoInput(slug="new-footage", title="New footage", keywords=("k",)))
    dash_sink.record_posts("new-footage", [PostRef(platform="reddit", platform_post_id="n1")])
    overview = dash_client.get("/").text
    assert "Data as of" not in overview and "No readings yet" in overview
    assert "Data as of –" not in overview
    video = dash_client.get("/videos/new-footage")
    figures = re.search(r'id="page-data">(.*?)</script>', video.text, re.S)
    assert figures is not None and "No readings yet" in figures.group(1)
    assert "Collectors: " in figures.group(1)
    live = dash_client.get("/live/videos/new-footage").json()
    assert live["data_at_text"] == "No readings yet"
    # The chart shows the empty state, so no gap is said to be shaded on it.
    assert "gaps in the data" not in video.text


def test_collectors_with_nothing_to_do_say_idle(dash_client: TestClient) -> None:
    page = dash_client.get("/").text
    # Default settings: no Telegram channels and no YouTube feed channels configured.
    assert "idle: no channels configured" in collector_row(page, "Telegram")
    assert "idle: no channels configured" in collector_row(page, "YouTube (feeds)")
    states = {c["collector"]: c for c in dash_client.get("/api/collectors").json()["collectors"]}
    assert states["telegram"]["state"] == "idle"


def test_a_disabled_collector_shows_no_last_run(dash_client: TestClient, dash_story) -> None:
    row = collector_row(dash_client.get("/").text, "X")
    assert "disabled" in row
    assert "<time" not in row


def test_headline_numbers_say_which_period_they_cover(dash_client: TestClient, dash_story) -> None:
    everything = dash_client.get(f"/videos/{MAIN_SLUG}").text
    assert "Views, all time" in everything and "Views in" not in everything
    assert "Views, last 24 h to now" in everything
    day = dash_client.get(f"/videos/{MAIN_SLUG}?range=7d").text
    assert "Views in 7 days" in day
    custom = dash_client.get(
        f"/videos/{MAIN_SLUG}?range=custom&start=2024-05-01T00:00Z&end=2024-05-01T06:00Z"
    ).text
    assert "Views in custom range" in custom


def test_remove_a_video_asks_first_then_needs_csrf(
    dash_client: TestClient, dash_engine, dash_story: Story
) -> None:
    confirm = dash_client.get(f"/manage/videos/{MAIN_SLUG}/remove")
    assert confirm.status_code == 200
    assert "cannot be undone" in confirm.text
    assert f'action="/manage/videos/{MAIN_SLUG}/remove"' in confirm.text
    assert f'href="/manage/videos/{MAIN_SLUG}/remove"' in dash_client.get("/manage").text
    # A GET never removes; a POST without the token is refused.
    assert MAIN_SLUG in [v.slug for v in read.list_videos(dash_engine)]
    refused = dash_client.post(f"/manage/videos/{MAIN_SLUG}/remove", data={})
    assert refused.status_code == 403
    done = dash_client.post(
        f"/manage/videos/{MAIN_SLUG}/remove",
        data={"csrf_token": csrf_of(dash_client)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert MAIN_SLUG not in [v.slug for v in read.list_videos(dash_engine)]
    assert "Video removed" in dash_client.get(done.headers["location"]).text
    assert dash_client.get(f"/videos/{MAIN_SLUG}").status_code == 404
    gone = dash_client.post("/manage/videos/nope/remove", data={"csrf_token": csrf_of(dash_client)})
    assert gone.status_code == 404


def test_post_page_breadcrumb_names_the_video_by_title(
    dash_client: TestClient, dash_story: Story
) -> None:
    page = dash_client.get(f"/posts/{dash_story.posts['x-1']}").text
    crumb = page[page.index('class="crumbs"') :]
    crumb = crumb[: crumb.index("</p>")]
    assert "Bridge collapse filmed from a ferry" in crumb


def test_custom_range_picker_is_iso_24_hour_text(dash_client: TestClient, dash_story) -> None:
    page = dash_client.get(
        f"/videos/{MAIN_SLUG}?range=custom&start=2024-05-01T00:00Z&end=2024-05-01T06:00Z"
    ).text
    assert 'type="datetime-local"' not in page  # the browser's picker follows its locale
    assert 'placeholder="YYYY-MM-DD HH:MM"' in page
    assert '<input type="hidden" name="start" value="2024-05-01T00:00Z">' in page
