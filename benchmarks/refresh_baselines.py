"""The baselines a refresh pass is measured against, each reading the same posts from the same
loopback server and storing their counters in SQLite (issue 14):

- a hand-written pipeline: aiohttp, orjson and one `sqlite3.executemany` per pass (the ceiling);
- PRAW `info(fullnames=…)`, Mastodon.py `statuses(ids)` and the atproto SDK `get_posts`, run
  unmodified through their own base-URL settings, storing with `sqlite3.executemany`.

Each returns the posts it stored. A comparison whose package is missing is skipped by the caller
(`installed`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

import orjson

from benchmarks.loopback_platforms import bluesky_uri

BATCH = {"mastodon": 20, "reddit": 100, "bluesky": 25}
Row = tuple[str, float, int | None, int | None, int | None, int | None]


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def observations_db(path: str) -> sqlite3.Connection:
    """A SQLite file with the observations table the baselines write to."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS obs (post TEXT, observed_at REAL, likes INT, shares INT, "
        "comments INT, quotes INT)"
    )
    return conn


def store(conn: sqlite3.Connection, rows: Iterable[Row]) -> int:
    with conn:
        return conn.executemany("INSERT INTO obs VALUES (?, ?, ?, ?, ?, ?)", rows).rowcount


def batches(platform: str, ids: Sequence[str]) -> list[Sequence[str]]:
    """`ids` cut into the platform's batch size, as every reader here asks for them."""
    size = BATCH[platform]
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def batch_urls(platform: str, base: str, ids: Sequence[str]) -> list[str]:
    urls = []
    for chunk in batches(platform, ids):
        if platform == "mastodon":
            urls.append(
                f"{base}/mastodon/api/v1/statuses?" + urlencode([("id[]", i) for i in chunk])
            )
        elif platform == "reddit":
            fullnames = ",".join(f"t3_{i}" for i in chunk)
            urls.append(f"{base}/reddit/api/info?" + urlencode({"id": fullnames}))
        else:
            query = urlencode([("uris", bluesky_uri(i)) for i in chunk])
            urls.append(f"{base}/bluesky/xrpc/app.bsky.feed.getPosts?{query}")
    return urls


def _rows(platform: str, document: Any, now: float) -> list[Row]:
    if platform == "mastodon":
        return [
            (s["uri"], now, s["favourites_count"], s["reblogs_count"], s["replies_count"],
             s.get("quotes_count"))
            for s in document
        ]  # fmt: skip
    if platform == "reddit":
        return [
            (c["data"]["id"], now, c["data"]["score"], c["data"]["num_crossposts"],
             c["data"]["num_comments"], None)
            for c in document["data"]["children"]
        ]  # fmt: skip
    return [
        (p["uri"], now, p["likeCount"], p["repostCount"], p["replyCount"], p["quoteCount"])
        for p in document["posts"]
    ]


async def handwritten(
    platform: str, base: str, ids: Sequence[str], conn: sqlite3.Connection, in_flight: int
) -> int:
    """Fetch every batch (`in_flight` at once), decode with orjson, one executemany."""
    import aiohttp

    limit = asyncio.Semaphore(in_flight)
    now = time.time()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as session:

        async def one(url: str) -> list[Row]:
            async with limit, session.get(url) as response:
                return _rows(platform, orjson.loads(await response.read()), now)

        answers = await asyncio.gather(*(one(u) for u in batch_urls(platform, base, ids)))
    return store(conn, (row for rows in answers for row in rows))


def praw_info(base: str, ids: Sequence[str], conn: sqlite3.Connection) -> int:
    import praw

    reddit = praw.Reddit(
        client_id="bench",
        client_secret="bench",  # noqa: S106 (the loopback server's, not a secret)
        user_agent="viralwatch-bench",
        oauth_url=f"{base}/reddit",
        reddit_url=f"{base}/reddit",
    )
    now = time.time()
    submissions = reddit.info(fullnames=[f"t3_{i}" for i in ids])
    rows = [(s.id, now, s.score, s.num_crossposts, s.num_comments, None) for s in submissions]
    return store(conn, rows)


def mastodon_py_statuses(base: str, ids: Sequence[str], conn: sqlite3.Connection) -> int:
    from mastodon import Mastodon

    api = Mastodon(api_base_url=f"{base}/mastodon")
    now = time.time()
    statuses = [s for batch in batches("mastodon", ids) for s in api.statuses(list(batch))]
    rows = [
        (s.uri, now, s.favourites_count, s.reblogs_count, s.replies_count, None) for s in statuses
    ]
    return store(conn, rows)


def atproto_get_posts(base: str, ids: Sequence[str], conn: sqlite3.Connection) -> int:
    from atproto import Client

    client = Client(base_url=f"{base}/bluesky/xrpc")
    now = time.time()
    uris = ([bluesky_uri(i) for i in batch] for batch in batches("bluesky", ids))
    posts = [p for batch in uris for p in client.get_posts(batch).posts]
    return store(
        conn,
        [(p.uri, now, p.like_count, p.repost_count, p.reply_count, p.quote_count) for p in posts],
    )


# platform -> (package, label, function) of the SDK compared on that platform.
SDKS: dict[str, tuple[str, str, Callable[[str, Sequence[str], sqlite3.Connection], int]]] = {
    "reddit": ("praw", "PRAW info(fullnames=...)", praw_info),
    "mastodon": ("mastodon", "Mastodon.py statuses(ids)", mastodon_py_statuses),
    "bluesky": ("atproto", "atproto SDK get_posts", atproto_get_posts),
}
