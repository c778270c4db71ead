"""Engine factory: stored JSON values read back the same whichever decoder reads them."""

from __future__ import annotations

from collectors.base import PostRef
from storage.db import _load_json
from storage.write import VideoInput

EXTRAS = [
    {},
    {"instance": "https://social.example", "id": "113000000000000001"},
    {"kind": "repost", "n": 2**63 - 1, "edge": True, "none": None},
    {"text": "naïve 😀 \u2028", "nested": {"list": [1, 2.5, "x"]}},
]


def test_post_extras_read_back_as_written(sink, clock):
    # Issue 14: extras are decoded by orjson on the refresh hot path.
    sink.add_video(VideoInput("v", "v"))
    sink.record_posts("v", [PostRef("mastodon", f"p{n}", extra=e) for n, e in enumerate(EXTRAS)])
    due = sink.claim_refresh("mastodon", 100)
    assert [p.extra for p in sorted(due, key=lambda p: p.platform_post_id)] == EXTRAS


def test_an_extra_holding_nan_is_still_read():
    # stdlib json writes NaN, which orjson refuses: the fallback reads it.
    assert str(_load_json('{"ratio": NaN}')["ratio"]) == "nan"
