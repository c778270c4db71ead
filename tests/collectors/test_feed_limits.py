"""Person fields are cut before feedparser sees them: its e-mail regex is quadratic in their
length (issue 13: a 100 KB `<author>` froze the event loop for 77 s; see benchmarks/bench_parsers)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collectors.feed_limits import PERSON_CHARS, cap_person_fields
from collectors.rss import parse_feed
from collectors.youtube_rss import parse_feed as parse_channel_feed
from simulator.news import one_item_rss


def test_huge_author_is_cut_to_the_person_limit_and_the_item_kept():
    parsed = parse_feed(one_item_rss("author", "a" * 100_000))
    (entry,) = parsed.entries
    assert entry.link == "https://e.example/1"
    assert entry.author == "a" * PERSON_CHARS


def test_huge_creator_in_cdata_is_cut_inside_its_cdata():
    parsed = parse_feed(one_item_rss("dc:creator", "<![CDATA[" + "é" * 60_000 + "]]>"))
    assert parsed.entries[0].author == "é" * (PERSON_CHARS // 2)
    assert not parsed.bozo


def test_cut_never_splits_an_entity():
    value = "a" * (PERSON_CHARS - 2) + "&amp;" + "b" * 1000
    assert parse_feed(one_item_rss("author", value)).entries[0].author == "a" * (PERSON_CHARS - 2)


def test_atom_author_name_of_a_channel_feed_is_cut():
    body = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:yt="http://www.youtube.com/xml/schemas/2015"><title>c</title>'
        "<entry><yt:videoId>abc</yt:videoId><title>v</title>"
        f"<author><name>{'n' * 100_000}</name></author></entry></feed>"
    ).encode()
    entries = parse_channel_feed(body, "UCx")
    assert len(entries) == 1


# Surrogates (Cs) cannot be encoded as UTF-8 at all, so no feed can carry them.
@given(
    st.text(
        alphabet=st.characters(blacklist_characters="<&]", blacklist_categories=("Cs",)),
        max_size=PERSON_CHARS,
    )
)
def test_short_person_fields_are_left_alone(name):
    body = one_item_rss("author", name)
    assert cap_person_fields(body) == body
