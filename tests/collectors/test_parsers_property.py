"""Every parser meets random and mutated payloads built from the real formats (issue 13): it
returns records (or None) or raises one of our collector errors, nothing else, and no record
holds a counter storage cannot take.

The real formats come from the simulator's renderers (checked against the recordings in
../shared/fixtures); hypothesis deletes, renames and retypes their fields (numbers as strings,
nulls, 2^64, 1e400, inf, NaN, nested junk) and mutates feed and page markup byte by byte.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors import rss, telegram, youtube_rss
from collectors.base import COUNTER_LIMIT, CollectorError, Observation, PostRef, TrackedVideo
from collectors.bluesky import BlueskyCollector
from collectors.dailymotion import FIELDS as DAILYMOTION_FIELDS
from collectors.dailymotion import DailymotionCollector
from collectors.hackernews import HackerNewsCollector
from collectors.lemmy import LemmyCollector
from collectors.mastodon import MastodonCollector
from collectors.reddit import RedditCollector
from collectors.tiktok import TikTokCollector
from collectors.x import XCollector
from collectors.youtube import YouTubeCollector
from simulator import bluesky, dailymotion, hackernews, lemmy, mastodon, news, reddit, tiktok, x
from simulator import telegram as sim_telegram
from simulator import youtube as sim_youtube
from simulator.model import SIM_VIDEO
from simulator.server import SimulatorServer
from simulator.world import World

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VIDEO = TrackedVideo(
    slug=SIM_VIDEO["slug"],
    title=SIM_VIDEO["title"],
    keywords=tuple(SIM_VIDEO["keywords"]),
    hashtags=tuple(SIM_VIDEO["hashtags"]),
    urls=tuple(SIM_VIDEO["urls"]),
)
PROFILE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _world() -> World:
    world = World()
    world.clock.advance(30 * 3600)
    return world


def _first(world: World, platform: str, count: int = 3) -> list[Any]:
    return [p for p in world.model.posts[platform] if not p.is_noise][:count]


def _youtube_items(world: World) -> list[dict[str, Any]]:
    ids = ",".join(p.id for p in _first(world, "youtube"))
    with SimulatorServer(world) as sim:
        answer = httpx.get(
            f"{sim.base_url('youtube')}/youtube/v3/videos",
            params={"part": "snippet,statistics", "id": ids, "key": "sim-key"},
        )
    return list(answer.json()["items"])


def _json_samples() -> dict[str, list[Any]]:
    """Real-format items per platform, as the collectors' parsers receive them."""
    world = _world()
    now = world.now()
    every_reddit = {p.id: p for p in world.model.posts["reddit"]}
    tiktok_fields = ["id", "video_description", "create_time", "username", "view_count"]
    tiktok_fields += ["like_count", "share_count", "comment_count", "hashtag_names"]
    return {
        "hackernews": [hackernews.render_hit(p, world) for p in _first(world, "hackernews")],
        "reddit": [
            reddit.render_thing(p, now, every_reddit)["data"] for p in _first(world, "reddit")
        ],
        "bluesky": [bluesky.render_post(p, world) for p in _first(world, "bluesky")],
        "dailymotion": [
            dailymotion.render_video(p, world, DAILYMOTION_FIELDS.split(","))
            for p in _first(world, "dailymotion")
        ],
        "lemmy": [lemmy.render_post_view(p, world) for p in _first(world, "lemmy")],
        "mastodon": [mastodon.render_status(p, world) for p in _first(world, "mastodon")],
        "tiktok": [tiktok.render_video(p, world, tiktok_fields) for p in _first(world, "tiktok")],
        "x": [x.render_tweet(p, world) for p in _first(world, "x")],
        "youtube": _youtube_items(world),
    }


SAMPLES = _json_samples()


def _parse(platform: str, item: Any) -> list[Any]:
    """Every parser of `platform` applied to one item."""
    instance = "https://lemmy-a.example"
    calls = {
        "hackernews": lambda: [
            HackerNewsCollector.from_payload(item, VIDEO),
            HackerNewsCollector.observation_from_payload(item, NOW),
        ],
        "reddit": lambda: [
            RedditCollector.from_payload(item, VIDEO),
            RedditCollector.observation_from_payload(item, NOW),
            RedditCollector.gone_reason(item),
        ],
        "bluesky": lambda: [
            BlueskyCollector.from_payload(item, VIDEO),
            BlueskyCollector.observation_from_payload(item, NOW),
        ],
        "dailymotion": lambda: [
            DailymotionCollector.from_payload(item, VIDEO),
            DailymotionCollector.observation_from_payload(item, NOW),
        ],
        "lemmy": lambda: [
            LemmyCollector.from_payload(item, instance, VIDEO),
            LemmyCollector.observation_from_payload(item, NOW),
            LemmyCollector.gone_reason(item),
        ],
        "mastodon": lambda: [
            MastodonCollector.from_payload(item, instance, VIDEO),
            MastodonCollector.observation_from_payload(item, NOW),
        ],
        "tiktok": lambda: [
            TikTokCollector.from_payload(item, VIDEO),
            TikTokCollector.observation_from_payload(item, NOW),
        ],
        "x": lambda: [
            XCollector.from_payload(item, {}, VIDEO),
            XCollector.observation_from_payload(item, NOW),
        ],
        "youtube": lambda: [
            YouTubeCollector.from_payload(item, VIDEO),
            YouTubeCollector.observation_from_payload(item, NOW),
        ],
    }
    return calls[platform]()


def assert_records_or_our_error(parse: Any) -> None:
    try:
        results = parse()
    except CollectorError:
        return
    for result in results:
        assert result is None or isinstance(result, PostRef | Observation | str)
        if isinstance(result, Observation):
            for counter in ("views", "likes", "shares", "comments", "quotes"):
                value = getattr(result, counter)
                assert value is None or (type(value) is int and 0 <= value <= COUNTER_LIMIT)
        if isinstance(result, PostRef):
            assert isinstance(result.platform_post_id, str) and result.platform_post_id


# --- JSON payloads ------------------------------------------------------------------------

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["1e400", "NaN", "-1", "12abc", "９", "", " 7 ", "1,234", "Infinity"]),
)
json_values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
numbers_drift = st.sampled_from(
    [lambda n: str(n), lambda n: None, lambda n: 2**64, lambda n: float("inf"), lambda n: -n - 1]
)


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """`value` with random fields deleted, renamed, retyped or replaced by junk."""
    action = draw(st.integers(0, 19))
    if action == 0:
        return draw(json_values)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, child in value.items():
            fate = draw(st.integers(0, 15))
            if fate == 0:
                continue
            out[f"{key}_renamed" if fate == 1 else key] = draw(mutated(child))
        return out
    if isinstance(value, list):
        return [draw(mutated(child)) for child in value if draw(st.integers(0, 7))]
    if isinstance(value, int | float) and not isinstance(value, bool) and action < 6:
        return draw(numbers_drift)(value)
    return value


@pytest.mark.parametrize("platform", sorted(SAMPLES))
@PROFILE
@given(data=st.data())
def test_json_parsers_return_records_or_our_errors(platform, data):
    item = data.draw(mutated(data.draw(st.sampled_from(SAMPLES[platform]))))
    assert_records_or_our_error(lambda: _parse(platform, item))


@pytest.mark.parametrize("platform", sorted(SAMPLES))
@PROFILE
@given(junk=json_values)
def test_json_parsers_survive_random_json(platform, junk):
    assert_records_or_our_error(lambda: _parse(platform, junk))


# --- markup: feeds and channel pages -------------------------------------------------------


def _markup_samples() -> dict[str, str]:
    world = _world()
    outlet = next(p.channel for p in world.model.posts["rss"] if p.channel)
    channel = next(p.channel for p in world.model.posts["telegram"] if p.channel)
    messages = sim_telegram.channel_messages(world, channel)[-5:]
    uploads = _first(world, "youtube", 5)
    return {
        "rss": news.render_rss(world, outlet),
        "atom": news.render_atom(world, outlet),
        "telegram": sim_telegram.render_page(channel, messages, True),
        "youtube_rss": sim_youtube.render_feed(
            "UCsim", "Sim channel", uploads, world.now(), world.model.start
        ),
    }


MARKUP = _markup_samples()


def _parse_markup(kind: str, body: bytes) -> list[Any]:
    if kind == "telegram":
        page = telegram.parse_page(body.decode("utf-8", "replace"))
        results: list[Any] = []
        for message in page.messages:
            results += [
                telegram.TelegramCollector.from_payload(message, VIDEO),
                telegram.TelegramCollector.observation_from_payload(message, NOW),
            ]
        return results
    if kind == "youtube_rss":
        entries = youtube_rss.parse_feed(body, "UCsim")
        results = []
        for entry in entries:
            results += [
                youtube_rss.YouTubeRssCollector.from_payload(entry, VIDEO),
                youtube_rss.YouTubeRssCollector.observation_from_payload(entry, NOW),
            ]
        return results
    parsed = rss.parse_feed(body)
    return [
        rss.RssCollector.from_payload(entry, parsed.feed.get("title"), "feed", VIDEO)
        for entry in parsed.entries
    ]


@st.composite
def mutated_markup(draw: st.DrawFn, text: str) -> bytes:
    """`text` with random slices deleted, duplicated or replaced by hostile fragments."""
    body = text.encode()
    fragments = st.sampled_from(
        [
            *(b"<", b">", b"&", b"]]>", b"<![CDATA[", b"\xff\xfe", b"<author>", b"</entry>"),
            *(b"\x00", b"a" * 5000, b"<views>1e400</views>", b'count="99999999999999999999999"'),
        ]
    )
    for _ in range(draw(st.integers(1, 6))):
        start = draw(st.integers(0, len(body)))
        end = draw(st.integers(start, min(len(body), start + 200)))
        choice = draw(st.integers(0, 2))
        if choice == 0:
            body = body[:start] + body[end:]
        elif choice == 1:
            body = body[:start] + body[start:end] * 2 + body[end:]
        else:
            body = body[:start] + draw(fragments) + body[end:]
    return body


@pytest.mark.parametrize("kind", sorted(MARKUP))
@PROFILE
@given(data=st.data())
def test_markup_parsers_return_records_or_our_errors(kind, data):
    body = data.draw(mutated_markup(MARKUP[kind]))
    assert_records_or_our_error(lambda: _parse_markup(kind, body))
