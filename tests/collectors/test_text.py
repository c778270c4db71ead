"""HTML to text, feed fields and feed dates (issue 9: text intact)."""

from __future__ import annotations

from datetime import UTC, datetime

import feedparser
import pytest

from collectors.text import feed_date, feed_text, html_to_text, lenient_date


def test_lists_blockquotes_pre_and_breaks_survive_as_lines():
    text, links = html_to_text(
        "<p>Footage from Kyiv:<br>two angles</p>"
        "<ul><li>the square</li><li>the bridge</li></ul>"
        "<blockquote><p>He calls his mother</p><p>and she answers</p></blockquote>"
        "<pre>frame  12\n  frame 13</pre>"
        '<p>Source: <a href="https://t.me/kyiv_witness/418">t.me/kyiv_witness/418</a></p>'
    )
    assert text == (
        "Footage from Kyiv:\ntwo angles\n\n"
        "- the square\n- the bridge\n\n"
        "> He calls his mother\n>\n> and she answers\n\n"
        "frame  12\n  frame 13\n\n"
        "Source: t.me/kyiv_witness/418"
    )
    assert links == ["https://t.me/kyiv_witness/418"]


def test_entities_are_decoded_and_scripts_dropped():
    text, _ = html_to_text(
        "It&#x27;s &quot;real&quot; &#x2F; Tom &amp; Jerry &lt;3<script>alert(1)</script>"
    )
    assert text == 'It\'s "real" / Tom & Jerry <3'


def test_plain_text_and_empty_input_pass_through():
    assert html_to_text("just words") == ("just words", [])
    assert html_to_text("") == ("", [])
    assert html_to_text(None) == ("", [])


def test_deep_nesting_does_not_overflow():
    text, _ = html_to_text("<div>" * 5000 + "deep" + "</div>" * 5000)
    assert text == "deep"


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Desk</title>
  <entry>
    <id>tag:desk.example,2025:1</id>
    <title type="html">Tom &amp;amp; Jerry &lt;em&gt;caught&lt;/em&gt;</title>
    <summary type="text">Rock &amp;amp; roll</summary>
    <link href="https://desk.example/1"/>
    <updated>2025-01-03T10:00:00Z</updated>
  </entry>
</feed>"""


def test_feed_fields_are_decoded_by_their_declared_type():
    entry = feedparser.parse(ATOM).entries[0]
    assert feed_text(entry, "title") == ("Tom & Jerry caught", [])
    # type="text": the literal characters, nothing decoded twice.
    assert feed_text(entry, "summary") == ("Rock &amp; roll", [])
    assert feed_text(entry, "missing") == ("", [])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sex, 03 Jan 2025 23:47:02 -0300", datetime(2025, 1, 4, 2, 47, 2, tzinfo=UTC)),
        ("Mi., 08 Jan 2025 10:00:00 +0100", datetime(2025, 1, 8, 9, 0, tzinfo=UTC)),
        ("Пт, 03 Jan 2025 12:00:00 GMT", datetime(2025, 1, 3, 12, 0, tzinfo=UTC)),
        ("Fri, 03 Jan 2025 12:00:00 +0000", datetime(2025, 1, 3, 12, 0, tzinfo=UTC)),
        ("2025-01-03T12:00:00+02:00", datetime(2025, 1, 3, 10, 0, tzinfo=UTC)),
        ("03 Jan 2025 12:00:00", None),  # no zone: the instant is unknown
        ("Fri, 03 Jan 2025 12:00:00 -0000", None),  # RFC 822: zone unknown
        ("2025-01-03T12:00:00", None),
        ("Sex, 03 Janeiro 2025 23:47:02 -0300", None),  # month not understood
        ("yesterday", None),
        ("", None),
    ],
)
def test_feed_dates_are_read_where_unambiguous_and_never_guessed(value, expected):
    assert lenient_date(value) == expected


def test_feed_date_prefers_feedparser_and_falls_back_to_lenient_reading():
    rss = b"""<rss version="2.0"><channel><title>Folha</title>
      <item><title>a</title><link>https://f.example/a</link>
        <pubDate>Sex, 03 Jan 2025 23:47:02 -0300</pubDate></item>
      <item><title>b</title><link>https://f.example/b</link>
        <pubDate>Fri, 03 Jan 2025 23:47:02 -0300</pubDate></item>
    </channel></rss>"""
    first, second = feedparser.parse(rss).entries
    assert first.get("published_parsed") is None  # what feedparser gives up on
    expected = datetime(2025, 1, 4, 2, 47, 2, tzinfo=UTC)
    assert feed_date(first, "published", "updated") == expected
    assert feed_date(second, "published", "updated") == expected
