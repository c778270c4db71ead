"""Routes, JSON API, CSV downloads and safety of the dashboard, in process, on a real database."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from config.settings import DashboardSettings
from dashboard.app import create_app
from dashboard.security import DashboardConfigError
from storage import read
from viralwatch.catalog import dashboard_platforms, settings_model

from .conftest import (
    BLUESKY_NOTICE,
    BLUESKY_RESHARES,
    DASH_URL,
    MAIN_SLUG,
    MASTODON_BOOSTS,
    NOW,
    POSTS_WITH_COUNTERS,
    URL_BROKEN,
    URL_ERROR,
    URL_GONE,
    URL_OK,
    XSS_SLUG,
    XSS_TITLE,
    Story,
)

RESHARES = BLUESKY_RESHARES + MASTODON_BOOSTS

pytestmark = pytest.mark.usefixtures("dash_story")


def rows_of(response) -> list[dict[str, str]]:
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def csrf_of(client: TestClient) -> str:
    page = client.get("/manage").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


# --- pages -------------------------------------------------------------------------------------


def test_overview_shows_totals_growth_and_collector_states(dash_client: TestClient) -> None:
    page = dash_client.get("/").text
    assert "Bridge collapse filmed from a ferry" in page
    assert "disabled: missing credentials" in page
    assert "youtube: HTTP 500 from /youtube/v3" in page
    assert 'class="badge failing"' in page
    assert "views last hour" in page
    assert "<polyline points=" in page


def test_overview_reports_rate_limited_until(
    dash_client: TestClient, dash_sink, dash_clock
) -> None:
    from collectors.base import RunReport

    dash_sink.record_run(
        RunReport(
            collector="reddit",
            kind="discover",
            started_at=NOW,
            status="rate_limited",
            error_message="reddit: HTTP 429",
            retry_at=NOW.replace(hour=13, minute=5),
        )
    )
    assert "rate-limited until 2024-05-02 13:05 UTC" in dash_client.get("/").text


def test_hostile_title_and_text_render_as_text(dash_client: TestClient, dash_story: Story) -> None:
    for url in ("/", f"/videos/{XSS_SLUG}", "/manage"):
        page = dash_client.get(url).text
        assert XSS_TITLE not in page
        assert (
            "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; Harbour fire &amp; smoke" in page
        )
    post_page = dash_client.get(f"/posts/{dash_story.posts['bs-2']}").text
    assert "<b>bs-2</b>" not in post_page
    assert "&lt;b&gt;bs-2&lt;/b&gt;" in post_page


def test_only_http_links_are_clickable(dash_client: TestClient, dash_story: Story) -> None:
    for url in (f"/videos/{MAIN_SLUG}", f"/posts/{dash_story.posts['bs-2']}"):
        page = dash_client.get(url).text
        assert 'href="javascript:' not in page
        assert "javascript:alert(1)" in page  # shown, as text
    assert 'href="https://x.example/x-1"' in dash_client.get(f"/videos/{MAIN_SLUG}").text


def test_embedded_json_cannot_close_its_script_tag(dash_client: TestClient, dash_sink) -> None:
    from collectors.base import PostRef

    dash_sink.record_posts(
        XSS_SLUG,
        [
            PostRef(
                platform="reddit", platform_post_id="evil", author="</script><script>x()</script>"
            )
        ],
    )
    page = dash_client.get(f"/videos/{XSS_SLUG}").text
    data = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page, re.S)
    assert data is not None
    assert "<" not in data.group(1)
    assert "</script><script>x()" not in page


def test_video_page_has_every_chart_table_and_cascade(dash_client: TestClient) -> None:
    page = dash_client.get(f"/videos/{MAIN_SLUG}").text
    for figure in (
        "cumulative_views",
        "cumulative_shares",
        "cumulative_likes",
        "reposts",
        "timeline",
    ):
        assert f'data-figure="{figure}"' in page
    assert "Top reposts" in page
    assert "crosspost" in page and "reshare" in page and "quote" in page
    assert "gap" in page and "rate-limited" in page


def test_post_page_shows_parent_and_children(dash_client: TestClient, dash_story: Story) -> None:
    child = dash_client.get(f"/posts/{dash_story.posts['rd-2']}").text
    assert "u/ferryfan" in child  # the parent
    parent = dash_client.get(f"/posts/{dash_story.posts['rd-1']}").text
    assert "Children (1)" in parent and "u/crossposter" in parent


def test_unknown_video_and_post_are_404(dash_client: TestClient) -> None:
    assert dash_client.get("/videos/nope").status_code == 404
    assert dash_client.get("/posts/999999").status_code == 404
    assert dash_client.get("/api/videos/nope/series").status_code == 404


def test_bad_parameters_are_400_with_a_reason(dash_client: TestClient) -> None:
    response = dash_client.get(f"/api/videos/{MAIN_SLUG}/series?range=fortnight")
    assert response.status_code == 400
    assert "range" in response.json()["detail"]
    assert dash_client.get(f"/videos/{MAIN_SLUG}?range=custom&start=yesterday").status_code == 400
    assert dash_client.get(f"/api/videos/{MAIN_SLUG}/posts?sort=password").status_code == 400
    assert dash_client.get("/?platform=<b>").status_code == 400


def test_plotly_is_served_locally_and_docs_are_off(dash_client: TestClient) -> None:
    js = dash_client.get("/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    page = dash_client.get(f"/videos/{MAIN_SLUG}").text
    assert 'src="/static/plotly.min.js"' in page
    assert "cdn" not in page.lower()
    assert dash_client.get("/docs").status_code == 404
    assert dash_client.get("/redoc").status_code == 404
    paths = dash_client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/videos",
        "/api/videos/{slug}",
        "/api/videos/{slug}/posts",
        "/api/videos/{slug}/series",
        "/api/posts/{post_id}/observations",
        "/api/collectors",
    ):
        assert path in paths


def test_security_headers_are_set(dash_client: TestClient) -> None:
    headers = dash_client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"


# --- JSON API ----------------------------------------------------------------------------------


def test_series_ends_at_the_sum_of_latest_counters(dash_client: TestClient, dash_story) -> None:
    body = dash_client.get(f"/api/videos/{MAIN_SLUG}/series?metric=views").json()
    expected: dict[str, int] = defaultdict(int)
    for post_id, views in dash_story.latest_views.items():
        platform = {
            "tg": "telegram",
            "yt": "youtube",
            "x": "x",
            "rd": "reddit",
            "tt": "tiktok",
            "urls": "urls",
        }[post_id.split("-")[0]]
        expected[platform] += views
    last = {platform: values[-1] for platform, values in body["platforms"].items() if values[-1]}
    assert last == dict(expected)
    assert body["bucket_hours"] == 1
    assert len(body["times"]) == len(body["platforms"]["youtube"])


def test_series_in_a_window_keeps_cumulative_totals(dash_client: TestClient) -> None:
    whole = dash_client.get(f"/api/videos/{MAIN_SLUG}/series?metric=likes").json()
    day = dash_client.get(f"/api/videos/{MAIN_SLUG}/series?metric=likes&range=24h").json()
    # A day in 5-minute buckets: 288 points, the first one ending 5 minutes into the window.
    assert (day["bucket_minutes"], len(day["times"])) == (5, 288)
    assert day["times"][0] == "2024-05-01T12:35:00Z"
    assert day["times"][-1] == "2024-05-02T12:30:00Z"
    for platform, values in day["platforms"].items():
        assert values[-1] == whole["platforms"][platform][-1]
        if platform != "urls":  # the hand-added URL exposes views only
            assert values[0] > 0  # starts from the running total, not from zero


def test_series_filters_platforms_and_reports_gaps(dash_client: TestClient) -> None:
    body = dash_client.get(
        f"/api/videos/{MAIN_SLUG}/series?metric=views&platform=reddit&range=7d"
    ).json()
    assert list(body["platforms"]) == ["reddit"]
    gap = body["gaps"][0]
    assert gap["collector"] == "reddit" and gap["status"] == "rate_limited"
    assert gap["start"] == "2024-05-01T16:30:00Z" and gap["end"] == "2024-05-01T20:30:00Z"


def test_series_bucket_size_limits_points(dash_client: TestClient) -> None:
    body = dash_client.get(f"/api/videos/{MAIN_SLUG}/series?metric=shares&bucket=1d").json()
    assert body["bucket_hours"] == 24
    assert len(body["times"]) == 3


def test_reposts_series_counts_new_posts(dash_client: TestClient) -> None:
    body = dash_client.get(f"/api/videos/{MAIN_SLUG}/series?metric=reposts").json()
    assert body["cumulative"] is False
    assert sum(body["platforms"]["x"]) == 13
    # Posts that carry the footage; reshare edges only carry the time a collector found them.
    assert sum(sum(v) for v in body["platforms"].values()) == POSTS_WITH_COUNTERS
    assert "mastodon" in body["platforms"] and sum(body["platforms"]["mastodon"]) == 1


def test_posts_api_sorts_filters_and_pages(dash_client: TestClient) -> None:
    top = dash_client.get(f"/api/videos/{MAIN_SLUG}/posts?sort=views").json()
    assert top["total"] == POSTS_WITH_COUNTERS
    assert top["reshares"] == RESHARES and top["reshares_listed"] is False
    assert all(p["relation"] != "reshare" for p in top["posts"])
    assert top["posts"][0]["platform_post_id"] == "yt-1"
    reddit = dash_client.get(f"/api/videos/{MAIN_SLUG}/posts?platform=reddit").json()
    assert {p["platform_post_id"] for p in reddit["posts"]} == {"rd-1", "rd-2"}
    authors = dash_client.get(f"/api/videos/{MAIN_SLUG}/posts?author=REPOSTER1&limit=2").json()
    assert authors["total"] == 3  # reposter1, reposter10, reposter11
    assert len(authors["posts"]) == 2
    oldest = dash_client.get(f"/api/videos/{MAIN_SLUG}/posts?sort=appeared&order=asc").json()
    assert oldest["posts"][0]["platform_post_id"] == "tg-77"


def test_posts_api_growth_is_gain_inside_the_window(dash_client: TestClient) -> None:
    body = dash_client.get(f"/api/videos/{MAIN_SLUG}/posts?range=1h&sort=views").json()
    youtube = body["posts"][0]
    assert 0 < youtube["growth_views"] < youtube["views"]


def test_video_api_gives_platform_totals_and_first_appearances(dash_client: TestClient) -> None:
    body = dash_client.get(f"/api/videos/{MAIN_SLUG}").json()
    assert body["posts"] == POSTS_WITH_COUNTERS
    assert body["reshares"] == RESHARES
    bluesky = next(t for t in body["platform_totals"] if t["platform"] == "bluesky")
    assert (bluesky["posts"], bluesky["reshares"]) == (2, BLUESKY_RESHARES)
    assert body["first_appearances"][0]["platform"] == "telegram"
    assert [a["platform"] for a in body["first_appearances"]][:3] == ["telegram", "youtube", "x"]
    assert {t["platform"] for t in body["platform_totals"]} >= {"reddit", "x", "mastodon"}


def test_videos_and_collectors_api(dash_client: TestClient) -> None:
    videos = dash_client.get("/api/videos").json()["videos"]
    assert {v["slug"] for v in videos} == {MAIN_SLUG, XSS_SLUG}
    main = next(v for v in videos if v["slug"] == MAIN_SLUG)
    assert main["growth_views_1h"] > 0 and main["growth_views_24h"] > main["growth_views_1h"]
    states = {c["collector"]: c for c in dash_client.get("/api/collectors").json()["collectors"]}
    assert states["x"]["state"] == "disabled"
    assert states["youtube"]["state"] == "failing"
    assert states["reddit"]["state"] == "ok"
    assert states["mastodon"]["last_run_at"] == "2024-05-02T12:15:00Z"


def test_post_observations_api(dash_client: TestClient, dash_story: Story) -> None:
    body = dash_client.get(f"/api/posts/{dash_story.posts['rd-1']}/observations").json()
    readings = body["observations"]
    assert readings[-1]["views"] == dash_story.latest_views["rd-1"]
    assert all(r["quotes"] is None for r in readings)


# --- CSV ---------------------------------------------------------------------------------------


def test_series_csv_matches_the_api(dash_client: TestClient) -> None:
    query = "metric=views&range=24h&platform=youtube,reddit"
    api = dash_client.get(f"/api/videos/{MAIN_SLUG}/series?{query}").json()
    rows = rows_of(dash_client.get(f"/export/videos/{MAIN_SLUG}/series.csv?{query}"))
    assert list(rows[0]) == [
        "video", "metric", "kind", "platform", "bucket_start", "bucket_end", "time", "value",
        "growth_since",
    ]  # fmt: skip
    for platform, values in api["platforms"].items():
        mine = [r for r in rows if r["platform"] == platform]
        assert [int(r["value"]) for r in mine] == values
        assert [r["time"] for r in mine] == api["times"]


def test_csv_neutralises_formulas(dash_client: TestClient) -> None:
    rows = rows_of(dash_client.get(f"/export/videos/{MAIN_SLUG}/cascade.csv"))
    authors = {r["child_author"] for r in rows}
    assert '\'=HYPERLINK("http://evil")' in authors
    assert "'@reposter0" in authors
    posts = rows_of(dash_client.get(f"/export/videos/{MAIN_SLUG}/posts.csv"))
    assert len(posts) == POSTS_WITH_COUNTERS and posts[0]["platform_post_id"] == "yt-1"
    assert posts[0]["appeared_at"].endswith("Z")


def test_every_table_and_chart_has_a_csv(dash_client: TestClient, dash_story: Story) -> None:
    for url in (
        "/export/videos.csv",
        "/export/collectors.csv",
        f"/export/videos/{MAIN_SLUG}/series.csv?metric=reposts",
        f"/export/videos/{MAIN_SLUG}/timeline.csv",
        f"/export/posts/{dash_story.posts['x-1']}/observations.csv",
    ):
        response = dash_client.get(url)
        assert response.status_code == 200, url
        assert len(rows_of(response)) >= 1
        assert "attachment" in response.headers["content-disposition"]


# --- live refresh ------------------------------------------------------------------------------


def test_live_endpoint_returns_figures_and_fragments(dash_client: TestClient) -> None:
    live = dash_client.get(f"/live/videos/{MAIN_SLUG}?range=24h").json()
    assert set(live["figures"]) == {
        "cumulative_views", "cumulative_shares", "cumulative_likes", "reposts", "timeline",
        "velocity", "forecast", "spread",  # issue 11: the measures refresh in place too
    }  # fmt: skip
    assert live["data_at"] == "2024-05-02T11:40:00Z"
    assert "Top reposts" not in live["fragments"]["posts-table"]
    assert (
        "yt-1" in live["fragments"]["posts-table"]
        or "NewsClips24" in live["fragments"]["posts-table"]
    )
    overview = dash_client.get("/live/overview").json()
    assert "Bridge collapse" in overview["fragments"]["videos"]


# --- manage videos -----------------------------------------------------------------------------


def test_add_video_through_the_form(dash_client: TestClient, dash_engine) -> None:
    token = csrf_of(dash_client)
    response = dash_client.post(
        "/manage/videos",
        data={
            "csrf_token": token,
            "slug": "flood-rescue",
            "title": "Flood rescue by helicopter",
            "keywords": "helicopter rescue\nflood roof",
            "hashtags": "#FloodRescue, rescue",
            "urls": "https://example.org/watch?v=1",
            "started_at": "2024-05-01T08:00",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    video = next(v for v in read.list_videos(dash_engine) if v.slug == "flood-rescue")
    assert video.keywords == ["helicopter rescue", "flood roof"]
    assert video.hashtags == ["FloodRescue", "rescue"]
    assert video.source == "dashboard"
    assert video.started_at is not None and video.started_at.hour == 8
    assert "Video added" in dash_client.get(response.headers["location"]).text


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("slug", "Not A Slug!", "lowercase letters"),
        ("title", "", "give the footage a title"),
        ("urls", "ftp://example.org/x", "not an http(s) URL"),
        ("started_at", "tomorrow", "not a date and time"),
        ("keywords", "", "at least one keyword"),
    ],
)
def test_add_video_rejects_bad_input(dash_client: TestClient, field, value, message) -> None:
    data = {
        "csrf_token": csrf_of(dash_client),
        "slug": "ok-slug",
        "title": "A title",
        "keywords": "" if field == "keywords" else "words",
        "hashtags": "",
        "urls": "",
        "started_at": "",
    }
    data[field] = value
    response = dash_client.post("/manage/videos", data=data)
    assert response.status_code == 400
    assert message in response.text
    assert "was not saved" in response.text


def test_add_video_refuses_a_duplicate_slug(dash_client: TestClient) -> None:
    data = {"csrf_token": csrf_of(dash_client), "slug": MAIN_SLUG, "title": "x", "keywords": "y"}
    response = dash_client.post("/manage/videos", data=data)
    assert response.status_code == 400 and "already tracked" in response.text


def test_state_changes_need_the_csrf_token(dash_client: TestClient, dash_engine) -> None:
    csrf_of(dash_client)
    data = {"slug": "sneaky", "title": "x", "keywords": "y"}
    assert dash_client.post("/manage/videos", data=data).status_code == 403
    data["csrf_token"] = "forged"
    assert dash_client.post("/manage/videos", data=data).status_code == 403
    assert (
        dash_client.post(f"/manage/videos/{MAIN_SLUG}/pause", data={"paused": "true"}).status_code
        == 403
    )
    assert all(v.slug != "sneaky" for v in read.list_videos(dash_engine))


def test_edit_and_pause_a_video(dash_client: TestClient, dash_engine) -> None:
    token = csrf_of(dash_client)
    assert (
        'value="Bridge collapse filmed from a ferry"'
        in dash_client.get(f"/manage/videos/{MAIN_SLUG}/edit").text
    )
    edited = dash_client.post(
        f"/manage/videos/{MAIN_SLUG}",
        data={
            "csrf_token": token,
            "slug": "ignored",
            "title": "Bridge collapse (ferry)",
            "keywords": "bridge",
        },
        follow_redirects=False,
    )
    assert edited.status_code == 303
    paused = dash_client.post(
        f"/manage/videos/{MAIN_SLUG}/pause",
        data={"csrf_token": token, "paused": "true"},
        follow_redirects=False,
    )
    assert paused.status_code == 303
    video = next(v for v in read.list_videos(dash_engine) if v.slug == MAIN_SLUG)
    assert video.title == "Bridge collapse (ferry)" and video.keywords == ["bridge"]
    assert video.is_paused


def test_follow_a_post_url_by_hand(dash_client: TestClient, dash_engine) -> None:
    token = csrf_of(dash_client)
    url = "https://www.dailymotion.com/video/x8abc"
    first = dash_client.post(
        f"/manage/videos/{MAIN_SLUG}/posts",
        data={"csrf_token": token, "url": url},
        follow_redirects=False,
    )
    assert first.status_code == 303 and "url-added" in first.headers["location"]
    # Issue 9: a Dailymotion URL is the Dailymotion post its collector refreshes.
    post = read.find_post(dash_engine, "dailymotion", "x8abc")
    assert post is not None and post.matched_by == "manual" and post.video == MAIN_SLUG
    assert read.find_post(dash_engine, "urls", url) is None
    again = dash_client.post(
        f"/manage/videos/{MAIN_SLUG}/posts",
        data={"csrf_token": token, "url": "https://dai.ly/x8abc?utm_source=tw"},
        follow_redirects=False,
    )
    assert "url-known" in again.headers["location"]
    bad = dash_client.post(
        f"/manage/videos/{MAIN_SLUG}/posts",
        data={"csrf_token": token, "url": "javascript:alert(1)"},
    )
    assert bad.status_code == 400 and "http:// or https://" in bad.text


# --- access token ------------------------------------------------------------------------------


def test_refuses_to_start_on_a_public_address_without_a_token(
    dash_engine, dash_sink, dash_clock
) -> None:
    settings = settings_model()(dashboard=DashboardSettings(host="0.0.0.0"))
    with pytest.raises(DashboardConfigError, match="no access token is set"):
        create_app(dash_engine, settings, dash_sink, dash_clock, dashboard_platforms())


@pytest.fixture
def locked_client(dash_engine, dash_sink, dash_clock):
    settings = settings_model()(
        dashboard=DashboardSettings(host="0.0.0.0", token=SecretStr("s3cret-token"))
    )
    app = create_app(dash_engine, settings, dash_sink, dash_clock, dashboard_platforms())
    with TestClient(app, base_url=DASH_URL, headers={"origin": DASH_URL}) as client:
        yield client


def test_token_is_required_and_never_rendered(locked_client: TestClient) -> None:
    page = locked_client.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
    assert locked_client.get("/api/videos").status_code == 401
    assert locked_client.get("/openapi.json").status_code == 401
    ok = locked_client.get("/api/videos", headers={"Authorization": "Bearer s3cret-token"})
    assert ok.status_code == 200
    assert (
        locked_client.get("/api/videos", headers={"Authorization": "Bearer wrong"}).status_code
        == 401
    )
    assert locked_client.get("/static/app.css").status_code == 200


def test_token_in_the_url_sets_a_cookie_and_is_dropped(locked_client: TestClient) -> None:
    response = locked_client.get(
        f"/videos/{MAIN_SLUG}?range=24h&token=s3cret-token", follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/videos/{MAIN_SLUG}?range=24h"
    assert "s3cret-token" not in locked_client.cookies["viralwatch_session"]
    page = locked_client.get(response.headers["location"])
    assert page.status_code == 200 and "s3cret-token" not in page.text


def test_login_form(locked_client: TestClient) -> None:
    form = locked_client.get("/login?next=/manage")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    assert form.status_code == 200
    wrong = locked_client.post(
        "/login", data={"csrf_token": csrf, "token": "nope", "next": "/manage"}
    )
    assert wrong.status_code == 401
    right = locked_client.post(
        "/login",
        data={"csrf_token": csrf, "token": "s3cret-token", "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert right.status_code == 303 and right.headers["location"] == "/"
    assert locked_client.get("/manage").status_code == 200


# --- cascade edges, reshares and unreadable posts ----------------------------------------------


def cascade_of(client: TestClient, slug: str = MAIN_SLUG) -> str:
    return client.get(f"/live/videos/{slug}").json()["fragments"]["cascade"]


def test_cascade_lists_posts_and_summarises_reshares_per_parent(dash_client: TestClient) -> None:
    cascade = cascade_of(dash_client)
    assert f"{RESHARES} reshares · 13 quotes · 1 crosspost" in re.sub(r"\s+", " ", cascade)
    # One line per parent naming the first resharers, expandable to a capped list.
    summary = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cascade))
    assert (
        f"{BLUESKY_RESHARES} reshares by reposter000.bsky.social, reposter001.bsky.social, "
        f"reposter002.bsky.social and {BLUESKY_RESHARES - 3} others" in summary
    )
    assert f"{MASTODON_BOOSTS} reshares by jon@fosstodon.org" in summary
    assert cascade.count('<details class="reshares"') == 2
    listed = re.findall(r"reposter(\d{3})\.bsky\.social</a>", cascade)
    assert len(listed) == 200 and listed[-1] == "199"
    assert f"+{BLUESKY_RESHARES - 200} more" in cascade
    assert f"/export/videos/{MAIN_SLUG}/cascade.csv" in cascade
    # Quotes and crossposts carry counters and stay listed one by one.
    assert "@reposter4" in cascade and "u/crossposter" in cascade


def test_cascade_stays_short_for_a_post_with_700_reshares(
    dash_client: TestClient, dash_sink
) -> None:
    from collectors.base import PostRef

    before = len(cascade_of(dash_client))
    dash_sink.record_posts(
        MAIN_SLUG,
        [
            PostRef(
                platform="x",
                platform_post_id=f"x-1#rt-{i}",
                author=f"@retweeter{i}",
                matched_by="cascade",
                parent_platform="x",
                parent_platform_post_id="x-1",
                relation="reshare",
            )
            for i in range(700)
        ],
    )
    cascade = cascade_of(dash_client)
    assert "700 reshares by @retweeter0, @retweeter1, @retweeter2 and 697 others" in re.sub(
        r"\s+", " ", re.sub(r"<[^>]+>", "", cascade)
    )
    assert "+500 more" in cascade
    # 200 more names in a folded list: about 100 bytes each, not 700 rows of tree.
    assert len(cascade) - before < 200 * 120
    rows = rows_of(dash_client.get(f"/export/videos/{MAIN_SLUG}/cascade.csv"))
    assert sum(r["relation"] == "reshare" for r in rows) == RESHARES + 700


def test_cascade_csv_has_every_edge(dash_client: TestClient) -> None:
    rows = rows_of(dash_client.get(f"/export/videos/{MAIN_SLUG}/cascade.csv"))
    by_relation: dict[str, int] = defaultdict(int)
    for row in rows:
        by_relation[row["relation"]] += 1
    assert dict(by_relation) == {"reshare": RESHARES, "quote": 13, "crosspost": 1}
    assert all(r["child_appeared_at"].endswith("Z") for r in rows)


def test_post_page_summarises_its_reshares(dash_client: TestClient, dash_story: Story) -> None:
    page = dash_client.get(f"/posts/{dash_story.posts['bs-1']}").text
    assert f"Children (1 and {BLUESKY_RESHARES} reshares)" in page
    assert '<details class="reshares"' in page
    assert page.count(".bsky.social</a>") == 200
    edge = dash_story.posts["bs-1#repost-by-did:plc:r000"]
    edge_page = dash_client.get(f"/posts/{edge}").text
    assert "This is a reshare edge" in edge_page
    assert "reporter.bsky.social" in edge_page  # its parent


def test_posts_table_lists_posts_and_counts_reshare_edges(dash_client: TestClient) -> None:
    table = dash_client.get(f"/live/videos/{MAIN_SLUG}").json()["fragments"]["posts-table"]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", table))
    assert f"{POSTS_WITH_COUNTERS} posts carrying the footage" in text
    assert f"{RESHARES} reshare edges not listed" in text
    assert "reposter000.bsky.social" not in table
    assert "reshares=include" in table
    listed = dash_client.get(f"/live/videos/{MAIN_SLUG}?reshares=include&sort=author").json()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", listed["fragments"]["posts-table"]))
    assert f"{POSTS_WITH_COUNTERS + RESHARES} rows: {POSTS_WITH_COUNTERS} posts" in text
    assert "page 1 of 6" in text
    api = dash_client.get(f"/api/videos/{MAIN_SLUG}/posts?reshares=include&limit=1000").json()
    assert api["total"] == POSTS_WITH_COUNTERS + RESHARES
    assert sum(p["relation"] == "reshare" for p in api["posts"]) == RESHARES
    assert dash_client.get(f"/api/videos/{MAIN_SLUG}/posts?reshares=maybe").status_code == 400


def test_overview_counts_posts_and_reshares_apart(dash_client: TestClient) -> None:
    videos = dash_client.get("/").text
    assert f"+{RESHARES} reshares" in videos
    main = next(
        v for v in dash_client.get("/api/videos").json()["videos"] if v["slug"] == MAIN_SLUG
    )
    assert (main["posts"], main["reshares"]) == (POSTS_WITH_COUNTERS, RESHARES)
    row = next(r for r in rows_of(dash_client.get("/export/videos.csv")) if r["slug"] == MAIN_SLUG)
    assert (row["posts"], row["reshares"]) == (str(POSTS_WITH_COUNTERS), str(RESHARES))
    summary = dash_client.get(f"/live/videos/{MAIN_SLUG}").json()["fragments"]["summary"]
    assert f"+{RESHARES} reshares" in summary


ESCAPED_ERROR = "HTTP Error 404: Not Found &lt;img src=x onerror=&#34;alert(1)&#34;&gt;"


def test_unreadable_post_shows_its_error_in_the_table(dash_client: TestClient) -> None:
    page = dash_client.get(f"/videos/{MAIN_SLUG}").text
    assert '<img src=x onerror="alert(1)">' not in page
    assert 'class="unreadable"' in page
    assert f'title="Last refresh could not read this post: {ESCAPED_ERROR}"' in page
    posts = dash_client.get(f"/api/videos/{MAIN_SLUG}/posts?platform=urls").json()["posts"]
    errors = {p["platform_post_id"]: p["last_error"] for p in posts}
    assert errors == {URL_OK: None, URL_BROKEN: URL_ERROR, URL_GONE: None}
    csv_rows = rows_of(dash_client.get(f"/export/videos/{MAIN_SLUG}/posts.csv?platform=urls"))
    assert {r["last_error"] for r in csv_rows} == {"", URL_ERROR}


def test_unreadable_post_page_says_why(dash_client: TestClient, dash_story: Story) -> None:
    page = dash_client.get(f"/posts/{dash_story.posts[URL_BROKEN]}").text
    assert "The last refresh could not read this post" in page
    assert ESCAPED_ERROR in page and '<img src=x onerror="alert(1)">' not in page
    ok = dash_client.get(f"/posts/{dash_story.posts[URL_OK]}").text
    assert "could not read" not in ok


def test_manage_lists_followed_urls_with_their_state(dash_client: TestClient) -> None:
    page = dash_client.get("/manage").text
    items = {
        url: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item))
        for item in re.findall(r'<li class="followed-\w+">(.*?)</li>', page, re.S)
        for url in (URL_OK, URL_BROKEN, URL_GONE)
        if url in item
    }
    assert set(items) == {URL_OK, URL_BROKEN, URL_GONE}
    assert items[URL_OK].strip().startswith("ok") and "4,100 views" in items[URL_OK]
    assert items[URL_BROKEN].strip().startswith("cannot read")
    assert ESCAPED_ERROR in items[URL_BROKEN]
    assert items[URL_GONE].strip().startswith("gone")
    assert '<img src=x onerror="alert(1)">' not in page
    assert f"{POSTS_WITH_COUNTERS} posts and {RESHARES} reshare edges" in page


def test_a_url_that_was_just_added_waits_for_its_first_reading(dash_client: TestClient) -> None:
    token = csrf_of(dash_client)
    url = "https://www.dailymotion.com/video/x8new"
    dash_client.post(f"/manage/videos/{MAIN_SLUG}/posts", data={"csrf_token": token, "url": url})
    page = dash_client.get("/manage").text
    item = next(i for i in re.findall(r'<li class="followed-\w+">.*?</li>', page, re.S) if url in i)
    assert 'class="followed-waiting"' in item and "not read yet" in item


def test_collector_notice_is_shown_as_ok_limited(dash_client: TestClient) -> None:
    page = dash_client.get("/").text
    row = next(
        r for r in re.findall(r"<tr class=\"state-ok\">.*?</tr>", page, re.S) if "Bluesky" in r
    )
    assert "ok (limited)" in row
    assert f'<td class="notice-text"><span class="sr-only">notice: </span>{BLUESKY_NOTICE}' in row


def test_a_failing_discovery_is_not_hidden_by_a_later_good_refresh(tmp_path):
    from datetime import UTC, datetime, timedelta

    from collectors.base import RunReport
    from dashboard.states import collector_states
    from storage import read
    from storage.db import make_engine, upgrade
    from storage.write import StorageSink
    from viralwatch.catalog import load_settings

    engine = make_engine(f"sqlite:///{tmp_path / 'runs.db'}")
    upgrade(engine)
    t = datetime(2026, 1, 1, tzinfo=UTC)
    sink = StorageSink(engine, lambda: t)
    sink.record_run(
        RunReport(
            "hackernews",
            "discover",
            t,
            t,
            status="failed",
            error_message="hackernews: server error HTTP 503; will retry",
        )
    )
    later = t + timedelta(minutes=5)
    sink.record_run(RunReport("hackernews", "refresh", later, later, status="ok"))
    states = {
        s.name: s for s in collector_states(load_settings(None), read.latest_runs(engine), later)
    }
    assert states["hackernews"].state == "failing"
    assert "HTTP 503" in states["hackernews"].error_message
    sink.record_run(RunReport("hackernews", "discover", later, later, status="ok"))
    states = {
        s.name: s for s in collector_states(load_settings(None), read.latest_runs(engine), later)
    }
    assert states["hackernews"].state == "ok"
    engine.dispose()


def test_the_dashboard_serves_the_stored_alerts(dash_client):
    # Issue 12: alerts are listed by the dashboard app itself, in JSON and as CSV.
    assert dash_client.get("/api/alerts").json() == {"alerts": []}
    exported = dash_client.get("/export/alerts.csv")
    assert exported.status_code == 200 and exported.text.splitlines()[0].startswith("alert_id")


def test_the_collectors_table_shows_each_budget_spent_in_its_window(
    dash_client: TestClient, dash_engine, dash_clock
) -> None:
    # Issue 8: budget use per platform shows on the dashboard.
    from collectors.youtube import YouTubeCollector
    from storage import budgets

    budgets.reserve(dash_engine, "youtube", YouTubeCollector.spec.quotas[1], dash_clock(), 42)
    page = dash_client.get("/").text
    row = next(r for r in re.findall(r"<tr class=\"state-.*?</tr>", page, re.S) if "YouTube<" in r)
    assert "42/100 search.list calls</span>" in row
    other = next(r for r in re.findall(r"<tr class=\"state-.*?</tr>", page, re.S) if "Reddit" in r)
    assert '<td class="budget">–</td>' in other
