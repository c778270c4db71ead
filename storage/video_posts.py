"""Which posts belong to which tracked video: the one place queries select "a video's posts".

A post carries every video it matched (`post_videos`), so a query over posts and videos yields
one row per (post, video) pair: each video counts a shared post. Readers and the writer build
their per-video selections here, so the rule lives in one place.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from storage.models import Post, PostVideo, TrackedVideo

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


def join_videos(query: Select[Any]) -> Select[Any]:
    """`query` over posts joined with each video the post matched (one row per pair)."""
    return query.join(PostVideo, PostVideo.post_id == Post.id).join(
        TrackedVideo, TrackedVideo.id == PostVideo.video_id
    )


def post_ids_of(video_id: Any) -> Select[Any]:
    """The ids of a video's posts, for `Post.id.in_(…)` (video_id: a value or a column)."""
    return select(PostVideo.post_id).where(PostVideo.video_id == video_id)
