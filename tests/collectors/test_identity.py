"""URL identity and canonical form (issue 9: every post matched right, counted once)."""

from __future__ import annotations

import pytest

from collectors.base import manual_post
from collectors.identity import canonical_url, post_identity, same_link, urls_in_text

YT = "dQw4w9WgXcQ"
YT_CANONICAL = f"https://youtube.com/watch?v={YT}"
DID = "did:plc:z72i7hdynmk6r22z27h6tvur"
BSKY_URI = f"at://{DID}/app.bsky.feed.post/3kq2pjc7tbw2c"
MASTODON_URI = "https://mastodon.social/users/kyivwitness/statuses/113358687695262945"
TIKTOK = "7106594312292453675"

# (url, platform, platform_post_id): every form a person pastes or a platform links.
POST_URLS = [
    (f"https://www.youtube.com/watch?v={YT}", "youtube", YT),
    (f"http://youtube.com/watch?v={YT}", "youtube", YT),
    (f"https://m.youtube.com/watch?v={YT}&t=30s", "youtube", YT),
    (f"https://www.youtube.com/watch?v={YT}&list=PL590L5WQmH8fJ54F&index=3", "youtube", YT),
    (f"https://youtube.com/watch?feature=share&v={YT}", "youtube", YT),
    (f"https://www.youtube.com/watch?app=desktop&v={YT}", "youtube", YT),
    (f"https://youtu.be/{YT}", "youtube", YT),
    (f"https://youtu.be/{YT}?si=Jq8fW2xYbK1", "youtube", YT),
    (f"youtu.be/{YT}?t=12", "youtube", YT),
    (f"https://www.youtube.com/shorts/{YT}", "youtube", YT),
    (f"https://youtube.com/shorts/{YT}?feature=share", "youtube", YT),
    (f"https://www.youtube.com/embed/{YT}?start=3", "youtube", YT),
    (f"https://www.youtube-nocookie.com/embed/{YT}", "youtube", YT),
    (f"https://www.youtube.com/live/{YT}?si=abc", "youtube", YT),
    (f"https://music.youtube.com/watch?v={YT}", "youtube", YT),
    (f"HTTPS://WWW.YOUTUBE.COM/watch?v={YT}#comments", "youtube", YT),
    ("https://www.reddit.com/r/ukraine/comments/t4ab9c/captured_soldier_calls_home/", "reddit", "t4ab9c"),
    ("https://old.reddit.com/r/ukraine/comments/t4ab9c/x/?utm_source=share&utm_medium=ios", "reddit", "t4ab9c"),
    ("https://np.reddit.com/r/ukraine/comments/t4ab9c", "reddit", "t4ab9c"),
    ("https://reddit.com/comments/t4ab9c", "reddit", "t4ab9c"),
    ("https://redd.it/t4ab9c", "reddit", "t4ab9c"),
    ("https://x.com/kyivindependent/status/1498284534371303425", "x", "1498284534371303425"),
    ("https://twitter.com/kyivindependent/status/1498284534371303425?s=20&t=Ab3", "x", "1498284534371303425"),
    ("https://mobile.twitter.com/kyivindependent/status/1498284534371303425", "x", "1498284534371303425"),
    ("https://x.com/i/web/status/1498284534371303425", "x", "1498284534371303425"),
    ("https://x.com/kyivindependent/status/1498284534371303425/video/1", "x", "1498284534371303425"),
    ("https://fxtwitter.com/kyivindependent/status/1498284534371303425", "x", "1498284534371303425"),
    (f"https://bsky.app/profile/{DID}/post/3kq2pjc7tbw2c", "bluesky", BSKY_URI),
    (BSKY_URI, "bluesky", BSKY_URI),
    ("https://bsky.app/profile/Witness.bsky.social/post/3kq2pjc7tbw2c", "bluesky",
     "at://witness.bsky.social/app.bsky.feed.post/3kq2pjc7tbw2c"),
    ("https://mastodon.social/@kyivwitness/113358687695262945", "mastodon", MASTODON_URI),
    (MASTODON_URI, "mastodon", MASTODON_URI),
    ("https://t.me/kyiv_witness/418", "telegram", "kyiv_witness/418"),
    ("https://t.me/s/kyiv_witness/418", "telegram", "kyiv_witness/418"),
    ("https://t.me/kyiv_witness/418?single", "telegram", "kyiv_witness/418"),
    ("t.me/kyiv_witness/418", "telegram", "kyiv_witness/418"),
    ("https://telegram.me/kyiv_witness/418", "telegram", "kyiv_witness/418"),
    ("https://www.dailymotion.com/video/x8j2k3l", "dailymotion", "x8j2k3l"),
    ("https://dailymotion.com/video/x8j2k3l?playlist=x6hynp", "dailymotion", "x8j2k3l"),
    ("https://dai.ly/x8j2k3l", "dailymotion", "x8j2k3l"),
    ("https://www.dailymotion.com/embed/video/x8j2k3l?autoplay=1", "dailymotion", "x8j2k3l"),
    ("https://geo.dailymotion.com/player.html?video=x8j2k3l", "dailymotion", "x8j2k3l"),
    (f"https://www.tiktok.com/@kyiv.witness/video/{TIKTOK}", "tiktok", TIKTOK),
    (f"https://www.tiktok.com/@kyiv.witness/video/{TIKTOK}?is_from_webapp=1&sender_device=pc", "tiktok", TIKTOK),
    (f"https://m.tiktok.com/v/{TIKTOK}.html", "tiktok", TIKTOK),
    (f"https://www.tiktok.com/embed/v2/{TIKTOK}", "tiktok", TIKTOK),
    ("https://news.ycombinator.com/item?id=30504316", "hackernews", "30504316"),
    ("https://lemmy.world/post/12345", "lemmy", "https://lemmy.world/post/12345"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "platform", "post_id"), POST_URLS)
def test_every_url_form_maps_to_the_post_a_collector_stores(url, platform, post_id):
    identity = post_identity(url)
    assert identity is not None, url
    assert identity.key == (platform, post_id)


@pytest.mark.parametrize(("url", "platform", "post_id"), POST_URLS)
def test_every_url_form_of_one_post_has_one_canonical_form(url, platform, post_id):
    first = next(u for u, p, i in POST_URLS if (p, i) == (platform, post_id))
    assert canonical_url(url) == canonical_url(first)
    assert canonical_url(canonical_url(url)) == canonical_url(url)  # idempotent


def test_youtube_posts_share_one_canonical_url():
    assert canonical_url(f"https://youtu.be/{YT}?si=x") == YT_CANONICAL
    assert canonical_url(f"https://www.youtube.com/shorts/{YT}") == YT_CANONICAL


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("HTTP://WWW.Example.COM/story/", "https://example.com/story"),
        ("https://example.com:443/story#comments", "https://example.com/story"),
        ("https://m.example.com/story", "https://example.com/story"),
        ("https://mobile.example.com/story", "https://example.com/story"),
        ("https://example.com/story?utm_source=tw&utm_medium=social", "https://example.com/story"),
        ("https://example.com/story?fbclid=IwAR3x&gclid=1", "https://example.com/story"),
        ("https://example.com/story?b=2&a=1", "https://example.com/story?a=1&b=2"),
        ("https://example.com/%7Euser/clip", "https://example.com/~user/clip"),
        ("example.com/story", "https://example.com/story"),
        ("https://t.me/Kyiv_Witness/418", "https://t.me/kyiv_witness/418"),
    ],
)
def test_the_same_page_compares_equal(a, b):
    assert same_link(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://t.me/kyiv_witness/418", "https://t.me/kyiv_witness/41821"),
        (f"https://youtu.be/{YT}", "https://youtu.be/dQw4w9WgXcR"),
        ("https://example.com/story?id=1", "https://example.com/story?id=2"),
        ("https://example.com/story", "https://example.com/story/more"),
        ("https://example.com/story", "https://example.org/story"),
        ("https://reddit.com/comments/t4ab9c", "https://reddit.com/comments/t4ab9"),
        ("https://x.com/a/status/149828453437130342", "https://x.com/a/status/1498284534371303425"),
    ],
)
def test_different_pages_never_compare_equal(a, b):
    assert not same_link(a, b)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/dQw4w9WgXcQ",
        "https://notyoutube.com/watch?v=dQw4w9WgXcQ",
        "https://www.youtube.com/@kyivindependent",
        "https://www.youtube.com/playlist?list=PL590L5WQmH8fJ54F",
        "https://www.reddit.com/r/ukraine/",
        "https://www.reddit.com/r/ukraine/s/Xy12Ab",
        "https://x.com/kyivindependent",
        "https://t.me/c/1234567/89",
        "https://vm.tiktok.com/ZMabc123/",
        "https://news.ycombinator.com/news",
        "https://blog.example.com/post/12345",
        "https://mastodon.social/@kyivwitness@other.example/113358687695262945",
        "mailto:desk@example.com",
        "",
    ],
)
def test_urls_that_name_no_collected_post_map_to_nothing(url):
    assert post_identity(url) is None


def test_a_configured_lemmy_instance_maps_its_post_urls():
    identity = post_identity("https://feddit.de/post/777", lemmy_hosts=["https://feddit.de"])
    assert identity is not None and identity.key == ("lemmy", "https://feddit.de/post/777")
    assert identity.extra == {"instance": "https://feddit.de", "id": "777"}


def test_platform_posts_carry_what_their_collector_refreshes_with():
    mastodon = post_identity("https://mastodon.social/@kyivwitness/113358687695262945")
    assert mastodon is not None
    assert mastodon.extra == {"instance": "https://mastodon.social", "id": "113358687695262945"}
    telegram = post_identity("https://t.me/s/kyiv_witness/418")
    assert telegram is not None and telegram.extra == {"channel": "kyiv_witness"}


def test_urls_written_in_text_are_found_without_their_punctuation():
    text = (
        "Watch youtu.be/dQw4w9WgXcQ?si=x, or (https://t.me/kyiv_witness/418). "
        "More at www.example.com/story! «https://example.org/a»"
    )
    assert urls_in_text(text) == [
        "youtu.be/dQw4w9WgXcQ?si=x",
        "https://t.me/kyiv_witness/418",
        "www.example.com/story",
        "https://example.org/a",
    ]


def test_a_hand_added_platform_url_becomes_that_platforms_post():
    ref = manual_post("https://youtu.be/dQw4w9WgXcQ?si=x", platforms={"youtube"})
    assert (ref.platform, ref.platform_post_id, ref.matched_by) == ("youtube", YT, "manual")
    assert ref.url == f"https://www.youtube.com/watch?v={YT}"
    toot = manual_post("https://mastodon.social/@kyivwitness/113358687695262945")
    assert toot.key == ("mastodon", MASTODON_URI)
    assert toot.extra == {"instance": "https://mastodon.social", "id": "113358687695262945"}


def test_a_hand_added_url_of_an_uncollected_site_stays_with_yt_dlp():
    ref = manual_post("https://Vimeo.com/123456/?utm_source=tw&fbclid=x")
    assert ref.key == ("urls", "https://vimeo.com/123456")
    assert ref.url == "https://Vimeo.com/123456/"  # what yt-dlp fetches: as given, untracked
    uncollected = manual_post(f"https://youtu.be/{YT}", platforms={"reddit"})
    assert uncollected.key == ("urls", YT_CANONICAL)


def test_a_handle_form_bluesky_url_is_read_by_yt_dlp_until_resolved():
    by_handle = manual_post("https://bsky.app/profile/witness.bsky.social/post/3kq2pjc7tbw2c")
    assert by_handle.platform == "urls"
    by_did = manual_post(f"https://bsky.app/profile/{DID}/post/3kq2pjc7tbw2c")
    assert by_did.key == ("bluesky", BSKY_URI)
