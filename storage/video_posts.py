"""Which posts belong to which tracked video: the one place queries select "a video's posts".

A post carries every video it matched (`post_videos`), so a query over posts and videos yields
one row per (post, video) pair: each video counts a shared post. Readers and the writer build
their per-video selections here, so the rule lives in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Select, func, select

from storage.models import Post, PostVideo, TrackedVideo

# Post ids per IN (...) lookup: well under SQLite's bound-parameter limit.
LOOKUP_CHUNK = 500
# Stored `matched_by` kinds (post_videos.matched_by) and how pages and exports name them.
MATCH_LABELS = {
    "url": "URL",
    "keyword": "keyword",
    "hashtag": "hashtag",
    "manual": "hand-added",
    "cascade": "reshare of a matched post",
}


def split_match(matched_by: str) -> tuple[str, str]:
    """A collector's `PostRef.matched_by` ("url:https://…", "keyword:kyiv", "manual") as the
    stored (kind, term) pair."""
    kind, _, term = matched_by.partition(":")
    if kind not in MATCH_LABELS:
        # An unknown reason is kept whole rather than cut at a colon that may belong to it.
        return matched_by, ""
    return kind, term


def join_videos(query: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    """`query` over posts joined with each video the post matched (one row per pair)."""
    return query.join(PostVideo, PostVideo.post_id == Post.id).join(
        TrackedVideo, TrackedVideo.id == PostVideo.video_id
    )


def post_ids_of(video_id: Any) -> Select[Any]:
    """The ids of a video's posts, for `Post.id.in_(…)` (video_id: a value or a column)."""
    return select(PostVideo.post_id).where(PostVideo.video_id == video_id)


@dataclass(frozen=True, slots=True)
class MatchRow:
    """One video a post matched, and why."""

    post_id: int
    video: str
    title: str
    matched_by: str
    matched_term: str
    first_matched_at: datetime

    @property
    def reason(self) -> str:
        """How pages and exports say it: "keyword: bridge collapse", "hand-added"."""
        label = MATCH_LABELS.get(self.matched_by, self.matched_by or "unknown")
        return f"{label}: {self.matched_term}" if self.matched_term else label


def post_matches(engine: Engine, post_ids: Sequence[int]) -> dict[int, list[MatchRow]]:
    """Every video each post matched, oldest link first."""
    ids = list(dict.fromkeys(post_ids))
    query = select(
        PostVideo.post_id,
        TrackedVideo.slug,
        TrackedVideo.title,
        PostVideo.matched_by,
        PostVideo.matched_term,
        PostVideo.first_matched_at,
    ).join(TrackedVideo, TrackedVideo.id == PostVideo.video_id)
    found: dict[int, list[MatchRow]] = {}
    with engine.connect() as conn:
        for start in range(0, len(ids), LOOKUP_CHUNK):
            chunk = query.where(PostVideo.post_id.in_(ids[start : start + LOOKUP_CHUNK]))
            for row in conn.execute(chunk.order_by(PostVideo.first_matched_at, TrackedVideo.id)):
                found.setdefault(row[0], []).append(MatchRow(*row))
    return found


def one_row_per_post(query: Select[Any]) -> Select[Any]:
    """`query` from join_videos, kept to each post's oldest video: for reads of posts as such
    (a post page, a post's children), where a shared post must not appear twice."""
    first = (
        select(func.min(PostVideo.video_id))
        .where(PostVideo.post_id == Post.id)
        .correlate(Post)
        .scalar_subquery()
    )
    return query.where(PostVideo.video_id == first)
