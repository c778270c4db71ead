"""Feed parsing stays linear in hostile person fields (issue 13), as ratios in one run.

- rss.parse_feed on a feed whose `<author>` / `<dc:creator>` is 100 KB, against the same feed
  with a 10-character author (target: a ratio near 1, whatever the field's length);
- bare feedparser on a 20 KB author against the same baseline: the quadratic cost that
  `collectors.feed_limits` removes (about 10,000x at 20 KB; 77 s at 100 KB were reported).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import feedparser

from collectors.rss import parse_feed
from simulator.news import one_item_rss


def _best_seconds(work: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def run() -> dict[str, dict[str, float]]:
    baseline = _best_seconds(lambda: parse_feed(one_item_rss("author", "a" * 10)))
    figures = {"baseline ms (10-char author)": baseline * 1000}
    for tag in ("author", "dc:creator"):
        hostile = one_item_rss(tag, "a" * 100_000)
        figures[f"ratio {tag} 100 KB / baseline"] = (
            _best_seconds(lambda body=hostile: parse_feed(body)) / baseline
        )
    raw = one_item_rss("author", "a" * 20_000)
    bare = _best_seconds(lambda: feedparser.parse(io.BytesIO(raw)), repeat=1)
    figures["ratio bare feedparser author 20 KB / baseline"] = bare / baseline
    return {"parsers.feed": figures}
