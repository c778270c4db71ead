"""The one place that decides whether a post carries a tracked video, and why.

- URLs: every link of the post (its links plus URLs written out in its text) is compared with
  each video URL in canonical form (`collectors.identity.canonical_url`): the same page, or the
  same platform post (`youtu.be/ID?si=…` is `youtube.com/watch?v=ID`). Never substrings, so
  `t.me/kyiv_witness/418` is not `t.me/kyiv_witness/41821`.
- Text is compared after Unicode NFKC normalisation and case folding (typographic apostrophes
  become `'`), so full-width letters, ligatures and case never hide a match.
- Keyword phrases match whole words in any script (Python's Unicode `\\w`: Latin, Cyrillic, …),
  any run of whitespace between words: "ukraine war" does not match "ukraine warships".
- Hashtags match whole tags: `#kyiv` matches "#Kyiv" but not "#kyivcity" or "mykyiv".
The order is URL, hashtag, keyword: the strongest evidence is the one recorded.
Callers hand over decoded plain text (see `collectors.text`), never HTML.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from collectors.base import TrackedVideo
from collectors.identity import canonical_url, urls_in_text

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def normalise_text(text: str) -> str:
    """NFKC-normalised, case-folded text with one kind of apostrophe."""
    return unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()


def phrase_pattern(phrase: str) -> re.Pattern[str] | None:
    """Whole-word pattern for a keyword phrase (None for a phrase with no words)."""
    words = normalise_text(phrase).split()
    if not words:
        return None
    return re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)")


def hashtag_pattern(tag: str) -> re.Pattern[str] | None:
    """Whole-tag pattern for a hashtag given with or without '#'."""
    name = normalise_text(tag).strip().lstrip("#")
    if not name:
        return None
    return re.compile(r"(?<![\w#])#" + re.escape(name) + r"(?!\w)")


@dataclass(frozen=True, slots=True)
class _Terms:
    urls: dict[str, str]
    hashtags: tuple[tuple[str, re.Pattern[str]], ...]
    keywords: tuple[tuple[str, re.Pattern[str]], ...]


@lru_cache(maxsize=256)
def _terms(video: TrackedVideo) -> _Terms:
    urls: dict[str, str] = {}
    for url in video.urls:
        urls.setdefault(canonical_url(url), url)
    return _Terms(
        urls=urls,
        hashtags=tuple((t, p) for t in video.hashtags if (p := hashtag_pattern(t))),
        keywords=tuple((k, p) for k in video.keywords if (p := phrase_pattern(k))),
    )


def matches_video(text: str | None, links: Sequence[str], video: TrackedVideo) -> str | None:
    """How a post matches `video` ("url:…", "hashtag:…", "keyword:…"), or None."""
    terms = _terms(video)
    if terms.urls:
        for link in [*links, *urls_in_text(text or "")]:
            found = terms.urls.get(canonical_url(link))
            if found is not None:
                return f"url:{found}"
    normalised = normalise_text(text or "")
    for tag, pattern in terms.hashtags:
        if pattern.search(normalised):
            return f"hashtag:{tag}"
    for phrase, pattern in terms.keywords:
        if pattern.search(normalised):
            return f"keyword:{phrase}"
    return None
