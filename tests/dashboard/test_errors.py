"""Every route's bad input answers 4xx with a reason, never 5xx; HTML pages never show raw JSON
(issue 10, Dashboard)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from .conftest import MAIN_SLUG, Story

pytestmark = pytest.mark.usefixtures("dash_story")

HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    "path",
    [
        f"/posts/{HUGE}",
        f"/live/posts/{HUGE}",
        f"/api/posts/{HUGE}/observations",
        f"/export/posts/{HUGE}/observations.csv",
        f"/posts/{2**63}",
        f"/api/posts/{2**63}/observations",
        "/posts/-1",
        "/api/posts/0/observations",
        "/posts/abc",
        "/api/posts/abc/observations",
    ],
)
def test_post_ids_out_of_range_are_404(dash_client: TestClient, path: str) -> None:
    response = dash_client.get(path)
    assert response.status_code == 404
    if path.startswith(("/api/", "/export/", "/live/")):
        assert "no post" in response.json()["detail"]
    else:
        assert response.headers["content-type"].startswith("text/html")
        assert "no post" in response.text


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("platform=myspace", "platform: 'myspace' is unknown"),
        ("range=custom", "range=custom needs both start and end"),
        ("range=custom&start=2024-05-01T00:00", "range=custom needs both start and end"),
        ("range=custom&end=2024-05-01T00:00", "range=custom needs both start and end"),
        ("range=24h&start=2024-05-01T00:00", "start and end apply only with range=custom"),
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/",
        f"/videos/{MAIN_SLUG}",
        f"/api/videos/{MAIN_SLUG}/series",
        f"/api/videos/{MAIN_SLUG}/posts",
        f"/export/videos/{MAIN_SLUG}/series.csv",
        f"/live/videos/{MAIN_SLUG}",
    ],
)
def test_unknown_platform_and_incomplete_custom_range_are_400(
    dash_client: TestClient, path: str, query: str, reason: str
) -> None:
    response = dash_client.get(f"{path}?{query}")
    assert response.status_code == 400
    if path.startswith(("/api/", "/export/", "/live/")):
        assert reason in response.json()["detail"]
    else:
        assert reason in response.text.replace("&#39;", "'")


def test_a_platform_seen_only_in_old_data_is_accepted(dash_client: TestClient) -> None:
    # Every registered platform passes, and so would one only the data names (removed collector).
    assert dash_client.get(f"/api/videos/{MAIN_SLUG}/series?platform=youtube,x").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/?range=custom&start=2024-05-01T00:00&end=2024-05-01T02:00",
        f"/videos/{MAIN_SLUG}?range=custom&start=2024-05-01T00:00&end=2024-05-01T02:00",
    ],
)
def test_a_complete_custom_range_is_accepted(dash_client: TestClient, path: str) -> None:
    assert dash_client.get(path).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        f"/videos/{MAIN_SLUG}?page=abc",
        "/posts/1.5",
        f"/videos/{MAIN_SLUG}?range=custom&start=2024-13-01T00:00&end=2024-05-01T00:00",
    ],
)
def test_html_pages_never_show_raw_json(dash_client: TestClient, path: str) -> None:
    response = dash_client.get(path)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("text/html")
    assert not response.text.lstrip().startswith("{")
    assert "<h1>" in response.text


def test_api_validation_errors_are_4xx_with_a_reason(dash_client: TestClient) -> None:
    response = dash_client.get(f"/api/videos/{MAIN_SLUG}/posts?limit=abc")
    assert response.status_code in (400, 422)
    assert "limit" in str(response.json()["detail"])


def test_observations_api_gives_utc_times_with_z_and_integer_counters(
    dash_client: TestClient, dash_story: Story
) -> None:
    post_id = dash_story.posts["x-1"]
    api = dash_client.get(f"/api/posts/{post_id}/observations")
    readings = api.json()["observations"]
    assert readings
    for reading in readings:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", reading["observed_at"])
        assert isinstance(reading["views"], int)
    # One format everywhere: the CSV says the same, value for value.
    csv_text = dash_client.get(f"/export/posts/{post_id}/observations.csv").text
    first_csv = csv_text.splitlines()[1].split(",")
    assert first_csv[1] == readings[0]["observed_at"]
    assert first_csv[2] == str(readings[0]["views"])
    assert '"views":' in api.text and ".0," not in api.text
