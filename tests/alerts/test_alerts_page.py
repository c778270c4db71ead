"""The dashboard's alerts page: stored alerts with filters, linked to the same selection as CSV
and JSON, and alert rules set through CSRF-protected forms beside the config file's read-only
ones (issue 12). In process through the ASGI app, on a real database."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from alerts.service import build_alert_service
from collectors.base import Observation, PostRef
from config.settings import Settings
from dashboard.app import create_app
from storage import alert_rules
from storage.write import VideoInput
from tests.alerts.conftest import URL_SECRETS, alerts_settings, rule
from tests.dashboard.conftest import DASH_URL
from viralwatch.catalog import dashboard_platforms, settings_model

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def no_sleep(seconds: float) -> None:
    pass


def settings_with(receiver, *rules) -> Settings:
    alerts = alerts_settings(receiver, *rules)
    alerts.targets["spare"] = SecretStr(f"json://127.0.0.1:9/{URL_SECRETS[1]}-spare")
    return settings_model()(alerts=alerts)


@pytest.fixture
def page(engine, sink, clock, receiver):
    sink.add_video(VideoInput("clip", "The clip"))
    sink.add_video(VideoInput("other", "Another clip"))
    settings = settings_with(receiver, rule("million", "threshold", threshold=1_000_000))
    app = create_app(engine, settings, sink, clock, dashboard_platforms())
    # A loopback Host (the dashboard refuses others) and the Origin a browser sends on its forms.
    with TestClient(app, base_url=DASH_URL, headers={"origin": DASH_URL}) as client:
        yield client, settings


def csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/alerts").text)
    assert found
    return found.group(1)


def form(**values: object) -> dict[str, object]:
    base = {"name": "big-views", "kind": "threshold", "targets": ["hook"], "threshold": "5000"}
    return {**base, **values}


def test_rules_are_added_edited_and_deleted_through_the_forms(page, engine):
    client, _settings = page
    token = csrf(client)
    listing = client.get("/alerts").text
    assert 'id="rule-million"' in listing and "config file (read-only)" in listing
    assert "/alerts/rules/million/edit" not in listing
    added = client.post(
        "/alerts/rules",
        data=form(csrf_token=token, video="clip", platform="each", cooldown_minutes="15"),
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"].startswith("/alerts?notice=")
    (stored,) = alert_rules.list_rules(engine)
    assert (stored.name, stored.video) == ("big-views", "clip")
    assert stored.definition["threshold"] == 5000 and stored.definition["platform"] == "each"
    assert stored.definition["cooldown_minutes"] == 15 and stored.definition["targets"] == ["hook"]
    edit_page = client.get("/alerts/rules/big-views/edit").text
    assert 'value="5000"' in edit_page and 'value="each" selected' in edit_page
    edited = client.post(
        "/alerts/rules/big-views",
        data=form(csrf_token=token, name="renamed", threshold="7500", targets=["hook", "spare"]),
        follow_redirects=False,
    )
    assert edited.status_code == 303
    (stored,) = alert_rules.list_rules(engine)
    assert stored.name == "big-views" and stored.video == ""  # never renamed; now every video
    assert stored.definition["threshold"] == 7500 and stored.definition["targets"] == [
        "hook",
        "spare",
    ]
    deleted = client.post(
        "/alerts/rules/big-views/delete", data={"csrf_token": token}, follow_redirects=False
    )
    assert deleted.status_code == 303 and alert_rules.list_rules(engine) == []
    gone = client.post("/alerts/rules/big-views/delete", data={"csrf_token": token})
    assert gone.status_code == 404


def test_rule_forms_need_the_csrf_token(page, engine):
    client, _settings = page
    csrf(client)
    assert client.post("/alerts/rules", data=form()).status_code == 403
    assert client.post("/alerts/rules", data=form(csrf_token="forged")).status_code == 403
    alert_rules.add_rule(engine, {"name": "kept", "kind": "digest", "targets": ["hook"]}, _now())
    assert client.post("/alerts/rules/kept/delete", data={}).status_code == 403
    assert [r.name for r in alert_rules.list_rules(engine)] == ["kept"]


def _now():
    from datetime import UTC, datetime

    return datetime(2026, 3, 1, tzinfo=UTC)


BAD_RULES = [
    ({"name": "Big Views!"}, "name", "must be lowercase letters, digits and dashes"),
    ({"name": "million"}, "name", "the config file has a rule of that name"),
    ({"name": ""}, "name", "Field required"),
    ({"kind": "sometimes"}, "kind", "must be one of threshold, new_platform"),
    ({"targets": []}, "targets", "name at least one [alerts.targets] entry"),
    ({"targets": ["nope"]}, "targets", "'nope' is not in [alerts.targets]"),
    ({"threshold": "lots"}, "threshold", "Input should be a valid number"),
    ({"threshold": "-1"}, "threshold", "greater than or equal to 0"),
    ({"video": "unknown-clip"}, "video", "pick a tracked video"),
    ({"platform": "myspace"}, "platform", "use each, or one of"),
    ({"factor": "1"}, "factor", "greater than 1"),
]


def test_a_bad_rule_is_refused_with_one_line_under_its_field(page, engine):
    client, _settings = page
    token = csrf(client)
    for values, field, message in BAD_RULES:
        response = client.post("/alerts/rules", data=form(csrf_token=token, **values))
        assert response.status_code == 400, values
        found = re.search(
            rf'<p class="field-error" id="error-{field}" role="alert">([^<]*)</p>', response.text
        )
        assert found, values
        assert message in found.group(1).replace("&#39;", "'"), (values, found.group(1))
        assert "\n" not in found.group(1)
        assert 'value="' in response.text and "The rule was not saved" in response.text
    assert alert_rules.list_rules(engine) == []


def test_a_second_rule_with_a_stored_name_is_refused(page, engine):
    client, _settings = page
    token = csrf(client)
    assert client.post("/alerts/rules", data=form(csrf_token=token)).status_code == 200
    again = client.post("/alerts/rules", data=form(csrf_token=token, kind="new_platform"))
    assert again.status_code == 400 and "a rule named &#39;big-views&#39; exists" in again.text
    (stored,) = alert_rules.list_rules(engine)
    assert stored.definition["kind"] == "threshold"


def test_a_rule_set_on_the_dashboard_fires_for_its_video_only(page, engine, sink, clock, receiver):
    client, settings = page
    data = form(csrf_token=csrf(client), name="spread", kind="new_platform", video="other")
    assert client.post("/alerts/rules", data=data).status_code == 200
    for slug in ("clip", "other"):
        sink.record_posts(slug, [PostRef("youtube", f"{slug}-1", author="a")])
        sink.record_observations([Observation("youtube", f"{slug}-1", clock(), views=5)])
    service = build_alert_service(engine, settings.alerts, clock, sleep=no_sleep)
    assert service.run_once() == 1
    (body,) = receiver.bodies()
    assert "the footage reached a new platform" in body
    assert "https://desk.example.org/videos/other" in body


def fire_some_alerts(engine, sink, clock, settings) -> None:
    hostile = PostRef("youtube", "v1", author=HOSTILE, text=HOSTILE, extra={"language": "uk"})
    sink.record_posts("clip", [hostile])
    sink.record_observations([Observation("youtube", "v1", clock(), views=2_000_000)])
    sink.record_posts("other", [PostRef("reddit", "r1", author="b")])
    sink.record_observations([Observation("reddit", "r1", clock(), views=10)])
    alert_rules.add_rule(
        engine,
        {"name": "spread", "kind": "new_platform", "targets": ["hook", "spare"]},
        clock(),
    )
    languages = {"name": "languages", "kind": "new_language", "targets": ["hook"], "video": "clip"}
    alert_rules.add_rule(engine, languages, clock())
    service = build_alert_service(engine, settings.alerts, clock, sleep=no_sleep)
    # million and languages on clip, spread on clip and on other
    assert service.run_once() == 4


def test_the_page_lists_alerts_with_filters_linking_the_same_csv_and_json(
    page, engine, sink, clock
):
    client, settings = page
    fire_some_alerts(engine, sink, clock, settings)
    everything = client.get("/alerts").text
    assert everything.count('<tr id="alert-') == 4
    query = "rule=spread&video=&kind=&status=failed&since=2026-03-01T11%3A00&until="
    selected = client.get(f"/alerts?{query}")
    assert selected.status_code == 200
    assert selected.text.count('<tr id="alert-') == 2  # "spare" failed on both spread alerts
    csv_link = re.search(r'href="(/export/alerts\.csv[^"]*)"', selected.text).group(1)
    api_link = re.search(r'href="(/api/alerts[^"]*)"', selected.text).group(1)
    assert (
        csv_link == "/export/alerts.csv?rule=spread&amp;status=failed&amp;since=2026-03-01T11%3A00"
    )
    rows = list(csv.DictReader(io.StringIO(client.get(csv_link.replace("&amp;", "&")).text)))
    api = client.get(api_link.replace("&amp;", "&")).json()["alerts"]
    assert {int(r["alert_id"]) for r in rows} == {a["id"] for a in api}
    assert len(api) == 2 and {a["rule"] for a in api} == {"spread"}
    later = client.get("/alerts?since=2026-03-01T13:00").text
    assert "No alerts match these filters" in later
    by_video = client.get("/alerts?video=other").text
    assert by_video.count('<tr id="alert-') == 1


def test_hostile_post_text_is_escaped_and_no_target_url_is_shown(page, engine, sink, clock):
    client, settings = page
    fire_some_alerts(engine, sink, clock, settings)
    listing = client.get("/alerts").text
    assert "<script>alert" not in listing and "<img src=x" not in listing
    assert "&lt;script&gt;alert(" in listing
    assert "hook (json://127.0.0.1)" in listing and "spare (json://127.0.0.1)" in listing
    refused = client.post("/alerts/rules", data=form(csrf_token=csrf(client), targets=["x"]))
    edit_page = client.get("/alerts/rules/spread/edit").text
    video_page = client.get("/videos/clip").text
    assert 'href="/alerts?video=clip"' in video_page
    seen = listing + refused.text + edit_page + video_page
    assert not any(secret in seen for secret in URL_SECRETS)


def test_a_bad_time_filter_is_one_line_naming_it(page):
    client, _settings = page
    response = client.get("/alerts?since=yesterday")
    assert response.status_code == 400 and "since: &#39;yesterday&#39; is not a date" in (
        response.text
    )
    api = client.get("/api/alerts?until=soon")
    assert api.status_code == 400 and api.json()["detail"].startswith("until: 'soon'")
