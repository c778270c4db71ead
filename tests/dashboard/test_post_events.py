"""A post's history of going gone and coming back (issue 8), on its page, in its JSON and CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from fastapi.testclient import TestClient

from collectors.base import Gone, PostRef
from storage.write import StorageSink

from .conftest import MAIN_SLUG, DashClock, Story


def test_gone_and_returned_show_on_the_post_page_api_and_csv(
    dash_client: TestClient, dash_story: Story, dash_sink: StorageSink, dash_clock: DashClock
) -> None:
    post_id = dash_story.posts["rd-1"]
    gone_at = dash_clock()
    dash_sink.mark_gone([Gone("reddit", "rd-1", gone_at, "deleted by its author")])
    back_at = dash_clock.now = gone_at + timedelta(hours=2)
    dash_sink.record_posts(MAIN_SLUG, [PostRef("reddit", "rd-1")])  # discovery finds it again
    events = dash_client.get(f"/api/posts/{post_id}/observations").json()["events"]
    assert [(e["event"], e["at"]) for e in events] == [
        ("gone", gone_at.strftime("%Y-%m-%dT%H:%M:%SZ")),
        ("returned", back_at.strftime("%Y-%m-%dT%H:%M:%SZ")),
    ]
    assert events[0]["reason"] == "deleted by its author"
    response = dash_client.get(f"/export/posts/{post_id}/events.csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["post_id"], r["event"]) for r in rows] == [
        (str(post_id), "gone"),
        (str(post_id), "returned"),
    ]
    page = dash_client.get(f"/posts/{post_id}").text
    assert "deleted by its author" in page and "answered again" in page


def test_a_post_that_never_went_gone_has_no_history(
    dash_client: TestClient, dash_story: Story
) -> None:
    post_id = dash_story.posts["rd-1"]
    assert dash_client.get(f"/api/posts/{post_id}/observations").json()["events"] == []
    assert 'id="post-events"' not in dash_client.get(f"/posts/{post_id}").text
