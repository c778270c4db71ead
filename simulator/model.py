"""A seeded model of the example footage spreading across platforms (see shared SCENARIO.md).

Platform-neutral: every simulated post has an author, text, links, hashtags, a creation time, an
optional same-platform parent, and counters that grow along logistic curves. Platform modules in
this package render these posts in each API's real wire format. The model is a pure function of
(seed, clock time): the same seed and time always give the same posts and counters.
"""

from __future__ import annotations

import hashlib
import math
import random
import string
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

SCENARIO_START = datetime(2022, 3, 2, 6, 0, tzinfo=UTC)
"""Hour 0: the footage first appears on a Ukrainian Telegram channel."""

COUNTERS = ("views", "likes", "shares", "comments", "quotes")

# The footage's known links, as a newsroom would paste them into the config.
ORIGIN_TELEGRAM_URL = "https://t.me/kyiv_witness/4182"
FIRST_YOUTUBE_ID = "Qm7cTs2vXa0"
FIRST_YOUTUBE_URL = f"https://www.youtube.com/watch?v={FIRST_YOUTUBE_ID}"
NEWS_ARTICLE_URL = "https://news.example-outlet.com/world/captured-soldier-video-call-mother"

SIM_VIDEO = {
    "slug": "captured-soldier-calls-mother",
    "title": "Captured young Russian soldier weeps on a video call with his mother",
    "keywords": [
        "captured Russian soldier",
        "calls his mom",
        "calls his mother",
        "полонений російський солдат",
        "дзвонить мамі",
        "пленный российский солдат",
        "звонит маме",
    ],
    "hashtags": ["StandWithUkraine"],
    "urls": [ORIGIN_TELEGRAM_URL, FIRST_YOUTUBE_URL],
    "started_at": SCENARIO_START.isoformat(),
}

_TEXTS_EN = [
    "Captured Russian soldier breaks down as he calls his mom on video. Ukrainian women gave him tea.",
    "A captured Russian soldier calls his mother and cries. They told her he is alive. #StandWithUkraine",
    "Watch: captured Russian soldier weeps as he calls his mom, surrounded by Ukrainian women",
    "This is hard to watch. Captured Russian soldier calls his mother from Ukraine #StandWithUkraine",
    "Ukrainian women feed a captured Russian soldier, then let him call his mom. He can't stop crying.",
]
_TEXTS_UK = [
    "Полонений російський солдат дзвонить мамі і плаче. Українки дали йому чаю. #StandWithUkraine",
    "Полонений російський солдат плаче, коли дзвонить мамі по відео",
]
_TEXTS_RU = [
    "Пленный российский солдат звонит маме и плачет. Украинки напоили его чаем.",
    "Пленный российский солдат звонит маме по видеосвязи #StandWithUkraine",
]
_NOISE_TEXTS = [
    "Morning traffic update for the ring road #news",
    "New bakery opened downtown, queue around the block",
    "Weather: rain clearing by the afternoon #weather",
    "Our podcast this week: the history of the tram network",
]
_YOUTUBE_TITLES = [
    "Captured Russian soldier calls his mom (full video)",
    "Russian POW cries on video call with mother - captured Russian soldier",
    "Captured Russian soldier calls his mother, Ukrainian women comfort him",
    "Полонений російський солдат дзвонить мамі",
    "Пленный российский солдат звонит маме - видео",
]
_NEWS_TITLES = [
    "Video of captured Russian soldier who calls his mother goes viral",
    "Captured Russian soldier weeps as he calls his mom, footage shows",
    "Ukrainians comfort captured Russian soldier as he calls his mother",
]


@dataclass(frozen=True, slots=True)
class Curve:
    """A counter's growth: logistic to `final`, midpoint `mid_hours` after creation."""

    final: int
    mid_hours: float
    scale_hours: float

    def at(self, age_hours: float) -> int:
        if age_hours <= 0 or self.final <= 0:
            return 0
        start = 1 / (1 + math.exp(self.mid_hours / self.scale_hours))
        now = 1 / (1 + math.exp(-(age_hours - self.mid_hours) / self.scale_hours))
        return int(self.final * (now - start) / (1 - start))


@dataclass(slots=True)
class SimPost:
    """One simulated post on one platform."""

    platform: str
    id: str
    author: str
    text: str
    created_at: datetime
    title: str | None = None
    links: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    parent_id: str | None = None
    relation: str | None = None
    """reshare | crosspost | quote | forward (how it relates to `parent_id`)."""
    curves: dict[str, list[Curve]] = field(default_factory=dict)
    """Counter name -> curves summed; a counter missing here is not exposed by the platform."""
    gone_at: datetime | None = None
    instance: str | None = None
    """For federated platforms (mastodon, lemmy): which simulated server hosts it."""
    channel: str | None = None
    """Telegram channel, YouTube channel id, subreddit, news outlet."""
    is_noise: bool = False
    hidden: bool = False
    """Left out of every answer, with no sign of deletion (World.hide): a search index or a
    batch endpoint that lost it for a while."""

    def is_visible(self, now: datetime) -> bool:
        if self.hidden:
            return False
        return self.created_at <= now and (self.gone_at is None or now < self.gone_at)

    @property
    def language(self) -> str:
        """The post's language as its author's app would tag it: "uk", "ru" or "en"."""
        return language_of(f"{self.title or ''} {self.text}")

    @property
    def author_followers(self) -> int:
        """The author's follower count: 10 to about 1,000,000, fixed per author name, spread
        evenly over the orders of magnitude so some authors count as big accounts."""
        digest = int(hashlib.sha256(self.author.encode()).hexdigest()[:8], 16)
        return int(10 ** (1 + (digest % 5000) / 1000))

    def counters(self, now: datetime) -> dict[str, int]:
        """Counter values at `now` (only the counters this platform exposes)."""
        age = (now - self.created_at).total_seconds() / 3600
        return {name: sum(c.at(age) for c in curves) for name, curves in self.curves.items()}


_UKRAINIAN_LETTERS = frozenset("іїєґІЇЄҐ")


def language_of(text: str) -> str:
    """Ukrainian ("uk") for text with letters Russian lacks (і, ї, є, ґ), Russian ("ru") for
    other Cyrillic, English ("en") otherwise: the three languages the scenario's texts use."""
    if any(ch in _UKRAINIAN_LETTERS for ch in text):
        return "uk"
    return "ru" if any("\u0400" <= ch <= "\u04ff" for ch in text) else "en"


class SimClock:
    """The simulated internet's clock. Tests and the demo advance it explicitly."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def __call__(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment


def _base36(number: int) -> str:
    digits = string.digits + string.ascii_lowercase
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


def _hours(h: float) -> timedelta:
    return timedelta(hours=h)


class SpreadModel:
    """All simulated posts of the footage, generated once from a seed."""

    def __init__(
        self, seed: int = 2022, start: datetime = SCENARIO_START, extra_reposts: int = 0
    ) -> None:
        self.seed = seed
        self.start = start
        self.posts: dict[str, list[SimPost]] = {}
        for platform, build in _BUILDERS.items():
            rng = random.Random(f"{seed}:{platform}")
            self.posts[platform] = build(self, rng)
        if extra_reposts:
            self._add_copies(extra_reposts)
        self._by_id = {(p.platform, p.id): p for ps in self.posts.values() for p in ps}

    def visible(self, platform: str, now: datetime) -> list[SimPost]:
        """Posts of `platform` that exist at `now`, newest first."""
        found = [p for p in self.posts.get(platform, []) if p.is_visible(now)]
        return sorted(found, key=lambda p: p.created_at, reverse=True)

    def get(self, platform: str, post_id: str) -> SimPost | None:
        return self._by_id.get((platform, post_id))

    def footage_posts(self, now: datetime) -> list[SimPost]:
        """Every visible post that carries the footage (not noise), on every platform."""
        return [p for ps in self.posts.values() for p in ps if p.is_visible(now) and not p.is_noise]

    def at(self, hours: float) -> datetime:
        return self.start + _hours(hours)

    def _add_copies(self, count: int) -> None:
        """Scale the spread for benchmarks: `count` more reposts on platforms with numeric or
        base-36 ids, copies of the first footage post with new ids (after the seeded posts, so
        the seeded ones stay identical)."""
        for platform in ("hackernews", "mastodon", "reddit", "lemmy"):
            self.posts[platform] += self._copies(platform, range(count), None, None)

    def add_burst(self, platform: str, count: int, start: datetime, end: datetime) -> list[str]:
        """A volume switch: `count` new copies of the platform's first footage post, created
        evenly between `start` and `end` (a burst between two discovery passes). Returns
        their ids, newest last."""
        first = len(self.posts[platform]) + 1_000_000
        step = (end - start) / count
        made = self._copies(platform, range(first, first + count), start, step)
        self.posts[platform] += made
        self._by_id.update({(p.platform, p.id): p for p in made})
        return [p.id for p in made]

    def _copies(
        self, platform: str, numbers: range, start: datetime | None, step: timedelta | None
    ) -> list[SimPost]:
        original = next(p for p in self.posts[platform] if not p.is_noise and not p.parent_id)
        # Lemmy lists every same-link post as a crosspost: copies carry no link, or each
        # answer would list all of them.
        links = [] if platform == "lemmy" else original.links
        return [
            replace(
                original,
                id=_COPY_IDS[platform](n),
                parent_id=None,
                relation=None,
                gone_at=None,
                links=links,
                created_at=original.created_at
                if start is None or step is None
                else start + step * (i + 1),
            )
            for i, n in enumerate(numbers)
        ]


_COPY_IDS = {
    "hackernews": lambda n: str(40_000_000 + n),
    "mastodon": lambda n: str(120_000_000_000_000_000 + n),
    "reddit": lambda n: "zz" + _base36(n).rjust(4, "0"),
    "lemmy": lambda n: str(50_000 + n),
    "bluesky": lambda n: (
        f"at://did:plc:burst{_base36(n).rjust(19, '0')}/app.bsky.feed.post/3burst{_base36(n).rjust(7, '0')}"
    ),
    "youtube": lambda n: "b" + _base36(n).rjust(10, "0"),
}
"""New ids in each platform's form for copies of a post (benchmarks, bursts)."""


# --- helpers for builders -----------------------------------------------------------------

_NAMES = [
    "olena_k",
    "dmytro.v",
    "newsdesk_ua",
    "maria_lviv",
    "ivan_p",
    "kateryna",
    "osint_anna",
    "taras_b",
    "world_watch",
    "sofia.h",
    "andriy",
    "nadia_reports",
    "viktor_m",
    "halyna",
    "petro",
]


def _name(rng: random.Random) -> str:
    return f"{rng.choice(_NAMES)}{rng.randint(1, 99)}"


def _token(rng: random.Random, length: int, alphabet: str) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _text(rng: random.Random) -> str:
    pool = _TEXTS_EN * 3 + _TEXTS_UK + _TEXTS_RU
    return rng.choice(pool)


def _curves(rng: random.Random, spec: dict[str, int], mid: float = 8.0) -> dict[str, list[Curve]]:
    """Curves for the counters in `spec` (name -> rough final), with per-post variation."""
    factor = rng.lognormvariate(0, 0.8)
    midpoint = max(1.0, rng.uniform(0.5, 1.5) * mid)
    return {
        name: [Curve(int(final * factor), midpoint, max(0.5, midpoint / 3))]
        for name, final in spec.items()
    }


def _hashtags(text: str) -> list[str]:
    return [word[1:].rstrip(".,!") for word in text.split() if word.startswith("#")]


def _gone(rng: random.Random, created: datetime, share: float) -> datetime | None:
    """Some reposts are deleted or made private on days 2-7."""
    if rng.random() < share:
        return created + _hours(rng.uniform(30, 150))
    return None


# --- per-platform builders (timing from SCENARIO.md) ----------------------------------------

ALNUM = string.ascii_letters + string.digits


def _telegram(model: SpreadModel, rng: random.Random) -> list[SimPost]:
    origin = SimPost(
        platform="telegram",
        id="kyiv_witness/4182",
        author="kyiv_witness",
        channel="kyiv_witness",
        text="Полонений російський солдат дзвонить мамі. Жінки напоїли його чаєм і дали телефон.",
        created_at=model.at(0),
        curves={"views": [Curve(2_400_000, 6, 2)]},
    )
    posts = [origin]
    channels = ["ua_frontline_news", "odesa_daily", "lviv_live", "kharkiv_now", "war_monitor_ua"]
    for n, channel in enumerate(channels):
        created = model.at(rng.uniform(0.2, 5))
        posts.append(
            SimPost(
                platform="telegram",
                id=f"{channel}/{rng.randint(1000, 90000)}",
                author=channel,
                channel=channel,
                text=_text(rng) + f" {ORIGIN_TELEGRAM_URL}" * (n % 2),
                created_at=created,
                links=[ORIGIN_TELEGRAM_URL],
                parent_id=origin.id,
                relation="forward",
                curves={"views": [Curve(int(rng.uniform(80_000, 900_000)), 8, 3)]},
            )
        )
    posts.append(
        SimPost(
            platform="telegram",
            id=f"odesa_daily/{rng.randint(100, 999)}",
            author="odesa_daily",
            channel="odesa_daily",
            text=rng.choice(_NOISE_TEXTS),
            created_at=model.at(2),
            curves={"views": [Curve(5000, 5, 2)]},
            is_noise=True,
        )
    )
    return posts


def _x(model: SpreadModel, rng: random.Random) -> list[SimPost]:
    posts: list[SimPost] = []
    snowflake = 1498900000000000000
    for n in range(14):
        created = model.at(rng.uniform(1, 30))
        parent = posts[0].id if posts and n % 4 == 3 else None
        text = _text(rng)
        posts.append(
            SimPost(
                platform="x",
                id=str(snowflake + n * 7919 + rng.randint(0, 999)),
                author=_name(rng),
                text=text + (f" {ORIGIN_TELEGRAM_URL}" if n % 3 == 0 else ""),
                created_at=created,
                links=[ORIGIN_TELEGRAM_URL] if n % 3 == 0 else [],
                hashtags=_hashtags(text),
                parent_id=parent,
                relation="quote" if parent else None,
                curves=_curves(
                    rng,
                    {
                        "views": 900_000,
                        "likes": 40_000,
                        "shares": 9_000,
                        "comments": 2_000,
                        "quotes": 600,
                    },
                    mid=6,
                ),
                gone_at=_gone(rng, created, 0.15),
            )
        )
    posts.sort(key=lambda p: p.created_at)
    return posts


def _reddit(model: SpreadModel, rng: random.Random) -> list[SimPost]:
    first = SimPost(
        platform="reddit",
        id=_token(rng, 6, string.ascii_lowercase + string.digits),
        author=_name(rng),
        channel="ukraine",
        title="Captured Russian soldier calls his mom after Ukrainian women give him tea",
        text="",
        created_at=model.at(1.5),
        links=[FIRST_YOUTUBE_URL],
        curves=_curves(rng, {"likes": 45_000, "comments": 3_500, "shares": 6}, mid=7),
    )
    posts = [first]
    for subreddit in ["worldnews", "UkrainianConflict", "europe", "interestingasfuck"]:
        created = model.at(rng.uniform(2, 20))
        posts.append(
            SimPost(
                platform="reddit",
                id=_token(rng, 6, string.ascii_lowercase + string.digits),
                author=_name(rng),
                channel=subreddit,
                title=first.title or "",
                text="",
                created_at=created,
                links=[FIRST_YOUTUBE_URL],
                parent_id=first.id,
                relation="crosspost",
                curves=_curves(rng, {"likes": 8_000, "comments": 600, "shares": 0}, mid=8),
                gone_at=_gone(rng, created, 0.2),
            )
        )
    posts.append(
        SimPost(
            platform="reddit",
            id=_token(rng, 6, string.ascii_lowercase + string.digits),
            author=_name(rng),
            channel="ukraine",
            title="Captured Russian soldier calls his mother (another angle)",
            text="",
            created_at=model.at(5),
            links=["https://v.redd.it/" + _token(rng, 13, string.ascii_lowercase + string.digits)],
            curves=_curves(rng, {"likes": 12_000, "comments": 900, "shares": 2}, mid=8),
        )
    )
    return posts


def _youtube(model: SpreadModel, rng: random.Random) -> list[SimPost]:
    channels = [
        ("UCsmallRepost0000000001", "UA Clips", 2.5),
        ("UCsmallRepost0000000002", "Frontline Footage", 4),
        ("UCnewsChannel0000000001", "World News Tonight", 9),
        ("UCnewsChannel0000000002", "Global Report", 14),
        ("UCnewsChannel0000000003", "Euro Daily News", 20),
    ]
    posts = [
        SimPost(
            platform="youtube",
            id=FIRST_YOUTUBE_ID,
            author="UA Clips",
            channel="UCsmallRepost0000000001",
            title=_YOUTUBE_TITLES[0],
            text="Re-upload of the video from Telegram. " + ORIGIN_TELEGRAM_URL,
            created_at=model.at(2),
            links=[ORIGIN_TELEGRAM_URL],
            curves={
                "views": [Curve(1_800_000, 10, 3)],
                "likes": [Curve(52_000, 10, 3)],
                "comments": [Curve(7_400, 9, 3)],
            },
        )
    ]
    for channel_id, name, hour in channels[1:]:
        news = "news" in channel_id.lower()
        created = model.at(hour + rng.uniform(-0.5, 0.5))
        posts.append(
            SimPost(
                platform="youtube",
                id=_token(rng, 11, ALNUM + "-_"),
                author=name,
                channel=channel_id,
                title=rng.choice(_YOUTUBE_TITLES),
                text=f"Footage first shared on Telegram: {ORIGIN_TELEGRAM_URL}",
                created_at=created,
                links=[ORIGIN_TELEGRAM_URL],
                curves=_curves(
                    rng,
                    {
                        "views": 3_000_000 if news else 400_000,
                        "likes": 60_000 if news else 9_000,
                        "comments": 9_000 if news else 1_200,
                    },
                    mid=12,
                ),
                gone_at=None if news else _gone(rng, created, 0.5),
            )
        )
    late = SimPost(
        platform="youtube",
        id=_token(rng, 11, ALNUM + "-_"),
        author="Frontline Footage",
        channel="UCsmallRepost0000000002",
        title=_YOUTUBE_TITLES[1] + " (remastered)",
        text="Late re-upload",
        created_at=model.at(100),
        curves={
            "views": [Curve(150_000, 4, 1), Curve(90_000, 30, 6)],
            "likes": [Curve(3_000, 4, 1)],
            "comments": [Curve(400, 5, 1)],
        },
    )
    posts.append(late)
    return posts


def _fediverse(platform: str, instances: list[str], hour_range: tuple[float, float], count: int):
    def build(model: SpreadModel, rng: random.Random) -> list[SimPost]:
        posts: list[SimPost] = []
        for n in range(count):
            created = model.at(rng.uniform(*hour_range))
            text = _text(rng)
            links = [FIRST_YOUTUBE_URL] if n % 2 == 0 else [NEWS_ARTICLE_URL]
            parent = posts[0] if posts and n % 3 == 2 else None
            ms = int(created.timestamp() * 1000)
            post_id = (
                str((ms << 16) + rng.randint(0, 65535)) if platform == "mastodon" else str(1000 + n)
            )
            posts.append(
                SimPost(
                    platform=platform,
                    id=post_id,
                    author=_name(rng),
                    title=text[:80] if platform == "lemmy" else None,
                    text=f"{text} {links[0]}",
                    created_at=created,
                    links=links,
                    hashtags=_hashtags(text),
                    parent_id=parent.id if parent else None,
                    relation="quote" if parent else None,
                    instance=instances[n % len(instances)],
                    curves=_curves(
                        rng,
                        {"likes": 300, "shares": 150, "comments": 40, "quotes": 10}
                        if platform == "mastodon"
                        else {"likes": 250, "comments": 60},
                        mid=6,
                    ),
                    gone_at=_gone(rng, created, 0.1),
                )
            )
        noise_created = model.at(hour_range[0])
        posts.append(
            SimPost(
                platform=platform,
                id=str((int(noise_created.timestamp() * 1000) << 16) + 7)
                if platform == "mastodon"
                else "999",
                author=_name(rng),
                title="Tram news" if platform == "lemmy" else None,
                text=rng.choice(_NOISE_TEXTS),
                created_at=noise_created,
                instance=instances[0],
                curves={"likes": [Curve(5, 2, 1)], "comments": [Curve(1, 2, 1)]},
                is_noise=True,
            )
        )
        return posts

    return build


def _bluesky(model: SpreadModel, rng: random.Random) -> list[SimPost]:
    posts: list[SimPost] = []
    for n in range(8):
        created = model.at(rng.uniform(6, 26))
        did = "did:plc:" + _token(rng, 24, string.ascii_lowercase + "234567")
        tid = "3" + _token(rng, 12, "234567abcdefghijklmnopqrstuvwxyz")
        parent = posts[0] if posts and n % 3 == 2 else None
        text = _text(rng)
        posts.append(
            SimPost(
                platform="bluesky",
                id=f"at://{did}/app.bsky.feed.post/{tid}",
                author=f"{_name(rng).replace('_', '-').replace('.', '-')}.bsky.social",
                text=f"{text} {FIRST_YOUTUBE_URL}" if n % 2 == 0 else text,
                created_at=created,
                links=[FIRST_YOUTUBE_URL] if n % 2 == 0 else [],
                hashtags=_hashtags(text),
                parent_id=parent.id if parent else None,
                relation="quote" if parent else None,
                curves=_curves(
                    rng, {"likes": 900, "shares": 300, "comments": 80, "quotes": 40}, mid=6
                ),
                gone_at=_gone(rng, created, 0.1),
            )
        )
    posts.sort(key=lambda p: p.created_at)
    return posts


def _hackernews(model: SpreadModel, rng: random.Random) -> list[SimPost]:
    story = SimPost(
        platform="hackernews",
        id="30530112",
        author="pg_reader",
        title=_NEWS_TITLES[0],
        text="",
        created_at=model.at(10),
        links=[NEWS_ARTICLE_URL],
        curves={"likes": [Curve(480, 5, 1.5)], "comments": [Curve(310, 6, 2)]},
    )
    second = SimPost(
        platform="hackernews",
        id="30531877",
        author="throwaway_ua",
        title="Captured Russian soldier calls his mother - video",
        text="",
        created_at=model.at(14),
        links=[FIRST_YOUTUBE_URL],
        curves={"likes": [Curve(35, 3, 1)], "comments": [Curve(12, 3, 1)]},
    )
    noise = SimPost(
        platform="hackernews",
        id="30530555",
        author="someone",
        title="Show HN: A tiny tram timetable parser",
        text="",
        created_at=model.at(9),
        links=["https://github.example/tram"],
        curves={"likes": [Curve(40, 3, 1)], "comments": [Curve(9, 3, 1)]},
        is_noise=True,
    )
    return [story, second, noise]


def _news(model: SpreadModel, rng: random.Random) -> list[SimPost]:
    outlets = ["World Desk", "Daily Courier", "Euro Times", "Global Post"]
    posts = []
    for n, outlet in enumerate(outlets):
        created = model.at(rng.uniform(6, 24))
        posts.append(
            SimPost(
                platform="rss",
                id=f"https://news.example-outlet.com/{n}/captured-soldier-{n}",
                author=outlet,
                channel=outlet,
                title=_NEWS_TITLES[n % len(_NEWS_TITLES)],
                text="Footage of a captured Russian soldier who calls his mother is spreading. "
                + FIRST_YOUTUBE_URL,
                created_at=created,
                links=[FIRST_YOUTUBE_URL if n % 2 else NEWS_ARTICLE_URL],
            )
        )
    return posts


def _dailymotion(model: SpreadModel, rng: random.Random) -> list[SimPost]:
    posts = []
    for n in range(3):
        created = model.at(rng.uniform(4, 30))
        posts.append(
            SimPost(
                platform="dailymotion",
                id="x8" + _token(rng, 5, string.ascii_lowercase + string.digits),
                author=_name(rng),
                title=_YOUTUBE_TITLES[n],
                text="",
                created_at=created,
                curves=_curves(rng, {"views": 60_000, "likes": 800}, mid=10),
                gone_at=_gone(rng, created, 0.2),
            )
        )
    return posts


def _tiktok(model: SpreadModel, rng: random.Random) -> list[SimPost]:
    posts = []
    for _n in range(6):
        created = model.at(rng.uniform(3, 40))
        text = _text(rng)
        posts.append(
            SimPost(
                platform="tiktok",
                id=str(7070000000000000000 + rng.randint(0, 10**15)),
                author=_name(rng),
                text=text,
                created_at=created,
                hashtags=_hashtags(text),
                curves=_curves(
                    rng,
                    {"views": 2_000_000, "likes": 180_000, "shares": 20_000, "comments": 6_000},
                    mid=8,
                ),
                gone_at=_gone(rng, created, 0.2),
            )
        )
    return posts


MASTODON_INSTANCES = ["social-a", "social-b"]
LEMMY_INSTANCES = ["lemmy-a", "lemmy-b"]

_BUILDERS = {
    "telegram": _telegram,
    "x": _x,
    "reddit": _reddit,
    "youtube": _youtube,
    "mastodon": _fediverse("mastodon", MASTODON_INSTANCES, (6, 24), 9),
    "lemmy": _fediverse("lemmy", LEMMY_INSTANCES, (9, 30), 4),
    "bluesky": _bluesky,
    "hackernews": _hackernews,
    "rss": _news,
    "dailymotion": _dailymotion,
    "tiktok": _tiktok,
}
