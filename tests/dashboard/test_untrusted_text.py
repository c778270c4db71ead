"""Bidirectional control characters in untrusted text are shown, not obeyed (issue 13)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from markupsafe import Markup

from collectors.base import Observation, PostRef
from dashboard import charts
from dashboard.bidi import BIDI_CONTROLS, show_bidi_controls
from storage import read
from storage.read import AppearanceRow
from storage.write import StorageSink, VideoInput

from .conftest import NOW, DashClock

SLUG = "bidi-trick"
# Reads "invoice_cod.exe" backwards-trick style: the override flips what follows.
TITLE = "Harbour \u202efire\u202c report \u2067RTL\u2069 \u200eend"
AUTHOR = "\u202eevil\u202c_author\u200f"
TEXT = "caption \u2066isolated\u2069 \u202btext\u202c"


@pytest.fixture
def bidi_post(dash_sink: StorageSink, dash_clock: DashClock) -> int:
    dash_clock.now = NOW - timedelta(hours=2)
    dash_sink.add_video(VideoInput(slug=SLUG, title=TITLE, keywords=("harbour",)))
    ref = PostRef(
        platform="reddit",
        platform_post_id="bidi-1",
        url="https://reddit.example/bidi-1",
        author=AUTHOR,
        text=TEXT,
        published_at=dash_clock.now,
        matched_by="keyword:harbour",
    )
    dash_sink.record_posts(SLUG, [ref])
    dash_sink.record_observations([Observation("reddit", "bidi-1", dash_clock.now, views=5)])
    dash_clock.now = NOW
    post = read.find_post(dash_sink.engine, "reddit", "bidi-1")
    assert post is not None
    return post.id


def test_show_bidi_controls_names_every_control() -> None:
    controls = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F)]
    shown = show_bidi_controls("a" + "".join(controls) + "b")
    assert BIDI_CONTROLS.search(shown) is None
    assert shown == "a" + "".join(f"[U+{ord(c):04X}]" for c in controls) + "b"
    assert show_bidi_controls("plain \u200d emoji 👩\u200d💻") == "plain \u200d emoji 👩\u200d💻"


def without_form_values(page: str) -> str:
    """The page minus input values and textareas, which must keep the text as stored."""
    page = re.sub(r'value="[^"]*"', "", page)
    return re.sub(r"<textarea[^>]*>.*?</textarea>", "", page, flags=re.S)


@pytest.mark.usefixtures("dash_story")
def test_pages_show_bidi_controls_instead_of_obeying_them(
    dash_client: TestClient, bidi_post: int
) -> None:
    paths = ["/", f"/videos/{SLUG}", f"/posts/{bidi_post}", "/manage"]
    for path in paths:
        page = dash_client.get(path).text
        assert BIDI_CONTROLS.search(without_form_values(page)) is None, path
        assert "[U+202E]" in page, path
    fragments = dash_client.get(f"/live/videos/{SLUG}").json()["fragments"]
    assert all(BIDI_CONTROLS.search(without_form_values(f)) is None for f in fragments.values())


@pytest.mark.usefixtures("dash_story")
def test_bidi_text_is_stored_and_served_intact(
    dash_client: TestClient, dash_engine, bidi_post: int
) -> None:
    assert next(v for v in read.list_videos(dash_engine) if v.slug == SLUG).title == TITLE
    posts = dash_client.get(f"/api/videos/{SLUG}/posts").json()["posts"]
    assert posts[0]["author"] == AUTHOR
    edit = dash_client.get(f"/manage/videos/{SLUG}/edit").text
    # The edit form gives the title back as stored, so saving it changes nothing.
    assert f'value="{Markup.escape(TITLE)}"' in edit


def test_timeline_hover_shows_authors_as_text() -> None:
    first = [
        AppearanceRow(
            id=1,
            platform="reddit",
            platform_post_id="p1",
            appeared_at=NOW,
            author='<a href="https://evil.example">x</a>\u202e',
            url=None,
        )
    ]
    figure = charts.timeline_figure(first)
    author = figure.data[0].customdata[0][0]
    assert "<" not in author and "\u202e" not in author
    assert author == '&lt;a href="https://evil.example"&gt;x&lt;/a&gt;[U+202E]'
