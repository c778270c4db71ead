"""What a rule finds: the items an alert reports and the scope it was evaluated in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from storage.read import PostRow


@dataclass(frozen=True, slots=True)
class Item:
    """One thing an alert reports: a platform, a post, an account or a collector.

    `subject` is its identity for de-duplication. `label`, `detail` and `url` may hold untrusted
    post text and are escaped by the renderer for each target's format.
    """

    subject: str
    label: str
    numbers: dict[str, float] = field(default_factory=dict)
    detail: str | None = None
    url: str | None = None
    path: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule found for one video: a headline built from our own words and numbers."""

    headline: str
    numbers: dict[str, float] = field(default_factory=dict)
    items: tuple[Item, ...] = ()
    once_per_subject: bool = False
    """Items already named by an earlier alert of the rule and video are dropped."""
    period_key: str | None = None
    """Digests: one alert per period, whatever the cooldown."""
    path: str = "/"


@dataclass(frozen=True, slots=True)
class Scope:
    engine: Engine
    video: str
    now: datetime
    zone: ZoneInfo


def post_item(post: PostRow, numbers: dict[str, float]) -> Item:
    """A post as an alert item: its platform and author, text and URL (untrusted), its page."""
    # Keyed by our post id, not the platform's: a post shared by two videos is one subject each.
    return Item(
        f"post:{post.id}",
        f"{post.platform} post by {post.author or 'unknown'}",
        numbers,
        detail=post.text,
        url=post.url,
        path=f"/posts/{post.id}",
    )
