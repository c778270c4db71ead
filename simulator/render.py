"""Small formatting helpers shared by the platform modules."""

from __future__ import annotations

import html
from datetime import UTC, datetime


def iso_ms(moment: datetime) -> str:
    """2022-03-02T06:00:00.000Z, the millisecond ISO form most JSON APIs send."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def linkify_html(text: str) -> str:
    """Text as Mastodon-style HTML: escaped, links and hashtags wrapped in anchors."""
    words = []
    for word in text.split(" "):
        if word.startswith(("http://", "https://")):
            safe = html.escape(word)
            words.append(f'<a href="{safe}" rel="nofollow noopener" target="_blank">{safe}</a>')
        elif word.startswith("#") and len(word) > 1:
            tag = html.escape(word[1:])
            words.append(
                f'<a href="https://example.social/tags/{tag}" class="mention hashtag" '
                f'rel="tag">#<span>{tag}</span></a>'
            )
        else:
            words.append(html.escape(word))
    return "<p>" + " ".join(words) + "</p>"
