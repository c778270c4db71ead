"""Dashboard hardening (issue 13): Host names, Origin checks, signed per-session CSRF tokens and
token rotation, in process against a real database."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from config.settings import DashboardSettings
from dashboard.app import create_app
from dashboard.origins import allowed_host_names, host_name, is_same_origin
from storage import read
from viralwatch.catalog import dashboard_platforms, settings_model

from .conftest import MAIN_SLUG

pytestmark = pytest.mark.usefixtures("dash_story")

HOME = "http://127.0.0.1:8000"


def client_for(dash_engine, dash_sink, dash_clock, **dashboard) -> TestClient:
    settings = settings_model()(dashboard=DashboardSettings(**dashboard))
    app = create_app(dash_engine, settings, dash_sink, dash_clock, dashboard_platforms())
    return TestClient(app, base_url=HOME, headers={"origin": HOME})


def csrf_in(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF field"
    return found.group(1)


# --- Host ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.0.0.1:8000", "localhost", "LOCALHOST:8000", "localhost.", "[::1]:8000"],
)
def test_loopback_host_names_are_served(dash_client: TestClient, host: str) -> None:
    assert dash_client.get("/api/videos", headers={"host": host}).status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        "rebind.attacker.example",
        "rebind.attacker.example:8000",
        "127.0.0.1.attacker.example",
        "evil.example@127.0.0.1",
        "127.0.0.1:80:80",
        "[::1",
        "",
    ],
)
def test_other_host_names_are_refused_with_a_reason(dash_client: TestClient, host: str) -> None:
    # issue 13: any Host was accepted, so a DNS-rebinding page could read the dashboard.
    response = dash_client.get("/api/videos", headers={"host": host})
    assert response.status_code == 400
    assert "allowed_hosts" in response.text and "\n" not in response.text.strip()
    assert "Bridge collapse" not in response.text


def test_configured_host_and_allowed_hosts_are_served(dash_engine, dash_sink, dash_clock) -> None:
    client = client_for(
        dash_engine,
        dash_sink,
        dash_clock,
        host="192.168.1.20",
        token=SecretStr("t0ken"),
        allowed_hosts=["viralwatch.lan"],
    )
    bearer = {"authorization": "Bearer t0ken"}
    for host in ("192.168.1.20:8000", "viralwatch.lan", "Viralwatch.LAN:443", "localhost"):
        assert client.get("/api/videos", headers={**bearer, "host": host}).status_code == 200
    assert client.get("/api/videos", headers={**bearer, "host": "other.lan"}).status_code == 400


def test_a_wildcard_bind_address_is_not_a_host_name() -> None:
    assert allowed_host_names("0.0.0.0", []) == {"127.0.0.1", "localhost", "::1"}
    assert "::" not in allowed_host_names("::", ["Box.Example."])
    assert "box.example" in allowed_host_names("::", ["Box.Example."])


def test_host_name_parses_ports_and_brackets() -> None:
    assert host_name("[::1]:8000") == "::1"
    assert host_name("Example.COM.") == "example.com"
    assert host_name("example.com:99999") is None
    assert host_name("a b") is None


def test_allowed_hosts_must_be_bare_host_names() -> None:
    with pytest.raises(ValueError, match="allowed_hosts"):
        DashboardSettings(allowed_hosts=["https://viralwatch.lan/"])


# --- Origin / Referer ---------------------------------------------------------------------------


def test_same_origin_compares_host_and_port() -> None:
    assert is_same_origin("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert is_same_origin("https://box.example", "box.example")
    assert is_same_origin("http://box.example/manage?x=1", "box.example:80")
    assert not is_same_origin("http://127.0.0.1:9000", "127.0.0.1:8000")
    assert not is_same_origin("http://evil.example", "127.0.0.1:8000")
    assert not is_same_origin("null", "127.0.0.1:8000")
    assert not is_same_origin("javascript:alert(1)", "127.0.0.1:8000")


def add_video_form(client: TestClient, slug: str) -> dict[str, str]:
    page = client.get("/manage").text
    return {"csrf_token": csrf_in(page), "slug": slug, "title": "t", "keywords": "k"}


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://rebind.attacker.example:8000"},
        {"origin": "http://127.0.0.1:9999"},  # another local service
        {"origin": "null"},
        {"origin": "", "referer": "http://attacker.example/page"},
        {"origin": ""},  # neither header
    ],
)
def test_state_changes_from_another_origin_are_refused(
    dash_engine, dash_sink, dash_clock, headers: dict[str, str]
) -> None:
    client = client_for(dash_engine, dash_sink, dash_clock)
    data = add_video_form(client, "cross-site")
    kept = {k: v for k, v in headers.items() if v}
    if "origin" not in kept:
        del client.headers["origin"]
    response = client.post("/manage/videos", data=data, headers=kept)
    assert response.status_code == 403 and "origin" in response.text.lower()
    assert all(v.slug != "cross-site" for v in read.list_videos(dash_engine))


def test_same_origin_referer_is_enough(dash_engine, dash_sink, dash_clock) -> None:
    client = client_for(dash_engine, dash_sink, dash_clock)
    data = add_video_form(client, "via-referer")
    del client.headers["origin"]
    response = client.post(
        "/manage/videos", data=data, headers={"referer": f"{HOME}/manage"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert any(v.slug == "via-referer" for v in read.list_videos(dash_engine))


def test_pages_ask_browsers_to_send_the_origin_on_their_own_forms(dash_client) -> None:
    # With `no-referrer`, browsers send `Origin: null` on form posts and the check refuses them.
    assert dash_client.get("/").headers["referrer-policy"] == "same-origin"


# --- CSRF tokens and sessions -------------------------------------------------------------------


def test_csrf_token_is_bound_to_the_session(dash_engine, dash_sink, dash_clock) -> None:
    # issue 13: the double-submit check accepted any cookie/field pair an attacker planted.
    victim = client_for(dash_engine, dash_sink, dash_clock)
    attacker = client_for(dash_engine, dash_sink, dash_clock)
    victim_form = add_video_form(victim, "planted")
    attacker_form = add_video_form(attacker, "planted")
    assert victim_form["csrf_token"] != attacker_form["csrf_token"]
    assert victim.post("/manage/videos", data=attacker_form).status_code == 403
    victim.cookies.clear()
    for name in ("viralwatch_csrf", "csrf"):
        victim.cookies.set(name, attacker_form["csrf_token"], domain="127.0.0.1")
    assert victim.post("/manage/videos", data=attacker_form).status_code == 403
    assert all(v.slug != "planted" for v in read.list_videos(dash_engine))


def test_a_forged_session_cookie_is_replaced(dash_engine, dash_sink, dash_clock) -> None:
    client = client_for(dash_engine, dash_sink, dash_clock)
    client.cookies.set("viralwatch_session", "abc.def", domain="127.0.0.1")
    page = client.get("/manage")
    assert page.status_code == 200
    assert client.cookies["viralwatch_session"] != "abc.def"
    data = {"csrf_token": csrf_in(page.text), "slug": "fresh", "title": "t", "keywords": "k"}
    assert client.post("/manage/videos", data=data, follow_redirects=False).status_code == 303


def sign_in(client: TestClient, token: str) -> None:
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"csrf_token": csrf_in(form.text), "token": token, "next": "/manage"},
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_signing_in_starts_a_new_session(dash_engine, dash_sink, dash_clock) -> None:
    client = client_for(dash_engine, dash_sink, dash_clock, token=SecretStr("first-token"))
    before = csrf_in(client.get("/login").text)
    anonymous = client.cookies["viralwatch_session"]
    sign_in(client, "first-token")
    assert client.cookies["viralwatch_session"] != anonymous
    assert "first-token" not in client.cookies["viralwatch_session"]
    page = client.get("/manage")
    assert page.status_code == 200 and csrf_in(page.text) != before


def test_rotating_the_token_ends_old_sessions(dash_engine, dash_sink, dash_clock) -> None:
    old = client_for(dash_engine, dash_sink, dash_clock, token=SecretStr("first-token"))
    sign_in(old, "first-token")
    cookie = old.cookies["viralwatch_session"]
    # The same token after a restart keeps the session...
    restarted = client_for(dash_engine, dash_sink, dash_clock, token=SecretStr("first-token"))
    restarted.cookies.set("viralwatch_session", cookie, domain="127.0.0.1")
    assert restarted.get("/manage", follow_redirects=False).status_code == 200
    # ...a new one ends it.
    rotated = client_for(dash_engine, dash_sink, dash_clock, token=SecretStr("second-token"))
    rotated.cookies.set("viralwatch_session", cookie, domain="127.0.0.1")
    response = rotated.get("/manage", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert rotated.get("/api/videos").status_code == 401


def test_signing_out_ends_the_session(dash_engine, dash_sink, dash_clock) -> None:
    client = client_for(dash_engine, dash_sink, dash_clock, token=SecretStr("first-token"))
    sign_in(client, "first-token")
    page = client.get("/manage").text
    out = client.post("/logout", data={"csrf_token": csrf_in(page)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/manage", follow_redirects=False).status_code == 303


def test_pause_needs_this_sessions_token(dash_engine, dash_sink, dash_clock) -> None:
    client = client_for(dash_engine, dash_sink, dash_clock)
    other = client_for(dash_engine, dash_sink, dash_clock)
    foreign = csrf_in(other.get("/manage").text)
    client.get("/manage")
    response = client.post(
        f"/manage/videos/{MAIN_SLUG}/pause", data={"csrf_token": foreign, "paused": "true"}
    )
    assert response.status_code == 403
    video = next(v for v in read.list_videos(dash_engine) if v.slug == MAIN_SLUG)
    assert not video.is_paused


def test_pages_do_not_override_the_referrer_policy(dash_client) -> None:
    assert 'content="no-referrer"' not in dash_client.get("/manage").text


@pytest.mark.parametrize("post_id", [2**31, 2**63, 10**30, 0])
def test_a_post_id_no_row_can_have_is_not_found(dash_client: TestClient, post_id: int) -> None:
    # Found by schemathesis (issue 13): ids past the column range raised (a 500), on SQLite
    # past 2**63 (OverflowError), on PostgreSQL past 2**31 (integer out of range).
    assert dash_client.get(f"/api/posts/{post_id}/observations").status_code == 404
    assert dash_client.get(f"/export/posts/{post_id}/observations.csv").status_code == 404
    assert dash_client.get(f"/posts/{post_id}").status_code == 404


def test_openapi_declares_errors_csv_and_parameter_values(dash_client: TestClient) -> None:
    # issue 13: schemathesis found answers the document did not declare (400, 404, text/csv).
    paths = dash_client.get("/openapi.json").json()["paths"]
    series = paths["/api/videos/{slug}/series"]["get"]
    assert {"200", "400", "401", "404", "422"} <= set(series["responses"])
    assert "text/csv" in paths["/export/videos.csv"]["get"]["responses"]["200"]["content"]
    ranges = next(p for p in series["parameters"] if p["name"] == "range")
    assert ranges["schema"]["enum"] == ["1h", "24h", "7d", "all", "custom"]


def test_openapi_describes_each_json_answer(dash_client: TestClient) -> None:
    document = dash_client.get("/openapi.json").json()
    ok = document["paths"]["/api/videos"]["get"]["responses"]["200"]["content"]
    assert ok["application/json"]["schema"] == {"$ref": "#/components/schemas/VideoList"}
    video = document["components"]["schemas"]["VideoSummary"]
    assert video["additionalProperties"] is False and "growth_views_1h" in video["properties"]


def test_observations_api_gives_utc_times_and_whole_counters(
    dash_client: TestClient, dash_story
) -> None:
    # issue 13 (schemathesis): times came without a zone and counters as floats (641477.0).
    post_id = dash_story.posts["yt-1"]
    row = dash_client.get(f"/api/posts/{post_id}/observations").json()["observations"][-1]
    assert row["observed_at"].endswith("Z")
    assert isinstance(row["views"], int) and row["quotes"] is None
