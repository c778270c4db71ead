"""A post two tracked videos share (issue 9): both count it, and the pages, the JSON API and the
CSV say which videos it matched and why."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient
from markupsafe import escape

from collectors.base import PostRef
from storage import read
from storage.write import StorageSink

from .conftest import MAIN_SLUG, XSS_SLUG, XSS_TITLE, Story


def _share_yt1(sink: StorageSink) -> int:
    sink.record_posts(XSS_SLUG, [PostRef("youtube", "yt-1", matched_by="hashtag:#HarbourFire")])
    post = read.find_post(sink.engine, "youtube", "yt-1")
    assert post is not None
    return post.id


def test_both_videos_count_a_shared_post(
    dash_client: TestClient, dash_sink: StorageSink, dash_story: Story
) -> None:
    before = {
        t.video: t.views for t in read.platform_totals(dash_sink.engine, platforms=["youtube"])
    }
    _share_yt1(dash_sink)
    yt1 = read.find_post(dash_sink.engine, "youtube", "yt-1")
    assert yt1 is not None and yt1.views
    after = {
        t.video: t.views for t in read.platform_totals(dash_sink.engine, platforms=["youtube"])
    }
    assert after == {MAIN_SLUG: before[MAIN_SLUG], XSS_SLUG: yt1.views}
    # The other video's chart data (rollups) carries the shared post's growth too.
    grown = read.rollup_deltas(dash_sink.engine, XSS_SLUG, platforms=["youtube"])
    assert sum(r.views for r in grown) == yt1.views


def test_the_api_and_csv_say_which_videos_a_post_matched_and_why(
    dash_client: TestClient, dash_sink: StorageSink, dash_story: Story
) -> None:
    _share_yt1(dash_sink)
    answers = {}
    for slug in (MAIN_SLUG, XSS_SLUG):
        body = dash_client.get(f"/api/videos/{slug}/posts?platform=youtube").json()
        (row,) = [p for p in body["posts"] if p["platform_post_id"] == "yt-1"]
        answers[slug] = (row["matched_by"], row["matched_term"], row["matched_videos"])
    both = f"{MAIN_SLUG} {XSS_SLUG}"
    assert answers == {
        MAIN_SLUG: ("keyword", "bridge collapse", both),
        XSS_SLUG: ("hashtag", "#HarbourFire", both),
    }
    text = dash_client.get(f"/export/videos/{XSS_SLUG}/posts.csv").text
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r["platform_post_id"] == "yt-1"]
    assert [(r["matched_by"], r["matched_term"], r["matched_videos"]) for r in rows] == [
        ("hashtag", "#HarbourFire", both)
    ]


def test_the_post_page_and_tables_list_every_video_the_post_matched(
    dash_client: TestClient, dash_sink: StorageSink, dash_story: Story
) -> None:
    post_id = _share_yt1(dash_sink)
    page = dash_client.get(f"/posts/{post_id}").text
    assert "(keyword: bridge collapse)" in page and "(hashtag: #HarbourFire)" in page
    assert str(escape(XSS_TITLE)) in page and XSS_TITLE not in page
    table = dash_client.get(f"/videos/{XSS_SLUG}?platform=youtube").text
    assert "hashtag: #HarbourFire" in table and f'href="/videos/{MAIN_SLUG}"' in table
