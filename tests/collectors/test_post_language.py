"""Language and author follower counts stored in `PostRef.extra`, where each platform's API
exposes them, so the `new_language` and `new_account` alert rules can fire (issue 12).

Parsers run on bodies in each API's real format (recorded ones from ../shared/fixtures where
those fields appear), then each collector runs against the simulator.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.base import language_code
from collectors.bluesky import BlueskyCollector
from collectors.dailymotion import DailymotionCollector
from collectors.mastodon import MastodonCollector
from collectors.x import XCollector
from collectors.youtube import YouTubeCollector
from simulator.model import FIRST_YOUTUBE_ID
from tests.helpers import sim_collector


def load(shared_fixtures, platform, name):
    return json.loads((shared_fixtures / platform / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("en", "en"),
        ("UK", "uk"),
        (" pt-BR ", "pt"),
        ("zh_Hant_TW", "zh"),
        ("yue", "yue"),
        ("und", None),
        ("zxx", None),
        ("mul", None),
        ("", None),
        ("english", None),
        ("<b>ru</b>", None),
        ("e1", None),
        (None, None),
        (7, None),
        (["en"], None),
    ],
)
def test_language_code_keeps_the_lower_case_primary_subtag(tag, code):
    assert language_code(tag) == code


@given(st.one_of(st.none(), st.integers(), st.text(max_size=40), st.lists(st.text(max_size=3))))
def test_language_code_is_a_two_or_three_letter_code_or_none(value):
    code = language_code(value)
    assert code is None or (code.isascii() and code.isalpha() and code.islower())
    assert code is None or 2 <= len(code) <= 3


@given(
    st.from_regex(r"[A-Za-z]{2,3}", fullmatch=True),
    st.lists(st.from_regex(r"[A-Za-z0-9]{2,8}", fullmatch=True), max_size=3),
)
def test_language_code_of_any_tag_is_its_primary_subtag(primary, subtags):
    tag = "-".join([primary, *subtags])
    expected = None if primary.lower() in {"und", "zxx", "mul", "mis"} else primary.lower()
    assert language_code(tag) == expected


# --- Mastodon ---------------------------------------------------------------------------

STATUS = {
    "id": "113358687695262945",
    "uri": "https://social.example/users/olena/statuses/113358687695262945",
    "url": "https://social.example/@olena/113358687695262945",
    "created_at": "2022-03-02T10:00:00.000Z",
    "language": "uk",
    "content": "<p>Полонений російський солдат дзвонить мамі</p>",
    "account": {"id": "1", "username": "olena", "acct": "olena", "followers_count": 25_400},
}


def test_mastodon_status_stores_language_and_author_followers():
    ref = MastodonCollector.from_payload(STATUS, "https://social.example")
    assert ref.extra["language"] == "uk" and ref.extra["author_followers"] == 25_400


def test_mastodon_status_without_language_stores_none_of_it():
    status = {**STATUS, "language": None, "account": {"acct": "olena"}}
    ref = MastodonCollector.from_payload(status, "https://social.example")
    assert "language" not in ref.extra and "author_followers" not in ref.extra


def test_mastodon_boost_stores_the_original_author_and_language():
    boost = {
        **STATUS,
        "id": "9",
        "uri": "https://social.example/users/booster/statuses/9/activity",
        "language": None,
        "account": {"acct": "booster", "followers_count": 3},
        "reblog": {**STATUS, "language": "ru"},
    }
    ref = MastodonCollector.from_payload(boost, "https://social.example")
    assert (ref.author, ref.extra["language"], ref.extra["author_followers"]) == (
        "olena",
        "ru",
        25_400,
    )


@pytest.mark.parametrize(
    ("name", "language", "followers"),
    [
        ("status_gifv_mastodon-social_110446223051565765.json", "de", 3553),
        ("status_video_mastodon-social_113358687695262945.json", "en", 3553),
        ("timelines_tag_hoot_local-server.json", "ja", 0),
        ("status_reblog-wrapper_local-server.json", "en", 0),
    ],
)
def test_mastodon_recorded_statuses_give_language_and_followers(
    shared_fixtures, name, language, followers
):
    body = load(shared_fixtures, "mastodon", name)
    status = body[0] if isinstance(body, list) else body
    ref = MastodonCollector.from_payload(status, "https://mastodon.social")
    assert (ref.extra["language"], ref.extra["author_followers"]) == (language, followers)


# --- Bluesky ----------------------------------------------------------------------------

POST_VIEW = {
    "uri": "at://did:plc:abc/app.bsky.feed.post/3kxyz",
    "cid": "bafyrei",
    "author": {"did": "did:plc:abc", "handle": "olena.bsky.social"},
    "record": {
        "$type": "app.bsky.feed.post",
        "createdAt": "2022-03-02T10:00:00.000Z",
        "langs": ["uk", "en"],
        "text": "Полонений російський солдат дзвонить мамі",
    },
}


def test_bluesky_post_stores_its_first_language_and_no_followers():
    ref = BlueskyCollector.from_payload(POST_VIEW)
    assert ref.extra == {"cid": "bafyrei", "language": "uk"}


@pytest.mark.parametrize("langs", [None, [], "en", [None]])
def test_bluesky_post_without_usable_langs_stores_no_language(langs):
    record = {**POST_VIEW["record"], "langs": langs}
    ref = BlueskyCollector.from_payload({**POST_VIEW, "record": record})
    assert "language" not in ref.extra


def test_bluesky_recorded_search_gives_each_post_its_language(shared_fixtures):
    body = load(shared_fixtures, "bluesky", "searchPosts_q-redistricting.json")
    refs = [BlueskyCollector.from_payload(post) for post in body["posts"]]
    tagged = [p for p in body["posts"] if p["record"].get("langs")]
    assert tagged and {r.extra.get("language") for r in refs if r is not None} >= {"en"}
    assert sum(r.extra.get("language") == "en" for r in refs if r is not None) == len(tagged)


# --- X ----------------------------------------------------------------------------------

TWEET = {
    "id": "1498912345678901234",
    "text": "Пленный российский солдат звонит маме",
    "created_at": "2022-03-02T10:15:00.000Z",
    "author_id": "42",
    "lang": "ru",
    "public_metrics": {"retweet_count": 1, "reply_count": 0, "like_count": 3, "quote_count": 0},
}
USERS = {
    "42": {
        "id": "42",
        "name": "Ivan",
        "username": "ivan",
        "public_metrics": {
            "followers_count": 120_000,
            "following_count": 10,
            "tweet_count": 5,
            "listed_count": 1,
            "like_count": 2,
        },
    }
}


def test_x_tweet_stores_lang_and_the_author_followers_from_includes():
    ref = XCollector.from_payload(TWEET, USERS)
    assert ref.extra == {"language": "ru", "author_followers": 120_000}


@pytest.mark.parametrize("lang", ["und", "zxx", None])
def test_x_tweet_with_no_language_stores_none(lang):
    ref = XCollector.from_payload({**TWEET, "lang": lang}, {"42": {"username": "ivan"}})
    assert ref.extra == {}


# --- YouTube ----------------------------------------------------------------------------

VIDEO_ITEM = {
    "kind": "youtube#video",
    "id": "Qm7cTs2vXa0",
    "snippet": {
        "publishedAt": "2022-03-02T10:00:00Z",
        "channelId": "UC1",
        "title": "Полонений російський солдат дзвонить мамі",
        "channelTitle": "UA Clips",
        "defaultLanguage": "en",
        "defaultAudioLanguage": "uk-UA",
    },
}


def test_youtube_video_prefers_the_audio_language():
    ref = YouTubeCollector.from_payload(VIDEO_ITEM)
    assert ref.extra == {"channel_id": "UC1", "language": "uk"}


def test_youtube_video_falls_back_to_the_metadata_language():
    snippet = {k: v for k, v in VIDEO_ITEM["snippet"].items() if k != "defaultAudioLanguage"}
    ref = YouTubeCollector.from_payload({**VIDEO_ITEM, "snippet": snippet})
    assert ref.extra["language"] == "en"


def test_youtube_recorded_videos_list_gives_the_language(shared_fixtures):
    name = "videos_list_part-snippet-contentDetails-status-statistics_2019.json"
    (item,) = load(shared_fixtures, "youtube_data_api", name)["items"]
    assert YouTubeCollector.from_payload(item).extra["language"] == "en"


def test_youtube_recorded_search_results_carry_no_language(shared_fixtures):
    body = load(shared_fixtures, "youtube_data_api", "search_list_type-video_page1_2019.json")
    refs = [YouTubeCollector.from_payload(item) for item in body["items"]]
    assert refs and all("language" not in r.extra for r in refs if r is not None)


# --- Dailymotion ------------------------------------------------------------------------


def test_dailymotion_video_stores_the_requested_language_field():
    video = {"id": "x8abcde", "title": "Пленный солдат", "created_time": 1646215200}
    assert DailymotionCollector.from_payload({**video, "language": "RU"}).extra == {
        "language": "ru"
    }
    assert DailymotionCollector.from_payload(video).extra == {}


# --- through the simulator --------------------------------------------------------------


@pytest.mark.parametrize("name", ["mastodon", "bluesky", "x", "dailymotion"])
async def test_discovery_stores_the_simulated_language_of_each_post(
    name, sim, http_client, clock, sim_video
):
    refs = await sim_collector(name, sim, http_client, clock).discover(sim_video)
    language = {p.id: p.language for p in sim.world.model.posts[name]}
    # Mastodon keys a post by its global uri and keeps the instance's own id in extra.
    tagged = {r.extra.get("id", r.platform_post_id): r for r in refs}
    assert tagged.keys() & language.keys()
    assert all(r.extra.get("language") == language[i] for i, r in tagged.items() if i in language)


async def test_youtube_discovery_stores_the_language_of_videos_read_through_videos_list(
    sim, http_client, clock, sim_video
):
    refs = await sim_collector("youtube", sim, http_client, clock).discover(sim_video)
    language = {p.id: p.language for p in sim.world.model.posts["youtube"]}
    by_id = {r.platform_post_id: r for r in refs}
    # The video's own URL is read through videos.list; search snippets carry no language.
    assert by_id[FIRST_YOUTUBE_ID].extra["language"] == language[FIRST_YOUTUBE_ID] == "en"
    assert all(r.extra.get("language") in (None, language[i]) for i, r in by_id.items())


async def test_simulated_spread_carries_ukrainian_russian_and_english(
    sim, http_client, clock, sim_video
):
    languages = set()
    for name in ("mastodon", "x"):
        refs = await sim_collector(name, sim, http_client, clock).discover(sim_video)
        languages |= {r.extra.get("language") for r in refs}
    assert languages >= {"uk", "ru", "en"}


@pytest.mark.parametrize("name", ["mastodon", "x"])
async def test_discovery_stores_the_simulated_author_followers(
    name, sim, http_client, clock, sim_video
):
    refs = await sim_collector(name, sim, http_client, clock).discover(sim_video)
    followers = {p.author: p.author_followers for p in sim.world.model.posts[name]}
    posts = [r for r in refs if r.relation != "reshare"]
    assert posts and all(r.extra["author_followers"] == followers[r.author] for r in posts)
    assert len({r.extra["author_followers"] for r in posts}) > 1


def test_mastodon_boost_edge_stores_the_booster_followers(shared_fixtures):
    (account,) = load(shared_fixtures, "mastodon", "statuses_reblogged_by_local-server.json")
    edge = MastodonCollector.boost_edge(account, STATUS["uri"])
    assert edge.extra == {"edge": True, "author_followers": account["followers_count"]}


async def test_x_search_asks_for_lang_and_author_public_metrics(sim, http_client, clock, sim_video):
    # X returns neither unless asked (the simulator does the same), so the request must ask.
    await sim_collector("x", sim, http_client, clock).discover(sim_video)
    params = parse_qs(sim.world.requests_to("x", "/2/tweets/search/recent")[0].query)
    assert "lang" in params["tweet.fields"][0].split(",")
    assert params["expansions"] == ["author_id"]
    assert "public_metrics" in params["user.fields"][0].split(",")
