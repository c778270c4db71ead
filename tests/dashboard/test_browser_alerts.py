"""The alerts page in headless Chromium (issue 12): hostile post text in a stored alert stays
text, a rule is added, filtered on and deleted through the forms, and the CSV link carries the
page's filters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from pydantic import SecretStr

from config.settings import AlertRuleSettings, AlertsSettings
from dashboard.app import create_app
from dashboard.serve import start_in_thread
from storage import alert_rules, alert_store
from storage.db import make_engine, upgrade
from storage.write import StorageSink, VideoInput
from viralwatch.catalog import dashboard_platforms, settings_model

from .conftest import NOW, DashClock

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PWN = "window.__pwned=1;alert(1)"
HOSTILE = f'<img src=x onerror="{PWN}"><script>{PWN}</script>'
SECRET = "BROWSER-TARGET-SECRET-9"


class Site:
    def __init__(self, url: str, sink: StorageSink) -> None:
        self.url = url
        self.sink = sink


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('alerts') / 'dash.db'}")
    upgrade(engine)
    clock = DashClock(NOW)
    sink = StorageSink(engine, clock)
    sink.add_video(VideoInput(slug="clip", title="The clip", keywords=("harbour",)))
    alert_store.fire_alert(
        engine,
        alert_store.NewAlert(
            rule="million",
            kind="threshold",
            video="clip",
            dedupe_key="after:0",
            fired_at=NOW - timedelta(hours=1),
            title="views at or above 1,000,000 on all platforms",
            payload={
                "items": [{"label": HOSTILE, "detail": HOSTILE, "path": "/videos/clip"}],
                "link": "https://desk.example.org/videos/clip",
            },
            targets=[("hook", "hook (json://127.0.0.1)")],
        ),
    )
    alerts = AlertsSettings(
        targets={"hook": SecretStr(f"json://127.0.0.1:9/{SECRET}")},
        rules=[AlertRuleSettings(name="million", kind="threshold", targets=["hook"])],
    )
    settings = settings_model()(alerts=alerts)
    server = start_in_thread(create_app(engine, settings, sink, clock, dashboard_platforms()))
    yield Site(server.url, sink)
    server.stop()
    engine.dispose()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=site.url)
    page = context.new_page()
    events: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if "favicon" not in (message.location.get("url") or ""):
            events.append(f"console {message.type}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda err: events.append(f"page error: {err}"))
    page.on("dialog", lambda dialog: (events.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    yield page
    context.close()
    assert events == []


def test_alerts_page_shows_hostile_text_as_text_and_manages_rules(page: Page, site: Site) -> None:
    page.goto("/alerts")
    expect(page.locator("table.alerts tbody tr")).to_have_count(1)
    expect(page.locator(".alert-items li").first).to_contain_text("<script>")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main [onerror], main script").count() == 0
    assert SECRET not in page.content()
    expect(page.locator("#rule-million")).to_contain_text("config file (read-only)")

    form = page.locator("#rule-form")
    form.locator("input[name=name]").fill("reached")
    form.locator("select[name=kind]").select_option("new_platform")
    form.locator("input[name=targets][value=hook]").check()
    form.locator("select[name=video]").select_option("clip")
    form.get_by_role("button", name="Add rule").click()
    expect(page.locator(".notice")).to_contain_text("Rule added")
    expect(page.locator("#rule-reached")).to_contain_text("new_platform")
    (stored,) = alert_rules.list_rules(site.sink.engine)
    assert stored.video == "clip" and stored.definition["targets"] == ["hook"]

    filters = page.locator("form.alert-filters")
    filters.locator("input[name=rule]").fill("million")
    filters.locator("select[name=status]").select_option("pending")
    filters.get_by_role("button", name="Filter").click()
    expect(page.locator("#alerts-csv")).to_have_attribute(
        "href", "/export/alerts.csv?rule=million&status=pending"
    )
    expect(page.locator("table.alerts tbody tr")).to_have_count(1)

    page.locator("#rule-reached").get_by_role("button", name="Delete").click()
    expect(page.locator(".notice")).to_contain_text("Rule deleted")
    assert alert_rules.list_rules(site.sink.engine) == []
