"""Discovery that does not miss bursts: a query's results are read newest first, page by page,
until the posts reach what an earlier pass already read (the query's high-water mark) or the
video's start, at most `max_pages` pages per pass. A pass that stops at its page cap keeps its
cursor, and the next pass continues from there until the gap is closed (issue 8).

Collectors own their cursors (a page number, a `max_id`, a `next_token`, a timestamp); this
module only decides where to begin and when to stop, so every paging API shares one rule.
Storage keeps the marks (storage/discovery_marks.py); a video without marks (a collector called
directly) reads back to the video's start within the page cap, as before marks existed.

Collectors that page with it: hackernews (`created_at_i<=`, since Algolia stops at 1,000 hits
by page number), reddit (`after`), youtube (`pageToken`), bluesky (`cursor`), mastodon (`max_id`
for hashtags, `offset` for search), lemmy (`page`), x (`until_id`), telegram (`before=`) and
dailymotion (`created_before`). Those that cannot: `rss` and `youtube_rss` (a feed is one document
of its newest entries, with no older pages), `urls` (reads hand-added links, no search) and
`tiktok` (the Research API returns a query's videos in no documented order, so no publication
time bounds what is left, and its `cursor` lives only with a short-lived `search_id`: each pass
reads its 30-day windows afresh, within its page cap).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from collectors.base import QueryMark, TrackedVideo

T = TypeVar("T")

OVERLAP = timedelta(minutes=15)
"""How far below its mark a sweep still reads: search indexes list some posts late, with a
creation time older than posts already seen."""


@dataclass(slots=True)
class Page(Generic[T]):
    """One page of results, newest first, and the cursor of the next older page (None: last)."""

    items: list[T]
    times: list[datetime | None] = field(default_factory=list)
    """Publication times of `items` (None where unknown)."""
    next: str | None = None

    @property
    def newest(self) -> datetime | None:
        known = [t for t in self.times if t is not None]
        return max(known) if known else None

    @property
    def oldest(self) -> datetime | None:
        known = [t for t in self.times if t is not None]
        return min(known) if known else None


async def sweep(
    video: TrackedVideo,
    query: str,
    read_page: Callable[[str | None], Awaitable[Page[T] | None]],
    max_pages: int,
) -> list[T]:
    """The items of `query` not read by an earlier pass (and a little overlap), newest first.

    `read_page(None)` reads the newest page; `read_page(page.next)` the one after; it returns
    None when its budget is spent (the pass stops there, as at its page cap). The query's mark
    on `video` is updated in place (the runner stores it once the posts are stored).
    """
    mark = video.marks.setdefault(query, QueryMark()) if video.marks is not None else QueryMark()
    floors = [t for t in (mark.floor and mark.floor - OVERLAP, video.started_at) if t]
    floor = max(floors) if floors else None
    cursor = mark.resume
    top = mark.top if cursor is not None else None
    items: list[T] = []
    for _ in range(max_pages):
        page = await read_page(cursor)
        if page is None:
            break
        items += page.items
        newest = page.newest
        if newest is not None and (top is None or newest > top):
            top = newest
        oldest = page.oldest
        reached = floor is not None and oldest is not None and oldest <= floor
        if reached or page.next is None or not page.items:
            # The gap down to the mark is closed: everything up to `top` has been read.
            mark.floor = max(t for t in (top, mark.floor) if t) if top or mark.floor else None
            mark.top, mark.resume = None, None
            return items
        cursor = page.next
    mark.top, mark.resume = top, cursor
    return items
