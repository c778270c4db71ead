"""Hostile titles, authors and captions in real headless Chromium (issue 13).

Script tags, event attributes, `javascript:` links, formulas in every disguise, bidi overrides,
zero-width characters and 100 KB strings: no script runs (no dialog, no console message, no
`window.__pwned`), the text is shown as text, and it is stored intact.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from collectors.base import Observation, PostRef
from dashboard.app import create_app
from dashboard.serve import start_in_thread
from storage import read
from storage.db import make_engine, upgrade
from storage.write import StorageSink, VideoInput
from viralwatch.catalog import dashboard_platforms, settings_model

from .conftest import NOW, DashClock

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SLUG = "hostile"
PWN = "window.__pwned=1;alert(1);console.log('pwned')"
TITLE = f'<img src=x onerror="{PWN}">\u202eevil\u202c =1+1 \u200bzero'
LONG = "A" * 100_000
# (platform post id, author, caption, url)
POSTS = [
    ("p-script", f"<script>{PWN}</script>", f'<img src=x onerror="{PWN}">', "javascript:" + PWN),
    (
        "p-attr",
        f'" onmouseover="{PWN}" x="',
        f'<a href="javascript:{PWN}">click</a>',
        "JaVaScRiPt:x",
    ),
    (
        "p-formula",
        '=HYPERLINK("http://evil","x")',
        "＝1+1 \u200b=cmd|' /C calc'!A0",
        "https://ok.example/f",
    ),
    ("p-bidi", "\u202eevil\u202c_author\u2066x\u2069", "\u200b\u200c\u200d\ufeff zero width", None),
    ("p-hidden", "\u200b=cmd|' /C calc'!A0", " \ufeff＠SUM(A1)", "\t=1"),
    ("p-long", LONG, "<b>" + "x" * 100_000, "https://ok.example/" + "l" * 3000),
]


class Site:
    def __init__(self, url: str, sink: StorageSink, post_ids: dict[str, int]) -> None:
        self.url = url
        self.sink = sink
        self.post_ids = post_ids


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'dash.db'}")
    upgrade(engine)
    clock = DashClock(NOW - timedelta(hours=3))
    sink = StorageSink(engine, clock)
    sink.add_video(VideoInput(slug=SLUG, title=TITLE, keywords=("harbour",)))
    sink.record_posts(
        SLUG,
        [
            PostRef(
                platform="reddit",
                platform_post_id=post_id,
                url=url,
                author=author,
                text=text,
                published_at=clock.now,
                matched_by="keyword:harbour",
            )
            for post_id, author, text, url in POSTS
        ],
    )
    sink.record_observations(
        [
            Observation("reddit", post_id, clock.now + timedelta(hours=h), views=10 + h, likes=h)
            for post_id, *_ in POSTS
            for h in range(3)
        ]
    )
    clock.now = NOW
    ids = {p.platform_post_id: p.id for p in read.iter_posts(engine, read.PostFilter(video=SLUG))}
    server = start_in_thread(
        create_app(engine, settings_model()(), sink, clock, dashboard_platforms())
    )
    yield Site(server.url, sink, ids)
    server.stop()
    engine.dispose()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    """A page that records every dialog, console message and page error."""
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


def assert_nothing_ran(page: Page) -> None:
    page.mouse.move(10, 10)
    for row in page.locator("#posts-table tbody tr").all()[:5]:
        row.hover()  # would fire a planted onmouseover
    assert page.evaluate("window.__pwned") is None
    assert page.locator("a[href^='javascript' i]").count() == 0
    assert page.locator("body script:not([src]):not([type='application/json'])").count() == 0
    assert page.locator("[onerror], [onmouseover], [onload]").count() == 0


def charts_ready(page: Page) -> None:
    page.wait_for_selector("body[data-charts-ready='1']")


def test_overview_and_video_page_show_hostile_text_as_text(page: Page) -> None:
    page.goto("/")
    card = page.locator(f"#video-{SLUG} h2")
    expect(card).to_contain_text('<img src=x onerror="window.__pwned=1')
    expect(card).to_contain_text("[U+202E]evil[U+202C]")
    assert_nothing_ran(page)
    page.goto(f"/videos/{SLUG}")
    charts_ready(page)
    expect(page.locator("h1")).to_contain_text("=1+1 \u200bzero")
    table = page.locator("#posts-table")
    expect(table).to_contain_text(f"<script>{PWN}</script>")
    expect(table).to_contain_text('" onmouseover="')
    expect(table).to_contain_text('=HYPERLINK("http://evil","x")')
    expect(table).to_contain_text("[U+202E]evil[U+202C]_author[U+2066]x[U+2069]")
    assert LONG in table.inner_text()
    # `javascript:` URLs are shown as text, never as links.
    expect(table).to_contain_text("javascript:" + PWN)
    assert "\u202e" not in page.evaluate("document.body.innerText")
    # The timeline hover text goes through plotly's HTML-ish labels: escaped there too.
    hover = page.evaluate("document.getElementById('chart-timeline').data[0].customdata[0][0]")
    assert "<" not in hover
    assert_nothing_ran(page)


@pytest.mark.parametrize("post_id", [p[0] for p in POSTS])
def test_post_pages_show_hostile_captions_as_text(page: Page, site: Site, post_id: str) -> None:
    page.goto(f"/posts/{site.post_ids[post_id]}")
    charts_ready(page)
    text = next(t for p, _author, t, _url in POSTS if p == post_id)
    caption = page.locator(".post-text").inner_text()
    if post_id == "p-bidi":
        assert caption.strip() == text.strip()  # zero-width characters kept, shown as text
        expect(page.locator("h1")).to_contain_text("[U+202E]evil")
    else:
        assert caption == text
    assert_nothing_ran(page)


def test_hostile_text_is_stored_intact(site: Site) -> None:
    engine = site.sink.engine
    video = next(v for v in read.list_videos(engine) if v.slug == SLUG)
    assert video.title == TITLE
    for post_id, author, text, url in POSTS:
        post = read.find_post(engine, "reddit", post_id)
        assert post is not None
        assert (post.author, post.text, post.url) == (author, text, url)


def test_csv_download_neutralises_every_formula(page: Page, site: Site) -> None:
    page.goto(f"/videos/{SLUG}")
    charts_ready(page)
    with page.expect_download() as download:
        page.locator(f"a.csv[href^='/export/videos/{SLUG}/posts.csv']").click()
    path = Path(download.value.path())
    rows = {row["platform_post_id"]: row for row in csv.DictReader(io.StringIO(path.read_text()))}
    assert rows["p-formula"]["author"] == "'" + POSTS[2][1]
    assert rows["p-bidi"]["author"] == POSTS[3][1]  # no formula behind the override: as is
    assert rows["p-formula"]["text"] == "'" + POSTS[2][2]
    assert rows["p-hidden"]["author"] == "'" + POSTS[4][1]
    assert rows["p-hidden"]["text"] == "'" + POSTS[4][2]
    assert rows["p-hidden"]["url"] == "'" + POSTS[4][3]
    assert rows["p-long"]["author"] == LONG
    assert_nothing_ran(page)


def test_hostile_title_typed_into_the_form_is_stored_as_typed(page: Page, site: Site) -> None:
    typed = f"<script>{PWN}</script> \u202eRLO\u202c \u200bzw ＝1"
    page.goto("/manage")
    form = page.locator("#video-form")
    form.locator("input[name=slug]").fill("typed-hostile")
    form.locator("input[name=title]").fill(typed)
    form.locator("textarea[name=keywords]").fill("harbour\u200b")
    form.get_by_role("button", name="Add video").click()
    expect(page.locator(".notice")).to_contain_text("Video added")
    assert_nothing_ran(page)
    # Saving the edit form unchanged keeps every character.
    page.goto("/manage/videos/typed-hostile/edit")
    page.locator("#video-form").get_by_role("button").first.click()
    expect(page.locator(".notice")).to_contain_text("Video updated")
    video = next(v for v in read.list_videos(site.sink.engine) if v.slug == "typed-hostile")
    assert video.title == typed and video.keywords == ["harbour\u200b"]
    assert_nothing_ran(page)
